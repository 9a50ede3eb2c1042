#!/usr/bin/env bash
# Entrypoint of the postgres stand-in, after the official image's documented behaviour:
# - POSTGRES_PASSWORD, POSTGRES_USER (default postgres), POSTGRES_DB (default: the user),
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, each also from <NAME>_FILE;
# - on an empty PGDATA only: initdb, "host all all all <method>" in pg_hba.conf, a temporary
#   server that listens on the Unix socket only, the database, then every file of
#   /docker-entrypoint-initdb.d in name order: *.sh run when executable and sourced otherwise,
#   *.sql through psql with ON_ERROR_STOP; then the temporary server stops;
# - started as root, it drops to the postgres user; arguments starting with "-" go to postgres.
# Left out: *.sql.gz/xz/zst init files, POSTGRES_INITDB_WALDIR, PGDATA ownership fixes for
# arbitrary --user values, and the warnings for a missing password.
set -Eeo pipefail

# shellcheck source=file-env.sh
. /usr/local/lib/standin/file-env.sh

docker_process_sql() { # psql arguments; SQL on stdin
    PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password \
        --no-psqlrc --dbname "$POSTGRES_DB" "$@"
}

init_database() {
    if [[ -z "$POSTGRES_PASSWORD" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
        echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the image
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        $POSTGRES_INITDB_ARGS
    printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" \
        >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    if [[ "$POSTGRES_DB" != postgres ]]; then
        # A later --dbname wins: connect to "postgres" to create the database.
        docker_process_sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                echo "$0: running $f"
                if [[ -x "$f" ]]; then "$f"; else
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql)
                echo "$0: running $f"
                docker_process_sql -f "$f"
                ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
}

if [[ "${1:0:1}" == - ]]; then
    set -- postgres "$@"
fi
if [[ "$1" != postgres ]]; then
    exec "$@"
fi
if [[ "$(id -u)" == 0 ]]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
file_env POSTGRES_HOST_AUTH_METHOD
export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    init_database
fi
unset PGPASSWORD
exec "$@"
