-- Seed data: order lines shaped like the public "Online Retail" export (see 01-schema.sql).
-- Runs in whatever database it is applied to (no CREATE DATABASE, no \c).
--
-- generate_online_sales(n_lines, first_day, n_days, seed) inserts n_lines lines in chronological
-- order with increasing invoice numbers (536365 upwards from 2010-12-01, 121 numbers a day
-- later; 'C' = cancellation, 'A' = adjustment). Every value is a function of the line number and
-- the seed through hashint8extended (stable across versions: hash partitioning relies on it),
-- never random(), so the same arguments give the same rows in the same id order on every run.
-- It is one set-based INSERT: 5,000,000 lines take about 35 s on 2 cores.
--
-- Shape and dirt, as in the real export (shares in the 120,000-line seed):
--   invoices of 1..30 lines (mean 7.7, median 6, 12% of one line); one invoice has one
--   invoice_date (07:30-17:59, minute precision, no Saturdays, closed 24 Dec - 3 Jan), one
--   customer and one country; a customer always buys from the same country; 38 countries,
--   United Kingdom 87% of invoices; 806 products (11 real best sellers, 790 named from word
--   lists, 5 lower-case twins such as '85123a', a different product), one price each
--   (0.29..49.95), popularity skewed (best seller 0.75% of lines, the rarest 0.02%);
--   cancellations       2.0% of invoices  'C' invoices, negative quantities
--   no customer         21% of invoices   customer_id NULL
--   zero price          0.4% of lines     unit_price 0.00 (half of them damaged stock, below)
--   adjustments         3 lines           invoice 'A...', stock_code 'B', 'Adjust bad debt',
--                                         quantity 1, negative price, no customer
--   exact duplicates    1.0% of lines     a copy of the previous line of the same invoice
--   blank descriptions  0.4% of lines     NULL or '' (half of them damaged stock)
--   non-product codes   1.4% of lines     POST (95% non-UK), DOT, M, BANK CHARGES, AMAZONFEE,
--                                         D (discount, on 'C' invoices, quantity -1)
--   to be rejected by business rules: zero quantity (11 lines), a positive quantity on a 'C'
--   invoice (8 lines), a negative quantity with a blank description on a normal invoice
--   (damaged stock, 0.2%).

