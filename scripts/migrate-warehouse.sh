#!/usr/bin/env bash
# Bring a warehouse made by an earlier version up to mysql-init/01-schema.sql: apply each file
# of mysql-migrations/ that schema_migrations does not list yet, in name order, and record it.
# The ETL's own account has no DDL rights, so this runs with the owner account; deploy.sh runs
# it inside mysql-db, where root may log in.
#
# Usage: scripts/migrate-warehouse.sh [--dir DIR] [--] CLIENT...
#   CLIENT is a command that runs the SQL on its stdin in the warehouse database and prints
#   results without headers, for example:
#   docker compose exec -T mysql-db sh -c \
#     'MYSQL_PWD="$(cat "$MYSQL_ROOT_PASSWORD_FILE")" exec mysql -N -B -uroot "$MYSQL_DATABASE"'
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/mysql-migrations"
while (($#)); do
    case "$1" in
        --dir)
            (($# >= 2)) || { echo "migrate-warehouse: --dir needs a folder" >&2; exit 2; }
            dir="$2"
            shift 2
            ;;
        --) shift; break ;;
        *) break ;;
    esac
done
(($#)) || { echo "usage: migrate-warehouse.sh [--dir DIR] [--] CLIENT..." >&2; exit 2; }

"$@" <<'SQL'
CREATE TABLE IF NOT EXISTS schema_migrations (
    version          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    applied_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB;
SQL
applied="$("$@" <<<'SELECT version FROM schema_migrations;')"

count=0
for file in "$dir"/*.sql; do
    [[ -e "$file" ]] || continue
    version="$(basename "$file" .sql)"
    [[ "$version" =~ ^[A-Za-z0-9._-]{1,64}$ ]] \
        || { echo "migrate-warehouse: cannot record the name '$version'" >&2; exit 1; }
    grep -qxF -- "$version" <<<"$applied" && continue
    echo "Applying warehouse migration $version"
    { cat "$file"; printf "\nINSERT INTO schema_migrations (version) VALUES ('%s');\n" "$version"; } | "$@"
    count=$((count + 1))
done
echo "The warehouse schema is up to date ($count migration(s) applied)."
