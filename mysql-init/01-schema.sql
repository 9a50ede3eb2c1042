-- Warehouse schema (database retail_dw). Applies to whatever database it runs in: tests build
-- throwaway databases from it, and the mysql image runs it in MYSQL_DATABASE on first start.
-- Portable between MySQL 8.4 and MariaDB 10.11.

-- Dimensions. Stock codes and countries compare byte for byte: '85123A' and '85123a' are
-- different products in the real export.
CREATE TABLE IF NOT EXISTS products (
    product_key      INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    stock_code       VARBINARY(256) NOT NULL,  -- UTF-8 bytes: exact, case and spaces kept
    description      VARCHAR(255) NOT NULL DEFAULT '',
    -- the source line the description came from: the newest non-blank one wins
    description_source_id BIGINT NOT NULL DEFAULT 0,
    UNIQUE KEY products_stock_code (stock_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS countries (
    country_key      INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name             VARBINARY(256) NOT NULL,  -- UTF-8 bytes, compared exactly
    UNIQUE KEY countries_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Facts at product x day x country: every measure here is additive over days, countries and
-- products, except orders, which is additive over days and countries only (an invoice has one
-- day and one country) and is therefore summed only along those.
CREATE TABLE IF NOT EXISTS daily_product_sales (
    sale_date        DATE NOT NULL,
    country_key      INT UNSIGNED NOT NULL,
    product_key      INT UNSIGNED NOT NULL,
    units_sold       BIGINT NOT NULL,
    revenue          DECIMAL(20, 3) NOT NULL,
    orders           INT UNSIGNED NOT NULL,   -- distinct invoices with a sale line of the product
    units_returned   BIGINT NOT NULL,
    returns_value    DECIMAL(20, 3) NOT NULL,
    PRIMARY KEY (sale_date, country_key, product_key),
    KEY daily_product_sales_product (product_key, sale_date)
) ENGINE=InnoDB;

-- Facts at day x country: orders here are distinct invoices over all products, which cannot
-- be summed from the product table.
CREATE TABLE IF NOT EXISTS daily_country_sales (
    sale_date        DATE NOT NULL,
    country_key      INT UNSIGNED NOT NULL,
    units_sold       BIGINT NOT NULL,
    revenue          DECIMAL(20, 3) NOT NULL,
    orders           INT UNSIGNED NOT NULL,   -- distinct invoices with at least one sale line
    units_returned   BIGINT NOT NULL,
    returns_value    DECIMAL(20, 3) NOT NULL,
    return_orders    INT UNSIGNED NOT NULL,   -- distinct cancellation invoices
    PRIMARY KEY (sale_date, country_key),
    KEY daily_country_sales_country (country_key, sale_date)
) ENGINE=InnoDB;

-- The history of every run. The latest succeeded run's watermark_after is the watermark.
CREATE TABLE IF NOT EXISTS etl_runs (
    id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    status           VARCHAR(16) NOT NULL,    -- queued | running | succeeded | failed
    mode             VARCHAR(16) NOT NULL,    -- incremental | full | verify | repair
    triggered_by     VARCHAR(128) NOT NULL,
    idempotency_key  VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,  -- exact: 'A' <> 'a'
    stage            VARCHAR(16) NOT NULL,    -- queued | extract | load | done
    created_at       DATETIME(3) NOT NULL,
    started_at       DATETIME(3) NULL,
    finished_at      DATETIME(3) NULL,
    heartbeat_at     DATETIME(3) NULL,
    lock_connection_id BIGINT UNSIGNED NULL,  -- the warehouse connection holding the run lock
    rows_extracted   BIGINT NOT NULL DEFAULT 0,
    rows_rejected    BIGINT NOT NULL DEFAULT 0,
    rows_loaded      BIGINT NOT NULL DEFAULT 0,
    duplicate_lines  BIGINT NOT NULL DEFAULT 0,
    keys_inserted    BIGINT NOT NULL DEFAULT 0,
    keys_updated     BIGINT NOT NULL DEFAULT 0,
    keys_deleted     BIGINT NOT NULL DEFAULT 0,
    watermark_before TEXT NULL,
    watermark_after  TEXT NULL,
    error_message    TEXT NULL,
    -- Why a run rebuilt in full: asked to, or what made the increment untrustworthy.
    full_reason      VARCHAR(255) NULL,
    -- The source the watermark came from: "<system identifier>:<database oid>:<database>".
    source_identity  VARCHAR(255) NULL,
    -- A verify or repair run's findings: JSON {"days_differing": n, "days": [...]}.
    result           MEDIUMTEXT NULL,
    UNIQUE KEY etl_runs_idempotency_key (idempotency_key),
    KEY etl_runs_status (status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Lines a run refused, with the reason, so bad data can be inspected later.
CREATE TABLE IF NOT EXISTS etl_rejects (
    run_id           BIGINT UNSIGNED NOT NULL,
    source_id        BIGINT NOT NULL,         -- online_sales.id in the source
    reason           VARCHAR(40) NOT NULL,
    invoice_no       VARCHAR(64) NULL,
    stock_code       VARCHAR(64) NULL,
    quantity         BIGINT NULL,
    unit_price       DECIMAL(24, 3) NULL,
    sale_date        DATE NULL,
    country          VARCHAR(64) NULL,
    PRIMARY KEY (run_id, source_id),
    KEY etl_rejects_reason (run_id, reason)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The migrations of mysql-migrations/ this schema already contains. scripts/migrate-warehouse.sh
-- (run by deploy.sh with the owner account) applies the others to a warehouse made by an
-- earlier version, and records each here.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    applied_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB;
INSERT IGNORE INTO schema_migrations (version) VALUES ('0001-trusted-increments');
