"""Known source lines for the API tests: a few hundred, with every case the API must get right.

Built deterministically: products whose codes differ only by case ('85123A' and '85123a'), a
numeric-looking code, a non-ASCII code and country, three products tied on every figure (for
sort tiebreaks), a price whose revenue ends in a half cent (rounding half up), a product that
was only returned, cancellations, exact duplicates and lines the business rules reject.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

PRODUCTS = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "2.55"),
    ("85123a", "WHITE HANGING HEART (LOWER-CASE TWIN)", "2.95"),
    ("22423", "REGENCY CAKESTAND 3 TIER", "12.75"),
    ("POST", "POSTAGE", "18.00"),
    ("ÄÖ-1", "ÜNICODE CANDLE", "3.10"),
    *[(f"P{n:03d}", f"GENERATED PRODUCT {n}", f"{0.39 + n * 0.37:.2f}") for n in range(1, 25)],
]
COUNTRIES = ["United Kingdom", "United Kingdom", "United Kingdom", "Germany", "France", "EIRE"]
UNICODE_COUNTRY = "Côte d'Ivoire"
FIRST_DAY = dt.date(2011, 1, 3)
DAYS = 88  # 2011-01-03 .. 2011-03-31

# (invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country)
Line = tuple[str, str, str, int, dt.datetime, Decimal, int | None, str]


def _at(day: dt.date, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0)) + dt.timedelta(minutes=minute)


def sample_lines(seed: int = 7) -> list[Line]:
    """Return the known lines, in invoice order."""
    rng = random.Random(seed)
    lines: list[Line] = []
    invoice = 540000
    for offset in range(0, DAYS, 2):
        day = FIRST_DAY + dt.timedelta(days=offset)
        for minute in (0, 200):
            invoice += 1
            country = rng.choice(COUNTRIES)
            customer = rng.randint(12000, 18000)
            for code, description, price in rng.sample(PRODUCTS, rng.randint(1, 4)):
                quantity = rng.choice((1, 2, 3, 6, 12, 24))
                line = (str(invoice), code, description, quantity, _at(day, minute),
                        Decimal(price), customer, country)  # fmt: skip
                lines.append(line)
                if rng.random() < 0.05:
                    lines.append(line)  # an exact duplicate: the export has them, both count
        if offset % 10 == 0:
            # a cancellation of a few units of a product sold earlier
            code, description, price = rng.choice(PRODUCTS[:5])
            lines.append((f"C{invoice}", code, description, -rng.randint(1, 3),
                          _at(day, 300), Decimal(price), 13000, "United Kingdom"))  # fmt: skip
    lines += special_lines()
    return lines


def special_lines() -> list[Line]:
    """Lines with one purpose each (ties, rounding, returns only, rejects, unicode)."""
    uk, fr, de = "United Kingdom", "France", "Germany"
    rows = [
        # three products tied on every figure: sorting must fall back on product_id
        ("549001", "TIE-B", "TIED PRODUCT B", 10, "1.00", 15000, fr),
        ("549002", "TIE-A", "TIED PRODUCT A", 10, "1.00", 15001, fr),
        ("549003", "TIE-C", "TIED PRODUCT C", 10, "1.00", 15002, fr),
        # 1 x 2.345 = 2.345: rounds half up to "2.35" (banker's rounding would give 2.34)
        ("549004", "HALF", "HALF CENT", 1, "2.345", None, de),
        # only ever returned, never sold
        ("C549005", "RET-ONLY", "RETURNED ONLY", -2, "4.00", 15003, UNICODE_COUNTRY),
        ("549006", "ÄÖ-1", "ÜNICODE CANDLE", 5, "3.10", 15004, UNICODE_COUNTRY),
        # rejected: zero price, zero quantity, a positive quantity on a cancellation, and a
        # negative quantity on a sale
        ("549007", "22423", "REGENCY CAKESTAND 3 TIER", 4, "0", 15005, uk),
        ("549008", "22423", "REGENCY CAKESTAND 3 TIER", 0, "12.75", 15005, uk),
        ("C549009", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 3, "2.55", 15006, uk),
        ("549010", "85123A", "", -6, "2.55", None, uk),
    ]
    day = dt.date(2011, 2, 14)
    return [
        (invoice, code, text, quantity, _at(day, 10 * n), Decimal(price), customer, country)
        for n, (invoice, code, text, quantity, price, customer, country) in enumerate(rows, 1)
    ]


EXPECTED_REJECTS = {
    "zero_price": 1,
    "zero_quantity": 1,
    "positive_quantity_on_cancellation": 1,
    "negative_quantity_on_sale": 1,
}


def insert_lines(source_db, lines: list[Line]) -> None:
    """Append lines to the source's online_sales."""
    with source_db.connect() as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO online_sales (invoice_no, stock_code, description, quantity, "
            "invoice_date, unit_price, customer_id, country) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            lines,
        )
