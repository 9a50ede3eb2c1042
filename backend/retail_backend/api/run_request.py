"""What a ``POST /run-etl`` asks for: the mode, how long to wait, and an idempotency key.

``curl -X POST`` with no body must work, and so must the ways people pass a field with curl:
``?mode=full``, ``-d mode=full``, ``-d '{"mode": "full"}'`` with or without a JSON content type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from flask import Request

from ..etl.pipeline import MODES
from . import params
from .errors import bad_request

MAX_WAIT = 60.0  # nginx gives /api/ 75 s to answer
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # visible ASCII, as long as etl_runs keeps it
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class RunRequest:
    """A checked request to start a run."""

    mode: str
    wait: float
    idempotency_key: str | None


def _body_fields(request: Request) -> dict:
    raw = request.get_data(cache=True)
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return {}
    if request.mimetype in _FORMS and not text.startswith("{"):
        return request.form.to_dict()
    try:
        fields = json.loads(text)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        raise bad_request('the body must be empty or a JSON object like {"mode": "full"}')
    return fields


def _body_mode(request: Request) -> str | None:
    fields = _body_fields(request)
    unknown = sorted(set(fields) - {"mode"})
    if unknown:
        # A misspelt field must not quietly start an incremental run instead of a full one.
        raise bad_request(f"the body may only hold mode, not {', '.join(map(repr, unknown))}")
    if "mode" in fields and not isinstance(fields["mode"], str):
        raise bad_request("mode in the body must be a string")
    if fields.get("mode") == "":  # unlike an empty query parameter, a field the body names
        raise bad_request(f"mode must be one of {', '.join(MODES)}, not empty")
    return fields.get("mode")


def _mode(request: Request) -> str:
    in_query = request.args.get("mode") or None
    in_body = _body_mode(request)
    if in_query and in_body and in_query != in_body:
        raise bad_request(f"mode is {in_query!r} in the query but {in_body!r} in the body")
    return params.choice(in_query or in_body, "mode", MODES, "incremental")


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY.match(key):
        raise bad_request(
            "Idempotency-Key must be 1 to 128 visible ASCII characters (a UUID, for example)"
        )
    return key


def parse_run_request(request: Request, wait_max: float) -> RunRequest:
    """Parse and check a POST /run-etl request."""
    return RunRequest(
        mode=_mode(request),
        wait=params.seconds(request.args, "wait", min(wait_max, MAX_WAIT)),
        idempotency_key=_idempotency_key(request),
    )