-- A pseudo-random number in 0..999999 (parts per million), a pure function of its arguments.
-- LANGUAGE sql and IMMUTABLE, so the planner inlines it into the generator's query.
CREATE OR REPLACE FUNCTION online_sales_ppm(n bigint, seed int, salt int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((hashint8extended(n, seed::bigint * 1000 + salt) & 2147483647) % 1000000)::int $$;

CREATE OR REPLACE FUNCTION generate_online_sales(
    n_lines bigint, first_day date DEFAULT '2010-12-01', n_days int DEFAULT 396,
    seed int DEFAULT 42
) RETURNS bigint
LANGUAGE plpgsql
-- The one sort (line numbers, for the running invoice count) stays in memory; JIT would spend
-- longer compiling the wide expressions than running them (6.5 s instead of 0.9 s for the seed).
SET work_mem = '256MB' SET jit = off
AS $fn$
DECLARE
    -- The catalogue does not depend on the seed: real best sellers, then colour + theme + item.
    head_codes text[] := '{85123A,85099B,84879,47566,20725,22423,71053,84406B,84029G,84029E,79321}';
    head_names text[] := ARRAY['WHITE HANGING HEART T-LIGHT HOLDER', 'JUMBO BAG RED RETROSPOT',
        'ASSORTED COLOUR BIRD ORNAMENT', 'PARTY BUNTING', 'LUNCH BAG RED RETROSPOT',
        'REGENCY CAKESTAND 3 TIER', 'WHITE METAL LANTERN', 'CREAM CUPID HEARTS COAT HANGER',
        'KNITTED UNION FLAG HOT WATER BOTTLE', 'RED WOOLLY HOTTIE WHITE HEART.', 'CHILLI LIGHTS'];
    head_cents int[] := '{255,195,169,495,165,1275,339,275,339,339,495}';
    n_best_sellers int := 11;
    lowercase_twins int[] := '{1,2,8,9,10}';  -- best sellers that also exist as '85123a' etc.
    colours text[] := '{RED,PINK,BLUE,GREEN,IVORY,CREAM,WHITE,BLACK,ORANGE,PURPLE,YELLOW,SILVER}';
    themes text[] := ARRAY['RETROSPOT', 'POLKA DOT', 'PAISLEY', 'UNION JACK', 'SPACEBOY',
        'DOLLY GIRL', 'WOODLAND', 'CHRISTMAS', 'HANGING HEART', 'BIRD', 'SKULL', 'STRAWBERRY',
        'REGENCY', 'CIRCUS PARADE', 'VINTAGE LEAF', 'FLORAL'];
    items text[] := ARRAY['LUNCH BOX', 'LUNCH BAG', 'JUMBO BAG', 'T-LIGHT HOLDER', 'TEA TOWEL',
        'MUG', 'CAKE TIN', 'HOT WATER BOTTLE', 'DOORMAT', 'NOTEBOOK', 'PHOTO FRAME', 'ALARM CLOCK',
        'CHILDRENS APRON', 'PARASOL', 'WALL CLOCK', 'CUSHION COVER', 'PAPER NAPKINS', 'GIFT WRAP',
        'BUNTING', 'SNACK BOXES', 'PLASTERS IN TIN', 'WATER BOTTLE', 'CAKE CASES', 'SHOPPER BAG',
        'STORAGE JAR'];  -- 16 themes x 25 items: 400 names for the 395 pairs of products below
    n_products int := n_best_sellers + 790;
    price_cents int[] := '{29,39,42,55,65,72,79,85,95,125,145,165,169,185,195,210,250,255,295,
        339,375,425,495,595,695,795,850,995,1275,1495,1695,2495,2995,3995,4995}';
    pack_sizes int[] := '{1,1,1,1,1,2,2,2,2,2,3,3,3,4,4,4,6,6,6,6,6,8,8,10,10,12,12,12,12,12,12,
        12,24,24,24,24,36,48,72,144}';
    countries text[] := ARRAY['United Kingdom', 'Germany', 'France', 'EIRE', 'Spain',
        'Netherlands', 'Belgium', 'Switzerland', 'Portugal', 'Australia', 'Norway', 'Italy',
        'Channel Islands', 'Finland', 'Cyprus', 'Sweden', 'Unspecified', 'Austria', 'Denmark',
        'Japan', 'Poland', 'Israel', 'USA', 'Hong Kong', 'Singapore', 'Iceland', 'Canada',
        'Greece', 'Malta', 'United Arab Emirates', 'European Community', 'RSA', 'Lebanon',
        'Lithuania', 'Brazil', 'Czech Republic', 'Bahrain', 'Saudi Arabia'];
    country_weights int[] := '{8755,290,230,180,60,55,60,38,36,34,22,29,17,24,11,22,8,11,11,14,
        12,6,6,7,6,5,5,5,5,4,4,4,4,4,4,4,4,4}';  -- customers per 10,000, roughly the real shares
    country_slots int[];  -- one slot per unit of weight, holding the index into countries
    open_days int[];      -- offsets from first_day of the days the shop trades
    first_invoice bigint := greatest(100000, 536365 + (first_day - date '2010-12-01') * 121);
    inserted bigint;
