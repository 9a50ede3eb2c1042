#!/usr/bin/env bash
# Build and start the retail ETL stack with Docker Compose, and wait until every service is
# healthy. On the first run it writes .env with random secrets (an existing .env is never
# touched); on every run it writes the secret files of .secrets/ from .env, which the services
# read from /run/secrets/. ./deploy-scaled.sh is this script with --scaled.
set -euo pipefail

readonly DEFAULT_BACKEND_REPLICAS=3
readonly DEFAULT_FRONTEND_REPLICAS=2
readonly MAX_REPLICAS=32
readonly SCALED_FILE=docker-compose-scaled.yml
readonly SECRETS_DIR=.secrets
# What .env must set, and the optional settings with secrets of their own.
readonly REQUIRED_SETTINGS=(POSTGRES_USER POSTGRES_PASSWORD SOURCE_DB_READONLY_USER
    SOURCE_DB_READONLY_PASSWORD MYSQL_ROOT_PASSWORD WAREHOUSE_DB_USER WAREHOUSE_DB_PASSWORD
    API_TOKEN SECRET_KEY)

usage() {
    cat <<EOF
Usage: ./deploy.sh [--scaled [--backend N] [--frontend M]] [--secrets-only]
       ./deploy-scaled.sh [--backend N] [--frontend M]

Builds the images and starts the stack with 'docker compose up -d --build --wait'.
On the first run, writes .env (see .env.example) with random passwords and tokens; on every
run, writes the secret files in $SECRETS_DIR/ from .env.

  (default)       docker-compose.yml: dashboard on :\${DASHBOARD_PORT:-8080}, API on :\${API_PORT:-5001}
  --scaled        $SCALED_FILE: nginx on :\${HTTP_PORT:-80} in front of several
                  dashboard and API replicas (rescale later with plain
                  'docker compose -f $SCALED_FILE up -d --scale backend-api=N')
  --backend N     API replicas with --scaled (1-$MAX_REPLICAS, default $DEFAULT_BACKEND_REPLICAS)
  --frontend M    dashboard replicas with --scaled (1-$MAX_REPLICAS, default $DEFAULT_FRONTEND_REPLICAS)
  --secrets-only  write .env (first run) and $SECRETS_DIR/, then stop: for a plain
                  'docker compose up' or 'docker stack deploy -c docker-stack.yml'
  -h, --help      show this help

Both topologies are the same compose project (retail-etl) and share its database volumes.
Environment: DEPLOY_WAIT_TIMEOUT, seconds to wait for health (default 300); the image and
port variables of the compose files (see .env.example).
EOF
}

die() {
    printf 'deploy: %s\n' "$*" >&2
    exit 1
}

replica_count() { # name value
    if [[ ! "$2" =~ ^[1-9][0-9]{0,2}$ ]] || (($2 > MAX_REPLICAS)); then
        die "$1 must be a whole number from 1 to $MAX_REPLICAS, not '$2'"
    fi
    printf '%s' "$2"
}

require_docker() {
    command -v docker >/dev/null 2>&1 \
        || die "docker was not found on PATH. Install Docker Engine with the Compose plugin (https://docs.docker.com/engine/install/) and run this again."
    docker compose version >/dev/null 2>&1 \
        || die "'docker compose version' failed: the Docker Compose v2 plugin is missing. Install docker-compose-plugin (https://docs.docker.com/compose/install/) and run this again."
    docker info >/dev/null 2>&1 \
        || die "the Docker daemon is not reachable ('docker info' failed): start Docker, or add this user to the docker group, and run this again."
}

random_secret() {
    if command -v openssl >/dev/null 2>&1; then
        openssl rand -hex 24
    else
        od -An -tx1 -N24 /dev/urandom | tr -d ' \n'
    fi
}

