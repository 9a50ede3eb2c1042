"""Bearer tokens: ``API_TOKEN`` guards starting runs, ``API_READ_TOKEN`` (if set) guards reads.

With neither set the API is open, as on a developer's machine; the deployment sets both.
The write token is accepted for reads too. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

from flask import request

from ..extensions import settings
from .errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="retail-api"'}


def _presented_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    # Only spaces and tabs (RFC 7230 whitespace): str.strip() would also drop a no-break
    # space or control characters, accepting a token that is not exactly the one configured.
    token = token.strip(" \t")
    return token if scheme.lower() == "bearer" and token else None


def _matches(presented: str, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8")
    )


def _refuse(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers=_CHALLENGE)


def _require(accepted: tuple[str | None, ...], action: str) -> None:
    presented = _presented_token()
    if presented is None:
        raise _refuse(f"{action} needs an Authorization: Bearer <token> header.")
    # Compare against every accepted token, so the time taken does not tell which one matched.
    results = [_matches(presented, token) for token in accepted]
    if not any(results):
        raise _refuse(f"The bearer token is not valid for {action}.")


def require_read_token() -> None:
    """Refuse a read without a valid token when API_READ_TOKEN is set."""
    current = settings()
    if current.api_read_token:
        _require((current.api_read_token, current.api_token), "reading")


def require_write_token() -> None:
    """Refuse to start a run without the API_TOKEN when it is set."""
    current = settings()
    if current.api_token:
        _require((current.api_token,), "starting a run")
