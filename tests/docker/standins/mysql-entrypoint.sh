#!/usr/bin/env bash
# Entrypoint of the mysql stand-in (MariaDB), after the official mysql image's documented
# behaviour:
# - MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD), MYSQL_ROOT_HOST (default %),
#   MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD, each also from <NAME>_FILE;
# - on an empty datadir only: initialise it, start a temporary server with networking off
#   (socket only), set root's password (root@MYSQL_ROOT_HOST too unless it is localhost),
#   create the database and the user, then every file of /docker-entrypoint-initdb.d in name
#   order: *.sh run when executable and sourced otherwise (docker_process_sql is defined for
#   them), *.sql through docker_process_sql; then the temporary server stops;
# - started as root, it drops to the mysql user; "mysqld" or options start the server.
# Left out: MYSQL_RANDOM_ROOT_PASSWORD, MYSQL_ONETIME_PASSWORD, time zone tables,
# *.sql.gz/bz2/xz/zst init files and the config check (mysqld --verbose --help).
set -Eeo pipefail

SOCKET=/var/run/mysqld/mysqld.sock
DATADIR=/var/lib/mysql

# shellcheck source=file-env.sh
. /usr/local/lib/standin/file-env.sh

sql_string() { # $1 as a quoted SQL string literal
    local value="${1//\\/\\\\}"
    printf "'%s'" "${value//\'/\\\'}"
}

# docker_process_sql [--dont-use-mysql-root-password] [mysql arguments]: SQL on stdin, as root
# over the socket, in MYSQL_DATABASE unless the arguments name another database.
docker_process_sql() {
    local password="$MYSQL_ROOT_PASSWORD"
    if [[ "${1:-}" == --dont-use-mysql-root-password ]]; then
        password=""
        shift
    fi
    if [[ -n "$MYSQL_DATABASE" ]]; then
        set -- --database="$MYSQL_DATABASE" "$@"
    fi
    mysql --defaults-extra-file=<(printf '[client]\npassword=%s\n' "$(sql_string "$password")") \
        --protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}

init_database() {
    if [[ -z "$MYSQL_ROOT_PASSWORD" && -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ]]; then
        echo "error: the database is uninitialized and MYSQL_ROOT_PASSWORD is not set" >&2
        exit 1
    fi
    mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve >/dev/null
    mariadbd --skip-networking --socket="$SOCKET" --datadir="$DATADIR" &
    local i
    for i in {30..0}; do
        docker_process_sql --dont-use-mysql-root-password --database=mysql <<<'SELECT 1' \
            &>/dev/null && break
        sleep 1
    done
    ((i > 0)) || { echo "error: the temporary server did not start" >&2; exit 1; }

    local password root_host="$MYSQL_ROOT_HOST"
    password="$(sql_string "$MYSQL_ROOT_PASSWORD")"
    {
        echo "DELETE FROM mysql.global_priv WHERE NOT (User = 'root' AND Host = 'localhost')"
        echo "    AND User <> 'mariadb.sys';"
        echo "FLUSH PRIVILEGES;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $password;"
        if [[ -n "$root_host" && "$root_host" != localhost ]]; then
            echo "CREATE USER 'root'@'$root_host' IDENTIFIED BY $password;"
            echo "GRANT ALL ON *.* TO 'root'@'$root_host' WITH GRANT OPTION;"
        fi
        if [[ -n "$MYSQL_DATABASE" ]]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
        fi
        if [[ -n "$MYSQL_USER" && -n "$MYSQL_PASSWORD" ]]; then
            echo "CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
            [[ -z "$MYSQL_DATABASE" ]] \
                || echo "GRANT ALL ON \`${MYSQL_DATABASE//_/\\_}\`.* TO '$MYSQL_USER'@'%';"
        fi
    } | MYSQL_DATABASE='' docker_process_sql --dont-use-mysql-root-password --database=mysql

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
                docker_process_sql <"$f"
                ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
    mysqladmin --defaults-extra-file=<(printf '[client]\npassword=%s\n' "$password") \
        -uroot --socket="$SOCKET" shutdown
    wait
    echo "MySQL init process done. Ready for start up."
}

if [[ "${1:0:1}" == - ]]; then
    set -- mysqld "$@"
fi
if [[ "$1" != mysqld && "$1" != mariadbd ]]; then
    exec "$@"
fi
if [[ "$(id -u)" == 0 ]]; then
    chown mysql:mysql "$DATADIR" /var/run/mysqld
    exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi

file_env MYSQL_ROOT_HOST %
file_env MYSQL_DATABASE
file_env MYSQL_USER
file_env MYSQL_PASSWORD
file_env MYSQL_ROOT_PASSWORD
if [[ ! -d "$DATADIR/mysql" ]]; then
    init_database
fi
shift
exec mariadbd "$@"
