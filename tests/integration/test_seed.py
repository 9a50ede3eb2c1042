"""Tests of the seed data (postgres-init/02-seed.sql) and of generate_online_sales.

Every expected figure comes from plain SQL over online_sales, never from the generator's own
arithmetic: the seed must look like the real "Online Retail" export, dirt included.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import dbtools

SERVICE_CODES = {
    "POST": "POSTAGE",
    "DOT": "DOTCOM POSTAGE",
    "M": "Manual",
    "BANK CHARGES": "Bank Charges",
    "AMAZONFEE": "AMAZON FEE",
    "D": "Discount",
    "B": "Adjust bad debt",
}
PRODUCT_CODE = r"^[0-9]{5}[A-Za-z]?$"
# Country names as the real export spells them.
REAL_COUNTRIES = {
    "United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium",
    "Switzerland", "Portugal", "Australia", "Norway", "Italy", "Channel Islands", "Finland",
    "Cyprus", "Sweden", "Unspecified", "Austria", "Denmark", "Japan", "Poland", "Israel", "USA",
    "Hong Kong", "Singapore", "Iceland", "Canada", "Greece", "Malta", "United Arab Emirates",
    "European Community", "RSA", "Lebanon", "Lithuania", "Brazil", "Czech Republic", "Bahrain",
    "Saudi Arabia",
}  # fmt: skip
# One text per line, NULL and '' told apart, in id order: equal digests mean equal rows.
ROWS_DIGEST = """
    SELECT md5(string_agg(row(invoice_no, stock_code, description, quantity, invoice_date,
                              unit_price, customer_id, country)::text, E'\\n' ORDER BY id))
    FROM online_sales