BEGIN
    IF n_lines IS NULL OR n_lines < 0 OR n_days IS NULL OR n_days < 1 OR seed IS NULL THEN
        RAISE EXCEPTION 'generate_online_sales: need n_lines >= 0, n_days >= 1 and a seed';
    END IF;
    SELECT array_agg(c ORDER BY c, s) INTO country_slots
    FROM unnest(country_weights) WITH ORDINALITY AS w(weight, c), generate_series(1, weight) s;
    -- The real shop never invoiced on a Saturday or over Christmas (a period of only such days
    -- keeps them all rather than fail).
    SELECT coalesce(array_agg(d ORDER BY d) FILTER (WHERE extract(isodow FROM first_day + d) <> 6
                        AND to_char(first_day + d, 'MMDD') BETWEEN '0104' AND '1223'),
                    array_agg(d ORDER BY d))
    INTO open_days FROM generate_series(0, n_days - 1) AS d;

    -- Each step ends with ORDER BY i, the order its rows already have (no sort is done): that
    -- keeps the planner from merging steps, which would recompute a step's draws at every
    -- mention, and keeps the ids in line order.
    INSERT INTO online_sales (invoice_no, stock_code, description, quantity, invoice_date,
                              unit_price, customer_id, country)
    WITH line_numbers AS (
        -- A line opens a new invoice with probability 1/10 (geometric invoice sizes), at the
        -- latest every 30 lines, and around an adjustment, which is an invoice of its own.
        SELECT i, online_sales_ppm(i, seed, 2) < 50 AS is_adjustment,
               online_sales_ppm(i, seed, 1) < 100000 OR (i - 1) % 30 = 0
                 OR online_sales_ppm(i, seed, 2) < 50 OR online_sales_ppm(i - 1, seed, 2) < 50
                 AS opens_invoice
        FROM generate_series(1, n_lines) AS i
    ), lines_in_invoices AS (
        -- A line's invoice is the running count of openings, its first line the latest opening.
        -- Invoice-level values below are functions of first_line: all lines of an invoice share
        -- them. A duplicate repeats every draw of the line before it (src).
        SELECT i, is_adjustment,
               count(*) FILTER (WHERE opens_invoice) OVER running AS invoice_seq,
               max(i) FILTER (WHERE opens_invoice) OVER running AS first_line,
               lead(opens_invoice, 1, true) OVER running AS is_last_line,
               NOT opens_invoice AND online_sales_ppm(i, seed, 9) < 11500
                 AND online_sales_ppm(i - 1, seed, 9) >= 11500 AS is_duplicate
        FROM line_numbers
        WINDOW running AS (ORDER BY i ROWS UNBOUNDED PRECEDING)
    ), invoices AS (
        SELECT *, i - is_duplicate::int AS src,
               NOT is_adjustment AND online_sales_ppm(first_line, seed, 3) < 20000 AS cancelled,
               -- a cancellation always names its customer; frequent customers: the product of
               -- two uniform draws favours low ranks, scattered over 12346..18285
               CASE WHEN NOT is_adjustment AND (online_sales_ppm(first_line, seed, 3) < 20000
                                                OR online_sales_ppm(first_line, seed, 4) >= 220000)
                    THEN 12346 + 5940::bigint * online_sales_ppm(first_line, seed, 5)
                         * online_sales_ppm(first_line, seed, 6) / 1000000000000 * 7 % 5940
               END AS customer_id,
               -- invoices spread evenly over the open minutes of the period, in line order
               ((first_line - 1) * cardinality(open_days) * 630 / n_lines)::int AS open_minute
        FROM lines_in_invoices ORDER BY i
    ), invoice_lines AS (
        SELECT *, is_last_line AND NOT is_duplicate AS src_is_last,
               countries[country_slots[1 + cardinality(country_slots) * CASE
                   WHEN is_adjustment THEN 0
                   WHEN customer_id IS NULL THEN online_sales_ppm(first_line, seed, 7)
                   ELSE online_sales_ppm(customer_id, seed, 8) END::bigint / 1000000]] AS country,
               online_sales_ppm(src, seed, 14) AS dirt_draw,
               online_sales_ppm(src, seed, 22) AS amount_draw,
               -- popularity rank: 1/4 uniform, 3/4 skewed to the best sellers
               1 + n_products * CASE WHEN online_sales_ppm(src, seed, 16) < 250000
                   THEN online_sales_ppm(src, seed, 17)::bigint
                   ELSE online_sales_ppm(src, seed, 17)::bigint * online_sales_ppm(src, seed, 18)
                        / 1000000 END / 1000000 AS product_rank
        FROM invoices ORDER BY i
    ), typed_lines AS (
        SELECT *, CASE  -- NULL on a product line
                   WHEN is_adjustment THEN 'B'
                   WHEN src_is_last AND online_sales_ppm(src, seed, 10)
                        < CASE WHEN country = 'United Kingdom' THEN 5000 ELSE 600000 END THEN 'POST'
                   WHEN src_is_last AND customer_id IS NULL AND country = 'United Kingdom'
                        AND online_sales_ppm(src, seed, 11) < 100000 THEN 'DOT'
                   WHEN cancelled AND src = first_line
                        AND online_sales_ppm(src, seed, 12) < 100000 THEN 'D'
                   WHEN online_sales_ppm(src, seed, 13) < 1000 THEN 'M'
                   WHEN online_sales_ppm(src, seed, 13) < 1100 THEN 'BANK CHARGES'
                   WHEN online_sales_ppm(src, seed, 13) < 1150 THEN 'AMAZONFEE'
               END AS service_code,
               online_sales_ppm(src, seed, 15) < 1500 AS lowercase_twin,
               (product_rank - n_best_sellers + 1) / 2 AS pair,  -- made-up products come in pairs
               (product_rank - n_best_sellers) % 2 = 0 AS second_of_pair
        FROM invoice_lines ORDER BY i
    ), described_lines AS (
        SELECT *, CASE
                   WHEN lowercase_twin THEN lower(head_codes[lowercase_twins[1 + dirt_draw % 5]])
                   WHEN product_rank <= n_best_sellers THEN head_codes[product_rank]
                   -- a third of the pairs are variants of one code ('22386A', '22386B')
                   WHEN pair % 3 = 0 THEN (20000 + pair * 389 % 4000)::text
                        || chr(65 + (pair % 4)::int + second_of_pair::int)
                   ELSE (20000 + pair * 389 % 4000 + 4000 * second_of_pair::int)::text
               END AS product_code,
               CASE WHEN lowercase_twin THEN head_names[lowercase_twins[1 + dirt_draw % 5]]
                    WHEN product_rank <= n_best_sellers THEN head_names[product_rank]
                    ELSE colours[1 + (pair * 5 + second_of_pair::int) % 12] || ' '
                         || themes[1 + pair * 37 % 400 % 16] || ' '
                         || items[1 + pair * 37 % 400 / 16]
                         || CASE WHEN pair % 10 = 7 THEN ' ' ELSE '' END  -- real trailing blanks
               END AS product_name,
               CASE WHEN lowercase_twin THEN head_cents[lowercase_twins[1 + dirt_draw % 5]]
                    WHEN product_rank <= n_best_sellers THEN head_cents[product_rank]
                    ELSE price_cents[1 + cardinality(price_cents) * least(
                        online_sales_ppm(pair, 0, 19), online_sales_ppm(pair, 0, 20)) / 1000000]
               END AS product_cents,
               -- the dirt of product lines: ranges of one draw, so kinds never overlap
               service_code IS NULL AND dirt_draw < 4000 AS blank_description,
               service_code IS NULL AND dirt_draw BETWEEN 2000 AND 3999 AND NOT cancelled
                   AS damaged_stock,
               service_code IS NULL AND (dirt_draw BETWEEN 2000 AND 5499
                                         OR dirt_draw < 2000 AND dirt_draw % 3 = 0) AS zero_price,
               service_code IS NULL AND dirt_draw BETWEEN 5500 AND 5599 AS zero_quantity,
               service_code IS NULL AND dirt_draw BETWEEN 5600 AND 10599 AND cancelled
                   AS positive_on_cancellation
        FROM typed_lines ORDER BY i
    )
    SELECT CASE WHEN is_adjustment THEN 'A' WHEN cancelled THEN 'C' ELSE '' END
               || (first_invoice + invoice_seq - 1),
           coalesce(service_code, product_code),
           CASE service_code
               WHEN 'B' THEN 'Adjust bad debt' WHEN 'POST' THEN 'POSTAGE'
               WHEN 'DOT' THEN 'DOTCOM POSTAGE' WHEN 'D' THEN 'Discount' WHEN 'M' THEN 'Manual'
               WHEN 'BANK CHARGES' THEN 'Bank Charges' WHEN 'AMAZONFEE' THEN 'AMAZON FEE'
               ELSE CASE WHEN NOT blank_description THEN product_name
                         WHEN dirt_draw % 2 = 0 THEN '' END  -- else NULL
           END,
           CASE WHEN zero_quantity THEN 0
                WHEN service_code = 'POST' THEN 1 + amount_draw % 3
                WHEN service_code IS NOT NULL THEN 1
                WHEN amount_draw < 1000 THEN 100 * (1 + amount_draw % 40)  -- a bulk order
                WHEN product_cents >= 995 THEN 1 + amount_draw % 4  -- dear goods go by the piece
                ELSE pack_sizes[1 + amount_draw % cardinality(pack_sizes)]
           END * CASE WHEN damaged_stock OR cancelled AND NOT positive_on_cancellation THEN -1
                      ELSE 1 END,
           (first_day + open_days[1 + open_minute / 630])
               + make_interval(mins => 450 + open_minute % 630),
           0.01 * CASE service_code
               WHEN 'B' THEN -(100000 + amount_draw % 1100000)
               WHEN 'POST' THEN 1800
               WHEN 'DOT' THEN 5000 + amount_draw % 120000
               WHEN 'D' THEN 500 + amount_draw % 9500
               WHEN 'M' THEN 50 + amount_draw % 35000
               WHEN 'BANK CHARGES' THEN 1500
               WHEN 'AMAZONFEE' THEN 100000 + amount_draw % 900000
               ELSE CASE WHEN zero_price THEN 0 ELSE product_cents END
           END,
           customer_id, country
    FROM described_lines ORDER BY i;

    GET DIAGNOSTICS inserted = ROW_COUNT;
    RETURN inserted;
END;
$fn$;

-- The seed: 120,000 lines over 13 months (2010-12-01 .. 2011-12-31).
SELECT generate_online_sales(120000);
