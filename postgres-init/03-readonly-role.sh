#!/usr/bin/env bash
# Creates the backend's read-only role in the source database: it may read every table and run
# every function of schema public, now and later, and nothing more. Imports (flask etl
# import-csv) use the owner account instead.
#
# The postgres image runs this once, on first start, after 01-schema.sql and 02-seed.sql (the
# grants need the tables). It sources a *.sh file that is not executable, so this file changes
# no shell options and keeps its work in one function.
#
# Environment: SOURCE_DB_READONLY_USER and SOURCE_DB_READONLY_PASSWORD, or
# SOURCE_DB_READONLY_PASSWORD_FILE (a Docker secret), from .env; POSTGRES_USER and POSTGRES_DB
# (set by the image). Names and password reach SQL only as psql variables (:"ident" and
# :'literal'), so any character in them is quoted safely.

# Print the value of setting $1, or the contents of the file that $1_FILE names.
readonly_role_setting() {
    local file_name="${1}_FILE"
    if [[ -n "${!file_name:-}" ]]; then
        cat -- "${!file_name}"
    else
        printf '%s' "${!1:-}"
    fi
}

create_readonly_role() {
    local role="${SOURCE_DB_READONLY_USER:?SOURCE_DB_READONLY_USER is not set}"
    local password
    password="$(readonly_role_setting SOURCE_DB_READONLY_PASSWORD)" || return 1
    if [[ -z "$password" ]]; then
        echo "03-readonly-role.sh: SOURCE_DB_READONLY_PASSWORD(_FILE) is not set" >&2
        return 1
    fi
    local owner="${POSTGRES_USER:-postgres}"
    local database="${POSTGRES_DB:-$owner}"

    echo "03-readonly-role.sh: granting read-only access to ${database} to role ${role}"
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
        --username "$owner" --dbname "$database" \
        --set=ro_role="$role" --set=ro_password="$password" \
        --set=owner="$owner" --set=db="$database" <<'EOSQL'
SELECT format('CREATE ROLE %I', :'ro_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'ro_role') \gexec
ALTER ROLE :"ro_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'ro_password';

GRANT CONNECT ON DATABASE :"db" TO :"ro_role";
GRANT USAGE ON SCHEMA public TO :"ro_role";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"ro_role";
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO :"ro_role";

-- Tables and functions the owner creates later (migrations) are readable too.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT ON TABLES TO :"ro_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO :"ro_role";
EOSQL
}

# Strict only when run directly: sourced, the image's own shell options stay as they are.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
fi

# Last, so its status is the file's: a failure stops the image's initialisation.
create_readonly_role
