#!/usr/bin/env bash
# Run the whole system without Docker: the API (port 5001) and the dashboard (port 8080), each
# with its Dockerfile's command (gunicorn -c gunicorn.conf.py) from .venv, against PostgreSQL
# and MySQL servers that already run. Ctrl-C stops both.
#
# Environment (admin URLs: the user must be able to create the database and its tables):
#   SOURCE_ADMIN_URL     default postgresql://postgres@127.0.0.1:5432/retail
#   WAREHOUSE_ADMIN_URL  default mysql://root@127.0.0.1:3306/retail_dw
#   BACKEND_PORT (5001), FRONTEND_PORT (8080), HEALTH_TIMEOUT (seconds, 60)
#
# Each database is created if missing and initialized from postgres-init/*.sql or
# mysql-init/*.sql only when it is empty (no table online_sales / etl_runs). The .sh init
# scripts (read-only role, ETL user) are not run: the services use the admin URLs.
# SECRET_KEY and API_TOKEN are generated at every start and printed.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
SOURCE_ADMIN_URL=${SOURCE_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/retail}
WAREHOUSE_ADMIN_URL=${WAREHOUSE_ADMIN_URL:-mysql://root@127.0.0.1:3306/retail_dw}
BACKEND_PORT=${BACKEND_PORT:-5001}
FRONTEND_PORT=${FRONTEND_PORT:-8080}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}

die() {
    printf 'local: %s\n' "$*" >&2
    exit 1
}

for tool in psql mysql python3 curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done

