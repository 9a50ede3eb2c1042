"""The operations of the API for the OpenAPI document: parameters, responses, headers."""

from __future__ import annotations

from ..etl.pipeline import MODES
from ..etl.rules import REASONS
from ..queries.sales_model import GROUPS
from .openapi_spec import SORTS, STRING, closed, json_content, ref
from .sales_query import FORMATS, MAX_LIMIT, MAX_OFFSET

COMMON_HEADERS = {
    "X-Request-ID": {"required": True, "schema": STRING, "description": "Echoed or made."},
    "X-Served-By": {"required": True, "schema": STRING, "description": "The replica."},
}
LOCATION = {"required": True, "schema": STRING, "description": "The run, under the prefix."}
RETRY_AFTER = {"required": True, "schema": {"type": "string", "pattern": r"^\d+$"}}
SECURED = [{}, {"bearer": []}]  # tokens are optional: API_TOKEN / API_READ_TOKEN turn them on


def query(name: str, schema: dict, description: str) -> dict:
    """An optional query parameter; an empty value (``?from=``) counts as absent."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "schema": schema,
        "description": description,
    }


# RFC 8288: the first, prev, next and last pages (api/links.py).
LINK = {
    "required": True,
    "schema": STRING,
    "description": 'Pages as <url>; rel="first", "prev", "next", "last".',
}


def answer(description: str, schema: dict | None = None, **headers: dict) -> dict:
    """A response, with the headers every response has."""
    response = {"description": description, "headers": {**COMMON_HEADERS, **headers}}
    if schema is not None:
        response["content"] = json_content(schema)
    return response


def errors(*statuses: int) -> dict:
    """Error responses, all with the Error body."""
    text = {
        400: "A malformed or contradictory parameter.",
        401: "A token is required and was missing or wrong.",
        404: "No such resource.",
        409: "A run is already in progress.",
        413: "The body is too large.",
        503: "A database is unavailable.",
    }
    return {str(status): answer(text[status], ref("Error")) for status in statuses}


PAGING = [
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "Rows per page."),
    query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}, "Rows to skip."),
]
TEXT_FILTER = {"type": "string", "maxLength": 256}
SALES_PARAMETERS = [
    query(
        "group_by",
        {"type": "string", "enum": list(GROUPS)},
        "One row per product (default), day, month or country.",
    ),  # noqa: E501
    query("from", {"type": "string", "format": "date"}, "First day, inclusive."),
    query("to", {"type": "string", "format": "date"}, "Last day, inclusive."),
    query("country", TEXT_FILTER, "Exact country name."),
    query("product", TEXT_FILTER, "Exact stock code."),
    query("sort", {"type": "string", "enum": SORTS}, "A field of the row; - for descending."),
    *PAGING,
    query("format", {"type": "string", "enum": list(FORMATS)}, "json (default) or csv."),
]
RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}  # noqa: E501

PATHS = {
    "/sales": {
        "get": {
            "operationId": "getSales",
            "summary": "Aggregated sales, one page, with totals over every matching row.",
            "security": SECURED,
            "parameters": SALES_PARAMETERS,
            "responses": {
                "200": {
                    **answer(
                        "A page of rows.",
                        ETag={"required": True, "schema": STRING},
                        Link=LINK,
                    ),
                    "content": {
                        **json_content(ref("SalesPage")),
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "304": answer("Unchanged since the ETag sent in If-None-Match."),
                **errors(400, 401, 503),
            },
        }
    },
    "/run-etl": {
        "post": {
            "operationId": "runEtl",
            "summary": "Start a run (202), or report the one already going (409).",
            "security": SECURED,
            "parameters": [
                query("mode", {"type": "string", "enum": list(MODES)}, "Default incremental."),
                query("wait", {"type": "number", "minimum": 0}, "Seconds to wait (capped)."),
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": r"^[!-~]{1,128}$"},
                },
            ],
            "requestBody": {
                "required": False,
                "content": json_content(
                    closed({"mode": {"type": "string", "enum": list(MODES)}}, optional=("mode",))
                ),
            },
            "responses": {
                "200": answer("The run, finished.", ref("Run"), Location=LOCATION),
                "202": answer(
                    "The run, still going.",
                    ref("Run"),
                    Location=LOCATION,
                    **{"Retry-After": RETRY_AFTER},  # noqa: E501
                ),
                **errors(400, 401, 409, 413, 503),
            },
        }
    },
    "/etl-runs": {
        "get": {
            "operationId": "listRuns",
            "summary": "Runs, newest first.",
            "security": SECURED,
            "parameters": PAGING,
            "responses": {
                "200": answer("A page of runs.", ref("RunPage"), Link=LINK),
                **errors(400, 401, 503),
            },
        }
    },
    "/etl-runs/{run_id}": {
        "get": {
            "operationId": "getRun",
            "summary": "One run: status, stage, rows so far, counts, error.",
            "security": SECURED,
            "parameters": [RUN_ID],
            "responses": {"200": answer("The run.", ref("Run")), **errors(401, 404, 503)},
        }
    },
    "/etl-runs/{run_id}/rejects": {
        "get": {
            "operationId": "listRejects",
            "summary": "The lines a run rejected, with the reason.",
            "security": SECURED,
            "parameters": [
                RUN_ID,
                *PAGING,
                query("reason", {"type": "string", "enum": list(REASONS)}, "Only this reason."),
            ],
            "responses": {
                "200": answer("A page of rejected lines.", ref("RejectPage")),
                **errors(400, 401, 404, 503),
            },
        }
    },
    "/health": {
        "get": {
            "operationId": "health",
            "summary": "Liveness; touches no database.",
            "responses": {"200": answer("Alive.", ref("Health"))},
        }
    },
    "/ready": {
        "get": {
            "operationId": "ready",
            "summary": "Readiness: both databases answer within a short timeout.",
            "responses": {
                "200": answer("Both databases answer.", ref("Ready")),
                "503": answer("A database does not answer.", ref("NotReady")),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics of every worker.",
            "responses": {
                "200": {
                    **answer("Prometheus text format."),
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "responses": {
                "200": {
                    **answer("OpenAPI 3."),
                    "content": json_content({"type": "object"}),
                }
            },
        }
    },
}