write_env_file() {
    if [[ -e .env ]]; then
        echo "Using the existing .env."
        return
    fi
    local postgres_password readonly_password mysql_root_password warehouse_password
    local api_token secret_key
    postgres_password="$(random_secret)"
    readonly_password="$(random_secret)"
    mysql_root_password="$(random_secret)"
    warehouse_password="$(random_secret)"
    api_token="$(random_secret)"
    secret_key="$(random_secret)"
    for value in "$postgres_password" "$readonly_password" "$mysql_root_password" \
        "$warehouse_password" "$api_token" "$secret_key"; do
        [[ ${#value} -ge 32 ]] || die "could not generate random secrets (openssl or /dev/urandom)"
    done
    # noclobber: if another run wrote .env meanwhile, fail rather than overwrite it.
    (
        umask 077
        set -o noclobber
        cat >.env <<EOF
# Written by deploy.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Explained in .env.example.
# Keep it private; the databases read their passwords from it on their first start only.
POSTGRES_USER=retail_owner
POSTGRES_PASSWORD=$postgres_password
SOURCE_DB_READONLY_USER=retail_reader
SOURCE_DB_READONLY_PASSWORD=$readonly_password
MYSQL_ROOT_PASSWORD=$mysql_root_password
WAREHOUSE_DB_USER=retail_etl
WAREHOUSE_DB_PASSWORD=$warehouse_password
API_TOKEN=$api_token
API_READ_TOKEN=
SECRET_KEY=$secret_key
EOF
    ) || die "could not write .env"
    echo "Wrote .env with new random secrets (mode 600; keep it private)."
}

# Read .env into the associative array SETTINGS: KEY=VALUE lines (an optional "export ",
# optional quotes around the value), as Compose reads the file; comments and blanks skipped.
declare -A SETTINGS=()
read_env_file() {
    local line key value
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%$'\r'}"
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
        [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] \
            || die ".env: cannot read the line '$line' (expected NAME=value)"
        key="${BASH_REMATCH[2]}"
        value="${BASH_REMATCH[3]}"
        if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
            value="${BASH_REMATCH[1]}"
        fi
        SETTINGS[$key]="$value"
    done <.env
    local name
    for name in "${REQUIRED_SETTINGS[@]}"; do
        [[ -n "${SETTINGS[$name]:-}" ]] || die ".env does not set $name (see .env.example)"
        [[ "${SETTINGS[$name]}" != change-me ]] \
            || die ".env still has the placeholder 'change-me' for $name: replace it (see .env.example)"
    done
}

# Print setting $1 as Compose sees it: from the environment, else from .env, else $2.
setting() {
    local from_environment="${!1:-}"
    printf '%s' "${from_environment:-${SETTINGS[$1]:-$2}}"
}

# Percent-encode $1 for the user or password part of a URL.
url_encode() {
    local LC_ALL=C text="$1" out="" char i
    for ((i = 0; i < ${#text}; i++)); do
        char="${text:i:1}"
        if [[ "$char" =~ [A-Za-z0-9._~-] ]]; then
            out+="$char"
        else
            out+="$(printf '%%%02X' "'$char")"
        fi
    done
    printf '%s' "$out"
}

# Every reader strips the final newline; with it, an unset optional secret is still a file of
# one byte, as Swarm requires.
write_secret() { # name value
    local target="$SECRETS_DIR/$1" temporary="$SECRETS_DIR/.$1.new"
    printf '%s\n' "$2" >"$temporary"
    chmod 0444 "$temporary"
    mv -f "$temporary" "$target"
}

# The secret files the compose files mount, derived from .env on every run so that an edited
# or hand-written .env takes effect. A bind-mounted file keeps its host owner and mode, and each
# container runs as a user of its own: the files are readable by all (0444) inside a folder
# only this user may enter (0700).
write_secret_files() {
    read_env_file
    mkdir -p "$SECRETS_DIR"
    chmod 0700 "$SECRETS_DIR"
    local reader etl
    reader="$(url_encode "${SETTINGS[SOURCE_DB_READONLY_USER]}"):$(url_encode "${SETTINGS[SOURCE_DB_READONLY_PASSWORD]}")"
    etl="$(url_encode "${SETTINGS[WAREHOUSE_DB_USER]}"):$(url_encode "${SETTINGS[WAREHOUSE_DB_PASSWORD]}")"
    write_secret postgres_password "${SETTINGS[POSTGRES_PASSWORD]}"
    write_secret source_db_readonly_password "${SETTINGS[SOURCE_DB_READONLY_PASSWORD]}"
    write_secret mysql_root_password "${SETTINGS[MYSQL_ROOT_PASSWORD]}"
    write_secret warehouse_db_password "${SETTINGS[WAREHOUSE_DB_PASSWORD]}"
    write_secret source_db_url "postgresql://$reader@postgres-db:5432/retail"
    write_secret warehouse_db_url "mysql://$etl@mysql-db:3306/retail_dw"
    write_secret api_token "${SETTINGS[API_TOKEN]}"
    write_secret api_read_token "${SETTINGS[API_READ_TOKEN]:-}"
    write_secret secret_key "${SETTINGS[SECRET_KEY]}"
    echo "Wrote the secret files in $SECRETS_DIR/ from .env."
}

# The init scripts run on an empty volume only: bring databases made by an earlier version up
# to date, each with its owner account, inside its container. postgres-init/01-schema.sql is
# idempotent and is applied again as it is; the warehouse gets the migrations it lacks.
# shellcheck disable=SC2016 # the quoted variables are expanded inside the containers
upgrade_schemas() { # the compose command
    "$@" exec -T postgres-db sh -c \
        'exec psql -q -X -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"' \
        <postgres-init/01-schema.sql >/dev/null \
        || die "could not upgrade the source schema (postgres-init/01-schema.sql)"
    scripts/migrate-warehouse.sh "$@" exec -T mysql-db sh -c \
        'MYSQL_PWD="$(cat "$MYSQL_ROOT_PASSWORD_FILE")" exec mysql -N -B -uroot "$MYSQL_DATABASE"' \
        || die "could not upgrade the warehouse schema (scripts/migrate-warehouse.sh)"
}

print_usage_hints() { # base URL of the API, dashboard URL
    local api="$1" dashboard="$2"
    cat <<EOF

The retail ETL stack is up.
  Dashboard:  $dashboard
  API:        $api   (health: $api/health, OpenAPI: $api/openapi.json)

Try the API (POST /run-etl needs the token from .env):
  API_TOKEN="\$(sed -n 's/^API_TOKEN=//p' .env)"
  curl -X POST -H "Authorization: Bearer \$API_TOKEN" $api/run-etl
  curl -X POST -H "Authorization: Bearer \$API_TOKEN" '$api/run-etl?mode=full&wait=60'
  curl $api/sales
  curl '$api/sales?group_by=month&format=csv'
  curl $api/etl-runs
EOF
}

main() {
    local scaled=false replicas_given=false secrets_only=false
    local backend="$DEFAULT_BACKEND_REPLICAS" frontend="$DEFAULT_FRONTEND_REPLICAS"
    while (($#)); do
        case "$1" in
            -h | --help)
                usage
                return 0
                ;;
            --scaled) scaled=true ;;
            --secrets-only) secrets_only=true ;;
            --backend | --frontend)
                (($# >= 2)) || die "$1 needs a number (see --help)"
                if [[ "$1" == --backend ]]; then backend="$2"; else frontend="$2"; fi
                replicas_given=true
                shift
                ;;
            --backend=*) backend="${1#*=}" replicas_given=true ;;
            --frontend=*) frontend="${1#*=}" replicas_given=true ;;
            *) die "unknown argument '$1' (see --help)" ;;
        esac
        shift
    done
    if [[ "$scaled" == false && "$replicas_given" == true ]]; then
        die "--backend and --frontend apply to the scaled topology: use ./deploy-scaled.sh"
    fi
    backend="$(replica_count --backend "$backend")"
    frontend="$(replica_count --frontend "$frontend")"
    local wait_timeout="${DEPLOY_WAIT_TIMEOUT:-300}"
    [[ "$wait_timeout" =~ ^[1-9][0-9]*$ ]] \
        || die "DEPLOY_WAIT_TIMEOUT must be a number of seconds, not '$wait_timeout'"

    cd "$(dirname "${BASH_SOURCE[0]}")"
    if [[ "$secrets_only" == true ]]; then
        write_env_file
        write_secret_files
        return 0
    fi
    require_docker
    write_env_file
    write_secret_files

    local -a compose=(docker compose) up_args=()
    if [[ "$scaled" == true ]]; then
        compose+=(-f "$SCALED_FILE")
        up_args=(--scale "backend-api=$backend" --scale "frontend=$frontend")
        echo "Starting the scaled stack: $backend API and $frontend dashboard replicas behind nginx."
    else
        echo "Starting the stack."
    fi
    # The databases first, so that their schemas are upgraded before any API starts.
    if ! "${compose[@]}" up -d --wait --wait-timeout "$wait_timeout" postgres-db mysql-db; then
        echo "deploy: the databases did not become healthy. See: ${compose[*]} logs postgres-db mysql-db" >&2
        exit 1
    fi
    upgrade_schemas "${compose[@]}"
    if ! "${compose[@]}" up -d --build --wait --wait-timeout "$wait_timeout" ${up_args[@]+"${up_args[@]}"}; then
        echo "deploy: the stack did not become healthy. See: ${compose[*]} ps; ${compose[*]} logs" >&2
        exit 1
    fi

    if [[ "$scaled" == true ]]; then
        local host=localhost http_port
        http_port="$(setting HTTP_PORT 80)"
        [[ "$http_port" == 80 ]] || host+=":$http_port"
        print_usage_hints "http://$host/api" "http://$host/"
    else
        print_usage_hints "http://localhost:$(setting API_PORT 5001)" \
            "http://localhost:$(setting DASHBOARD_PORT 8080)"
    fi
}

main "$@"
