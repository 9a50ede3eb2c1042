-- Source schema: one row per order line, in the layout of the public "Online Retail" export.
-- Applies to whatever database it runs in (no CREATE DATABASE, no \c): tests build throwaway
-- databases from it, and the postgres image runs it in POSTGRES_DB on first start.

CREATE TABLE IF NOT EXISTS online_sales (
    id            bigserial PRIMARY KEY,
    invoice_no    text,            -- a leading 'C' marks a cancellation
    stock_code    text,            -- the product, exactly as exported ('85123A', 'POST')
    description   text,
    quantity      integer,         -- negative on cancellations
    invoice_date  timestamp,
    unit_price    numeric,         -- exact, unconstrained: the importer stores what it reads
    customer_id   integer,
    country       text,
    -- Incremental extraction: the transaction that last wrote the row. Compared with the
    -- snapshot of the previous run (pg_visible_in_snapshot), it catches rows committed late by
    -- long transactions, which a timestamp watermark would miss.
    changed_xid   xid8 NOT NULL DEFAULT pg_current_xact_id(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Keys of rows that were updated or deleted: their old day must be rebuilt too.
CREATE TABLE IF NOT EXISTS online_sales_changes (
    id            bigserial PRIMARY KEY,
    sales_id      bigint NOT NULL,
    old_day       date,
    changed_xid   xid8 NOT NULL DEFAULT pg_current_xact_id(),
    changed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION online_sales_track_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        NEW.changed_xid := pg_current_xact_id();
        NEW.updated_at := now();
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.invoice_date IS NOT NULL
       AND isfinite(OLD.invoice_date) THEN
        INSERT INTO online_sales_changes (sales_id, old_day)
        VALUES (OLD.id, OLD.invoice_date::date);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS online_sales_track_change ON online_sales;
CREATE TRIGGER online_sales_track_change
    BEFORE UPDATE OR DELETE ON online_sales
    FOR EACH ROW EXECUTE FUNCTION online_sales_track_change();

-- Extraction reads whole days (the aggregates' finest grain), so it finds them by date.
CREATE INDEX IF NOT EXISTS online_sales_day_idx ON online_sales ((invoice_date::date));
-- Incremental runs find rows written since the previous run's snapshot.
CREATE INDEX IF NOT EXISTS online_sales_changed_xid_idx ON online_sales (changed_xid);
CREATE INDEX IF NOT EXISTS online_sales_changes_xid_idx ON online_sales_changes (changed_xid);

-- What the row trigger cannot see leaves a marker in the change log, so that the next
-- incremental run knows its increment is incomplete and rebuilds in full (etl/trust.py):
--   truncate      online_sales was truncated (row triggers do not fire on TRUNCATE);
--   log_truncate  the change log itself was truncated;
--   log_cut       change log rows were deleted; cut_xid is the newest of them, so a run can
--                 tell pruning of what it has read from the loss of what it has not.
-- Idempotent, like the rest of this file: deploy.sh applies it to existing databases too.
ALTER TABLE online_sales_changes ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'row';
ALTER TABLE online_sales_changes ADD COLUMN IF NOT EXISTS cut_xid xid8;
ALTER TABLE online_sales_changes ALTER COLUMN sales_id DROP NOT NULL;

CREATE OR REPLACE FUNCTION online_sales_track_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO online_sales_changes (kind)
    VALUES (CASE WHEN TG_TABLE_NAME = 'online_sales' THEN 'truncate' ELSE 'log_truncate' END);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION online_sales_track_log_cut() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO online_sales_changes (kind, cut_xid)
    SELECT 'log_cut', max(changed_xid) FROM cut HAVING count(*) > 0;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS online_sales_track_truncate ON online_sales;
CREATE TRIGGER online_sales_track_truncate
    AFTER TRUNCATE ON online_sales
    FOR EACH STATEMENT EXECUTE FUNCTION online_sales_track_truncate();
DROP TRIGGER IF EXISTS online_sales_changes_track_truncate ON online_sales_changes;
CREATE TRIGGER online_sales_changes_track_truncate
    AFTER TRUNCATE ON online_sales_changes
    FOR EACH STATEMENT EXECUTE FUNCTION online_sales_track_truncate();
DROP TRIGGER IF EXISTS online_sales_changes_track_cut ON online_sales_changes;
CREATE TRIGGER online_sales_changes_track_cut
    AFTER DELETE ON online_sales_changes REFERENCING OLD TABLE AS cut
    FOR EACH STATEMENT EXECUTE FUNCTION online_sales_track_log_cut();
