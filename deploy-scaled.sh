#!/usr/bin/env bash
# Build and start the scaled topology (docker-compose-scaled.yml): nginx on :80 in front of
# N API and M dashboard replicas, then reload nginx so it balances over all of them.
#
# Usage: ./deploy-scaled.sh [--backend N] [--frontend M]   (defaults: 3 and 2; --help)
# Run it again with other numbers to rescale. It is ./deploy.sh --scaled, which holds the logic
# (the checks, the .env it writes on first run, the compose calls).
set -euo pipefail

exec "$(dirname "${BASH_SOURCE[0]}")/deploy.sh" --scaled "$@"
