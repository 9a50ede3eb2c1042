"""The schemas of the OpenAPI 3 document (docs/api.md in machine-checkable form).

Strict on purpose: every response object lists its ``required`` fields and forbids others
(``additionalProperties: false``), and every closed set of values is an enum, so the contract
test (schemathesis) catches a wrong answer, not only a crash. Built from the same constants the
code uses (row fields, sort fields, reject reasons, modes), so the two cannot drift apart.
"""

from __future__ import annotations

from ..etl.pipeline import MODES
from ..etl.rules import REASONS
from ..queries.sales_model import FIELDS, GROUPS, MEASURES
from .sales_query import MAX_LIMIT
from .serialize import RUN_FIELDS

ERROR_CODES = [
    "bad_request", "unauthorized", "not_found", "method_not_allowed", "run_in_progress",
    "payload_too_large", "unsupported_media_type", "database_unavailable", "internal_error",
]  # fmt: skip
STRING = {"type": "string"}
COUNT = {"type": "integer", "minimum": 0}
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "1234.50"}
DATE = {"type": "string", "format": "date"}
TIME = {"type": "string", "format": "date-time"}


def nullable(schema: dict) -> dict:
    """Allow null besides ``schema`` (OpenAPI 3.0 style)."""
    return {**schema, "nullable": True}


def closed(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    """An object with exactly these properties, all required but ``optional``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }


def ref(name: str) -> dict:
    """Point at a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict) -> dict:
    """The content map of a JSON body."""
    return {"application/json": {"schema": schema}}


MEASURE_SCHEMAS = {
    "total_quantity": COUNT,
    "total_sale_amount": MONEY,
    "orders": COUNT,
    "returned_quantity": COUNT,
    "returned_amount": MONEY,
}
KEY_SCHEMAS = {
    "product_id": STRING,
    "description": STRING,
    "date": DATE,
    "month": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
    "country": STRING,
}
SORTS = [f"{sign}{field}" for fields in FIELDS.values() for field in fields for sign in ("", "-")]
SORTS = list(dict.fromkeys(SORTS))  # the measures are fields of every row type
# What a verify or repair run found (etl/verify.py); money in integer thousandths.
_FIGURES = nullable({"type": "object", "additionalProperties": {"type": "integer"}})
_DIFFERENCE = {
    "type": "object",
    "properties": {
        "country": STRING,
        "stock_code": STRING,
        "source": _FIGURES,
        "warehouse": _FIGURES,
    },
    "required": ["country", "source", "warehouse"],
}
VERIFY_RESULT = closed(
    {
        "days_differing": COUNT,
        "days_checked": COUNT,
        "days_pending": COUNT,
        "days": {"type": "array", "items": DATE},
        "details": {
            "type": "array",
            "items": closed(
                {
                    "day": DATE,
                    "vanished": {"type": "boolean"},
                    "countries": {"type": "array", "items": _DIFFERENCE},
                    "products": {"type": "array", "items": _DIFFERENCE},
                }
            ),
        },
    }
)
RUN_SCHEMA = closed(
    {
        "id": {"type": "integer", "minimum": 1},
        "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
        "mode": {"type": "string", "enum": list(MODES)},
        "triggered_by": STRING,
        "stage": {"type": "string", "enum": ["queued", "extract", "load", "done"]},
        "created_at": TIME,
        "started_at": nullable(TIME),
        "finished_at": nullable(TIME),
        "heartbeat_at": nullable(TIME),
        "duration_seconds": nullable({"type": "number", "minimum": 0}),
        **{name: COUNT for name in RUN_FIELDS if name.startswith(("rows_", "keys_", "dup"))},
        "watermark_before": nullable(STRING),
        "watermark_after": nullable(STRING),
        "source": nullable(
            closed(
                {
                    "system_identifier": STRING,
                    "database": STRING,
                    "database_oid": COUNT,
                }
            )
        ),
        "full_reason": nullable(STRING),
        "result": nullable(VERIFY_RESULT),
        "error": nullable(STRING),
    }
)
if list(RUN_SCHEMA["properties"]) != list(RUN_FIELDS):
    raise AssertionError("the Run schema and serialize.RUN_FIELDS disagree")

ERROR_DETAIL = closed(
    {
        "code": {"type": "string", "enum": ERROR_CODES},
        "message": STRING,
        "run_id": nullable({"type": "integer", "minimum": 1}),
        "location": nullable(STRING),
    },
    optional=("run_id", "location"),
)
CHECK = {"type": "string", "enum": ["ok", "unavailable"]}
OK = {"type": "string", "enum": ["ok"]}
PAGE_META = {"limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "offset": COUNT}

SCHEMAS = {
    "Error": closed({"error": ERROR_DETAIL}),
    **{
        f"{group.capitalize()}Row": closed(
            {f: KEY_SCHEMAS.get(f) or MEASURE_SCHEMAS[f] for f in FIELDS[group]}
        )
        for group in GROUPS
    },
    "SalesPage": closed(
        {
            "data": {
                "type": "array",
                "items": {"oneOf": [ref(f"{group.capitalize()}Row") for group in GROUPS]},
            },
            "meta": closed(
                {
                    "group_by": {"type": "string", "enum": list(GROUPS)},
                    "filters": closed(
                        {
                            "from": nullable(DATE),
                            "to": nullable(DATE),
                            "country": nullable(STRING),
                            "product": nullable(STRING),
                        }
                    ),
                    "sort": {"type": "string", "enum": SORTS},
                    **PAGE_META,
                    "total_rows": COUNT,
                    "totals": closed({m: MEASURE_SCHEMAS[m] for m in MEASURES}),
                    "last_refreshed": nullable(TIME),
                    "last_run_id": nullable({"type": "integer", "minimum": 1}),
                }
            ),
        }
    ),
    "Run": RUN_SCHEMA,
    "RunPage": closed(
        {
            "data": {"type": "array", "items": ref("Run")},
            "meta": closed({**PAGE_META, "total_rows": COUNT}),
        }
    ),
    "Reject": closed(
        {
            "source_id": {"type": "integer"},
            "reason": {"type": "string", "enum": list(REASONS)},
            "invoice_no": nullable(STRING),
            "stock_code": nullable(STRING),
            "quantity": nullable({"type": "integer"}),
            "unit_price": nullable({"type": "string", "pattern": r"^-?\d+\.\d{3}$"}),
            "invoice_date": nullable(DATE),
            "country": nullable(STRING),
        }
    ),
    "RejectPage": closed(
        {
            "data": {"type": "array", "items": ref("Reject")},
            "meta": closed(
                {
                    **PAGE_META,
                    "total_rows": COUNT,
                    "by_reason": {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 1},
                    },
                }
            ),
        }
    ),
    "Health": closed({"status": {"type": "string", "enum": ["ok"]}}),
    "Ready": closed(
        {
            "status": {"type": "string", "enum": ["ready"]},
            "checks": closed({"source": OK, "warehouse": OK}),
        }
    ),
    "NotReady": closed(
        {
            "status": {"type": "string", "enum": ["unavailable"]},
            "checks": closed({"source": CHECK, "warehouse": CHECK}),
            "error": ERROR_DETAIL,
        }
    ),
}