"""
ADJUSTMENT = (
    "invoice_no ~ '^A[0-9]+$' AND stock_code = 'B' AND description = 'Adjust bad debt'"
    " AND quantity = 1 AND unit_price < 0 AND customer_id IS NULL"
)
BLANK = "coalesce(description, '') = ''"


def one(db: dbtools.SourceDB, sql: str, params: tuple | dict = ()) -> tuple:
    """Run one query and return its single row."""
    with db.connect() as conn:
        return conn.execute(sql, params).fetchone()


def emptied(db: dbtools.SourceDB) -> dbtools.SourceDB:
    """Empty online_sales and restart its ids, keeping generate_online_sales."""
    with db.connect() as conn:
        conn.execute("TRUNCATE online_sales RESTART IDENTITY")
    return db


# source_db is built without the files named *seed*, so it lacks the generator: these start
# from a copy of the seeded database instead, emptied.
@pytest.fixture
def generator_db(seeded_source_db):
    """A source database with generate_online_sales and no order lines."""
    return emptied(seeded_source_db)


@pytest.fixture
def other_generator_db(postgres_server):
    """A second one, to compare two independent runs."""
    db = dbtools.create_source_db(seeded=True)
    try:
        yield emptied(db)
    finally:
        db.drop()


def test_seed_has_at_least_100000_lines_over_at_least_12_months(seeded_source_db):
    lines, months = one(
        seeded_source_db,
        "SELECT count(*), count(DISTINCT date_trunc('month', invoice_date)) FROM online_sales",
    )
    assert lines >= 100_000
    assert months >= 12


def test_seed_is_generate_online_sales_of_120000_lines_with_the_defaults(
    seeded_source_db, other_generator_db
):
    with other_generator_db.connect() as conn:
        assert conn.execute("SELECT generate_online_sales(120000)").fetchone() == (120_000,)
    assert one(other_generator_db, ROWS_DIGEST) == one(seeded_source_db, ROWS_DIGEST)


def test_seed_has_30_real_countries_with_the_united_kingdom_on_85_to_90_percent_of_invoices(
    seeded_source_db,
):
    countries, uk_share = one(
        seeded_source_db,
        """SELECT array_agg(DISTINCT country),
                  avg((country = 'United Kingdom')::int)
           FROM (SELECT DISTINCT invoice_no, country FROM online_sales) AS invoices""",
    )
    assert len(countries) >= 30
    assert set(countries) <= REAL_COUNTRIES
    assert 0.85 <= uk_share <= 0.90


def test_seed_has_500_products_with_real_stock_code_shapes(seeded_source_db):
    products, suffixed, odd_codes = one(
        seeded_source_db,
        """SELECT count(DISTINCT stock_code) FILTER (WHERE stock_code ~ %(product)s),
                  count(DISTINCT stock_code) FILTER (WHERE stock_code ~ '[A-Za-z]$'
                                                     AND stock_code ~ %(product)s),
                  array_agg(DISTINCT stock_code) FILTER (WHERE stock_code !~ %(product)s
                                                         AND stock_code <> ALL(%(services)s))
           FROM online_sales""",
        {"product": PRODUCT_CODE, "services": list(SERVICE_CODES)},
    )
    assert products >= 500
    assert suffixed >= 20
    assert odd_codes is None


def test_each_product_has_one_price_and_one_description(seeded_source_db):
    inconsistent = one(
        seeded_source_db,
        """SELECT array_agg(stock_code) FROM (
               SELECT stock_code FROM online_sales WHERE stock_code ~ %s
               GROUP BY stock_code
               HAVING count(DISTINCT unit_price) FILTER (WHERE unit_price > 0) <> 1
                   OR count(DISTINCT description) FILTER (WHERE description <> '') <> 1
           ) AS products""",
        (PRODUCT_CODE,),
    )[0]
    assert inconsistent is None


def test_lowercase_stock_code_is_a_separate_product_beside_its_uppercase_twin(
    seeded_source_db,
):
    twins = one(
        seeded_source_db,
        """SELECT count(DISTINCT low.stock_code) FROM online_sales AS low
           WHERE low.stock_code ~ '^[0-9]{5}[a-z]$' AND EXISTS (
               SELECT 1 FROM online_sales AS up WHERE up.stock_code = upper(low.stock_code))""",
    )[0]
    assert twins >= 1


def test_product_popularity_is_skewed(seeded_source_db):
    top, median = one(
        seeded_source_db,
        """SELECT max(lines), percentile_disc(0.5) WITHIN GROUP (ORDER BY lines)
           FROM (SELECT count(*) AS lines FROM online_sales WHERE stock_code ~ %s
                 GROUP BY stock_code) AS products""",
        (PRODUCT_CODE,),
    )
    assert top >= 5 * median


def test_every_invoice_has_one_date_one_country_and_one_customer(seeded_source_db):
    mixed = one(
        seeded_source_db,
        """SELECT count(*) FROM (
               SELECT invoice_no FROM online_sales GROUP BY invoice_no
               HAVING count(DISTINCT invoice_date) <> 1 OR count(DISTINCT country) <> 1
                   OR count(DISTINCT coalesce(customer_id, -1)) <> 1
           ) AS invoices""",
    )[0]
    assert mixed == 0


def test_invoices_have_1_to_30_lines_mostly_few(seeded_source_db):
    shortest, longest, median, singles = one(
        seeded_source_db,
        """SELECT min(lines), max(lines), percentile_disc(0.5) WITHIN GROUP (ORDER BY lines),
                  count(*) FILTER (WHERE lines = 1)
           FROM (SELECT count(*) AS lines FROM online_sales GROUP BY invoice_no) AS invoices""",
    )
    assert (shortest, longest) == (1, 30)
    assert median <= 10
    assert singles >= 100


def test_lines_are_chronological_with_increasing_invoice_numbers_from_536365(seeded_source_db):
    first_invoice, bad_numbers, backwards = one(
        seeded_source_db,
        """SELECT (array_agg(invoice_no ORDER BY id))[1],
                  count(*) FILTER (WHERE invoice_no !~ '^[CA]?[0-9]{6}$'),
                  count(*) FILTER (WHERE invoice_date < prev_date OR number < prev_number)
           FROM (SELECT id, invoice_no, invoice_date,
                        ltrim(invoice_no, 'CA')::int AS number,
                        lag(invoice_date) OVER (ORDER BY id) AS prev_date,
                        lag(ltrim(invoice_no, 'CA')::int) OVER (ORDER BY id) AS prev_number
                 FROM online_sales) AS lines""",
    )
    assert first_invoice == "536365"
    assert bad_numbers == 0
    assert backwards == 0


def test_invoice_dates_are_whole_minutes_in_shop_hours_and_never_on_saturday(seeded_source_db):
    outside = one(
        seeded_source_db,
        """SELECT count(*) FROM online_sales
           WHERE invoice_date <> date_trunc('minute', invoice_date)
              OR invoice_date::time NOT BETWEEN '07:00' AND '20:00'
              OR extract(isodow FROM invoice_date) = 6""",
    )[0]
    assert outside == 0


@pytest.mark.parametrize(
    ("invoice_kind", "where", "low", "high"),
    [
        ("cancellation", "invoice_no LIKE 'C%%'", 0.01, 0.03),
        ("without_customer", "customer_id IS NULL", 0.15, 0.30),
    ],
)
def test_seed_has_the_real_share_of_invoices_of_each_kind(
    seeded_source_db, invoice_kind, where, low, high
):
    share = one(
        seeded_source_db,
        f"""SELECT avg(matches::int) FROM (
                SELECT bool_and({where}) AS matches FROM online_sales GROUP BY invoice_no
            ) AS invoices""",
    )[0]
    assert low <= share <= high, invoice_kind


@pytest.mark.parametrize(
    ("dirt", "where", "at_most"),
    [
        ("zero_price", "unit_price = 0", 0.01),
        ("blank_description", BLANK, 0.01),
        ("adjustment_with_negative_price", ADJUSTMENT, 0.001),
        ("zero_quantity", "quantity = 0", 0.001),
        ("positive_quantity_on_cancellation", "invoice_no LIKE 'C%%' AND quantity > 0", 0.001),
        ("damaged_stock", f"invoice_no ~ '^[0-9]' AND quantity < 0 AND {BLANK}", 0.005),
        ("blank_description_with_zero_price", f"{BLANK} AND unit_price = 0", 0.01),
    ],
)
def test_seed_contains_each_kind_of_dirt_in_a_small_share(seeded_source_db, dirt, where, at_most):
    lines, total = one(
        seeded_source_db, f"SELECT count(*) FILTER (WHERE {where}), count(*) FROM online_sales"
    )
    assert 0 < lines <= at_most * total, dirt


def test_about_one_percent_of_lines_repeat_the_previous_line_of_their_invoice(seeded_source_db):
    copies, total = one(
        seeded_source_db,
        """SELECT count(*) FILTER (WHERE row(cur.invoice_no, cur.stock_code, cur.description,
                      cur.quantity, cur.invoice_date, cur.unit_price, cur.customer_id,
                      cur.country) IS NOT DISTINCT FROM row(prev.invoice_no, prev.stock_code,
                      prev.description, prev.quantity, prev.invoice_date, prev.unit_price,
                      prev.customer_id, prev.country)),
                  (SELECT count(*) FROM online_sales)
           FROM online_sales AS cur JOIN online_sales AS prev ON prev.id = cur.id - 1""",
    )
    assert 0.005 * total <= copies <= 0.02 * total


@pytest.mark.parametrize(("code", "description"), sorted(SERVICE_CODES.items()))
def test_seed_has_each_non_product_code_with_its_real_description(
    seeded_source_db, code, description
):
    lines, descriptions = one(
        seeded_source_db,
        "SELECT count(*), array_agg(DISTINCT description) FROM online_sales WHERE stock_code = %s",
        (code,),
    )
    assert lines > 0
    assert descriptions == [description]


def test_postage_is_mostly_on_invoices_outside_the_united_kingdom(seeded_source_db):
    abroad, home = one(
        seeded_source_db,
        """SELECT count(*) FILTER (WHERE country <> 'United Kingdom'),
                  count(*) FILTER (WHERE country = 'United Kingdom')
           FROM online_sales WHERE stock_code = 'POST'""",
    )
    assert abroad > 4 * home


def test_discounts_are_negative_lines_of_cancellations(seeded_source_db):
    elsewhere = one(
        seeded_source_db,
        """SELECT count(*) FROM online_sales
           WHERE stock_code = 'D' AND (invoice_no NOT LIKE 'C%%' OR quantity >= 0)""",
    )[0]
    assert elsewhere == 0


def test_negative_prices_are_only_adjustments(seeded_source_db):
    others = one(
        seeded_source_db,
        f"SELECT count(*) FROM online_sales WHERE unit_price < 0 AND NOT ({ADJUSTMENT})",
    )[0]
    assert others == 0


def test_prices_have_two_decimals_and_quantities_stay_realistic(seeded_source_db):
    odd_scales, max_product_price, typical, largest = one(
        seeded_source_db,
        """SELECT count(*) FILTER (WHERE scale(unit_price) <> 2),
                  max(unit_price) FILTER (WHERE stock_code ~ %s),
                  percentile_disc(0.9) WITHIN GROUP (ORDER BY abs(quantity)),
                  max(abs(quantity))
           FROM online_sales""",
        (PRODUCT_CODE,),
    )
    assert odd_scales == 0
    assert max_product_price <= 50
    assert typical <= 100
    assert 100 < largest <= 10_000


@pytest.mark.parametrize("n_lines", [0, 1, 2345])
def test_generator_returns_and_inserts_exactly_n_lines(generator_db, n_lines):
    with generator_db.connect() as conn:
        returned = conn.execute("SELECT generate_online_sales(%s)", (n_lines,)).fetchone()[0]
    assert returned == n_lines
    assert one(generator_db, "SELECT count(*) FROM online_sales")[0] == n_lines


def test_generator_gives_identical_rows_in_identical_order_in_two_databases(
    generator_db, other_generator_db
):
    digests = []
    for db in (generator_db, other_generator_db):
        with db.connect() as conn:
            conn.execute("SELECT generate_online_sales(5000, '2011-01-01', 30, 7)")
        digests.append(one(db, ROWS_DIGEST))
    assert digests[0] == digests[1]
    assert digests[0] != (None,)


def test_generator_output_depends_on_the_seed(generator_db, other_generator_db):
    for db, seed in ((generator_db, 7), (other_generator_db, 8)):
        with db.connect() as conn:
            conn.execute("SELECT generate_online_sales(5000, '2011-01-01', 30, %s)", (seed,))
    assert one(generator_db, ROWS_DIGEST) != one(other_generator_db, ROWS_DIGEST)


@pytest.mark.parametrize("args", [(-1, "2011-01-01", 30), (10, "2011-01-01", 0)])
def test_generator_refuses_a_negative_count_or_an_empty_period(generator_db, args):
    with generator_db.connect() as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute("SELECT generate_online_sales(%s, %s, %s)", args)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_lines=st.integers(1, 3000),
    first_day=st.dates(dt.date(2009, 1, 1), dt.date(2013, 12, 31)),
    n_days=st.integers(1, 500),
    seed=st.integers(0, 10_000),
)
def test_generator_keeps_its_invariants_for_any_arguments(
    generator_db, n_lines, first_day, n_days, seed
):
    with generator_db.connect() as conn:
        try:
            returned = conn.execute(
                "SELECT generate_online_sales(%s, %s, %s, %s)", (n_lines, first_day, n_days, seed)
            ).fetchone()[0]
            lines, first, last, mixed, backwards = conn.execute(
                """SELECT count(*), min(invoice_date), max(invoice_date),
                          (SELECT count(*) FROM (
                               SELECT 1 FROM online_sales GROUP BY invoice_no
                               HAVING count(DISTINCT (invoice_date, country,
                                                      coalesce(customer_id, -1))) <> 1) AS m),
                          count(*) FILTER (WHERE invoice_date < prev_date)
                   FROM (SELECT invoice_no, invoice_date, customer_id, country,
                                lag(invoice_date) OVER (ORDER BY id) AS prev_date
                         FROM online_sales) AS lines"""
            ).fetchone()
        finally:
            conn.rollback()
    assert returned == lines == n_lines
    assert first_day <= first.date() <= last.date() < first_day + dt.timedelta(days=n_days)
    assert mixed == 0
    assert backwards == 0
