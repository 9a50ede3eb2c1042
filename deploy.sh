#!/usr/bin/env bash
# Build and start the retail ETL stack with Docker Compose, and wait until every service is
# healthy. On the first run it writes .env with random secrets; an existing .env is never
# touched. ./deploy-scaled.sh is this script with --scaled.
set -euo pipefail

readonly DEFAULT_BACKEND_REPLICAS=3
readonly DEFAULT_FRONTEND_REPLICAS=2
readonly MAX_REPLICAS=32
readonly SCALED_FILE=docker-compose-scaled.yml

usage() {
    cat <<EOF
Usage: ./deploy.sh [--scaled [--backend N] [--frontend M]]
       ./deploy-scaled.sh [--backend N] [--frontend M]

Builds the images and starts the stack with 'docker compose up -d --build --wait'.
On the first run, writes .env (see .env.example) with random passwords and tokens.

  (default)       docker-compose.yml: dashboard on :8080, API on :5001
  --scaled        $SCALED_FILE: nginx on :80 in front of several
                  dashboard and API replicas; nginx is reloaded afterwards so it
                  sends traffic to every replica
  --backend N     API replicas with --scaled (1-$MAX_REPLICAS, default $DEFAULT_BACKEND_REPLICAS)
  --frontend M    dashboard replicas with --scaled (1-$MAX_REPLICAS, default $DEFAULT_FRONTEND_REPLICAS)
  -h, --help      show this help

Both topologies are the same compose project (retail-etl) and share its database volumes.
Environment: DEPLOY_WAIT_TIMEOUT, seconds to wait for health (default 300).
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
    local scaled=false replicas_given=false
    local backend="$DEFAULT_BACKEND_REPLICAS" frontend="$DEFAULT_FRONTEND_REPLICAS"
    while (($#)); do
        case "$1" in
            -h | --help)
                usage
                return 0
                ;;
            --scaled) scaled=true ;;
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
    require_docker
    write_env_file

    local -a compose=(docker compose) up_args=()
    if [[ "$scaled" == true ]]; then
        compose+=(-f "$SCALED_FILE")
        up_args=(--scale "backend-api=$backend" --scale "frontend=$frontend")
        echo "Starting the scaled stack: $backend API and $frontend dashboard replicas behind nginx."
    else
        echo "Starting the stack."
    fi
    if ! "${compose[@]}" up -d --build --wait --wait-timeout "$wait_timeout" ${up_args[@]+"${up_args[@]}"}; then
        echo "deploy: the stack did not become healthy. See: ${compose[*]} ps; ${compose[*]} logs" >&2
        exit 1
    fi

    if [[ "$scaled" == true ]]; then
        # nginx resolves the replicas' addresses when it (re)loads its configuration: a reload
        # makes it send traffic to replicas added by this run and forget removed ones.
        "${compose[@]}" exec -T nginx nginx -s reload \
            || die "could not reload nginx; run: ${compose[*]} exec nginx nginx -s reload"
        print_usage_hints "http://localhost/api" "http://localhost/"
    else
        print_usage_hints "http://localhost:5001" "http://localhost:8080"
    fi
}

main "$@"