# 1. The virtualenv, as scripts/test.sh builds it (reinstalled when a requirements file changed).
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
stamp="$VENV/.requirements.sha256"
wanted=$(cat requirements-dev.txt backend/requirements.txt frontend/requirements.txt | sha256sum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
    echo "$wanted" >"$stamp"
fi
# The dashboard serves Chart.js from frontend/node_modules, as the image installs it.
if [ -f frontend/package-lock.json ] && [ ! -f frontend/node_modules/.package-lock.json ]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed once to install Chart.js"
    (cd frontend && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi

# 2. The URLs, split into their parts by Python (user, password, host, port, database).
url_part() { # url part
    "$VENV/bin/python" -c '
import sys
from urllib.parse import unquote, urlsplit
url = urlsplit(sys.argv[1])
default_port = {"postgresql": 5432, "postgres": 5432, "mysql": 3306}.get(url.scheme, 0)
print({
    "user": unquote(url.username or ""),
    "password": unquote(url.password or ""),
    "host": url.hostname or "127.0.0.1",
    "port": url.port or default_port,
    "db": url.path.lstrip("/"),
}[sys.argv[2]])' "$1" "$2"
}

PG_DB=$(url_part "$SOURCE_ADMIN_URL" db)
MY_DB=$(url_part "$WAREHOUSE_ADMIN_URL" db)
[[ "$PG_DB" =~ ^[A-Za-z0-9_]+$ ]] || die "SOURCE_ADMIN_URL must name a database ([A-Za-z0-9_])"
[[ "$MY_DB" =~ ^[A-Za-z0-9_]+$ ]] || die "WAREHOUSE_ADMIN_URL must name a database ([A-Za-z0-9_])"

pg() { # database, psql arguments...
    local db=$1
    shift
    PGPASSWORD=$(url_part "$SOURCE_ADMIN_URL" password) psql -X -q -v ON_ERROR_STOP=1 \
        -h "$(url_part "$SOURCE_ADMIN_URL" host)" -p "$(url_part "$SOURCE_ADMIN_URL" port)" \
        -U "$(url_part "$SOURCE_ADMIN_URL" user)" -d "$db" "$@"
}

my() { # mysql arguments...
    MYSQL_PWD=$(url_part "$WAREHOUSE_ADMIN_URL" password) mysql --protocol=TCP \
        -h "$(url_part "$WAREHOUSE_ADMIN_URL" host)" -P "$(url_part "$WAREHOUSE_ADMIN_URL" port)" \
        -u "$(url_part "$WAREHOUSE_ADMIN_URL" user)" "$@"
}

# 3. The source database: created if missing, initialized if it has no online_sales table.
if [ -z "$(pg postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]; then
    echo "Creating PostgreSQL database $PG_DB"
    pg postgres -c "CREATE DATABASE \"$PG_DB\""
fi
if [ -z "$(pg "$PG_DB" -Atc "SELECT to_regclass('public.online_sales')")" ]; then
    for file in postgres-init/*.sql; do
        echo "PostgreSQL $PG_DB: $file"
        PGOPTIONS="-c client_min_messages=warning" pg "$PG_DB" -f "$file" >/dev/null
    done
else
    echo "PostgreSQL $PG_DB already has online_sales: not initialized again"
fi

# 4. The warehouse: created if missing, initialized if it has no etl_runs table.
my -e "CREATE DATABASE IF NOT EXISTS \`$MY_DB\` CHARACTER SET utf8mb4"
tables=$(my -N -B -e "SELECT COUNT(*) FROM information_schema.tables
    WHERE table_schema = '$MY_DB' AND table_name = 'etl_runs'")
if [ "$tables" = "0" ]; then
    for file in mysql-init/*.sql; do
        echo "MySQL $MY_DB: $file"
        my "$MY_DB" <"$file"
    done
else
    echo "MySQL $MY_DB already has etl_runs: not initialized again"
fi

# 5. The two servers, each in its directory with its Dockerfile's CMD.
SECRET_KEY=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))')
API_TOKEN=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(24))')
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/retail-local.XXXXXX")
mkdir -p "$RUN_DIR/metrics"
backend_pid=""
frontend_pid=""

# shellcheck disable=SC2329 # invoked by the traps below
stop() {
    trap - INT TERM EXIT
    echo
    echo "Stopping the dashboard and the API"
    for pid in $frontend_pid $backend_pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $frontend_pid $backend_pid; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$RUN_DIR"
    echo "Stopped."
}
# shellcheck disable=SC2329 # invoked by the trap below
on_signal() {
    stop
    exit 130
}
trap on_signal INT TERM
trap stop EXIT

(
    cd backend
    export SOURCE_DB_URL="$SOURCE_ADMIN_URL" WAREHOUSE_DB_URL="$WAREHOUSE_ADMIN_URL"
    export API_TOKEN PORT="$BACKEND_PORT" PROMETHEUS_MULTIPROC_DIR="$RUN_DIR/metrics"
    export INSTANCE_NAME=local-backend
    exec "$VENV/bin/gunicorn" -c gunicorn.conf.py
) &
backend_pid=$!
(
    cd frontend
    export SECRET_KEY API_TOKEN BACKEND_URL="http://127.0.0.1:$BACKEND_PORT"
    export GUNICORN_CMD_ARGS="--bind 0.0.0.0:$FRONTEND_PORT" PROXY_FIX_HOPS=0
    exec "$VENV/bin/gunicorn" -c gunicorn.conf.py
) &
frontend_pid=$!

wait_healthy() { # name url pid
    local deadline=$((SECONDS + HEALTH_TIMEOUT))
    until curl -fs -o /dev/null --max-time 2 "$2"; do
        kill -0 "$3" 2>/dev/null || die "the $1 exited before answering $2"
        ((SECONDS < deadline)) || die "the $1 did not answer $2 within ${HEALTH_TIMEOUT}s"
        sleep 0.5
    done
}
wait_healthy API "http://127.0.0.1:$BACKEND_PORT/health" "$backend_pid"
wait_healthy dashboard "http://127.0.0.1:$FRONTEND_PORT/health" "$frontend_pid"

cat <<EOF

Running (Ctrl-C stops both):
  dashboard  http://localhost:$FRONTEND_PORT
  API        http://localhost:$BACKEND_PORT
  source     $PG_DB (PostgreSQL), warehouse $MY_DB (MySQL)

SECRET_KEY=$SECRET_KEY
API_TOKEN=$API_TOKEN

  curl http://localhost:$BACKEND_PORT/health
  curl http://localhost:$BACKEND_PORT/sales
  curl -X POST -H "Authorization: Bearer $API_TOKEN" 'http://localhost:$BACKEND_PORT/run-etl?mode=full&wait=60'
  curl http://localhost:$BACKEND_PORT/etl-runs

EOF

# Until Ctrl-C, or until one server exits (then the other is stopped too).
status=0
wait -n "$backend_pid" "$frontend_pid" || status=$?
echo "local: a server exited (status $status)" >&2
exit 1
