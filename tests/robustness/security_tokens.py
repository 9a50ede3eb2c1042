"""The API tokens the security tests configure, then look for where they must not appear."""

from __future__ import annotations

RUN_TOKEN = "sec-run-token-4f1e9a"
READ_TOKEN = "sec-read-token-b27c33"
