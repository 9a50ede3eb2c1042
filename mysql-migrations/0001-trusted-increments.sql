-- Incremental runs that know when they cannot be trusted, and verify/repair runs: why a run
-- rebuilt in full, the source its watermark came from, and what a verify found.
ALTER TABLE etl_runs
    ADD COLUMN full_reason VARCHAR(255) NULL,
    ADD COLUMN source_identity VARCHAR(255) NULL,
    ADD COLUMN result MEDIUMTEXT NULL;
