#!/usr/bin/env bash
# Creates the backend's warehouse account: data access to the warehouse database only (read,
# write, temporary tables, locks) and no global privilege, so it cannot create users, read
# other databases or change the schema.
#
# The mysql image runs this once, on first start, after 01-schema.sql. It sources a *.sh file
# that is not executable, so this file changes no shell options, never calls exit, and keeps
# its work in functions; sourced, it runs SQL through the image's docker_process_sql.
#
# Environment: WAREHOUSE_DB_USER and WAREHOUSE_DB_PASSWORD, or WAREHOUSE_DB_PASSWORD_FILE (a
# Docker secret), from .env; MYSQL_DATABASE and MYSQL_ROOT_PASSWORD(_FILE) (the image's). The
# mysql client has no bind variables, so the password is escaped as a string literal and the
# names must be plain identifiers.

# Print the value of setting $1, or the contents of the file that $1_FILE names.
etl_user_setting() {
    local file_name="${1}_FILE"
    if [[ -n "${!file_name:-}" ]]; then
        cat -- "${!file_name}"
    else
        printf '%s' "${!1:-}"
    fi
}

# Print $1 as a single-quoted MySQL string literal (the server's default sql_mode, where a
# backslash escapes).
etl_user_sql_literal() {
    local value="${1//\\/\\\\}"
    value="${value//$'\n'/\\n}"
    value="${value//\'/\\\'}"
    printf "'%s'" "$value"
}

etl_user_run_sql() {
    if declare -F docker_process_sql >/dev/null; then
        docker_process_sql --database=mysql
    else
        # Run by hand (or made executable): the root password goes in an option file, never
        # on the command line.
        mysql --defaults-extra-file=<(printf '[client]\nuser=root\npassword="%s"\n' \
            "$(etl_user_setting MYSQL_ROOT_PASSWORD)") --database=mysql
    fi
}

etl_user_create() {
    local user="${WAREHOUSE_DB_USER:?WAREHOUSE_DB_USER is not set}"
    local password
    password="$(etl_user_setting WAREHOUSE_DB_PASSWORD)" || return 1
    if [[ -z "$password" ]]; then
        echo "02-etl-user.sh: WAREHOUSE_DB_PASSWORD(_FILE) is not set" >&2
        return 1
    fi
    local database="${MYSQL_DATABASE:?MYSQL_DATABASE is not set}"

    if [[ ! "$user" =~ ^[A-Za-z0-9_]{1,32}$ ]]; then
        echo "02-etl-user.sh: WAREHOUSE_DB_USER must be 1-32 letters, digits or _" >&2
        return 1
    fi
    if [[ ! "$database" =~ ^[A-Za-z0-9_]{1,64}$ ]]; then
        echo "02-etl-user.sh: MYSQL_DATABASE must be 1-64 letters, digits or _" >&2
        return 1
    fi
    # In GRANT, "_" in a database name is a wildcard: escape it so that retail_dw does not
    # also match, say, retailXdw.
    local grant_database="${database//_/\\_}"
    local account="'${user}'@'%'"
    local secret
    secret="$(etl_user_sql_literal "$password")"

    echo "02-etl-user.sh: granting ${user} access to ${database}"
    etl_user_run_sql <<EOSQL
CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${secret};
ALTER USER ${account} IDENTIFIED BY ${secret};
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES, LOCK TABLES
    ON \`${grant_database}\`.* TO ${account};
EOSQL
}

# Strict only when run directly: sourced, the image's own shell options stay as they are.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
fi

# Last, so its status is the file's: a failure stops the image's initialisation.
etl_user_create
