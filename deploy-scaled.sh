#!/usr/bin/env bash
# Build and start the scaled topology (docker-compose-scaled.yml): nginx on :80 in front of
# N API and M dashboard replicas. nginx finds the replicas through Docker's DNS at run time, so
# a later "docker compose -f docker-compose-scaled.yml up -d --scale backend-api=N" needs no
# reload, and neither does running this again with other numbers.
#
# Usage: ./deploy-scaled.sh [--backend N] [--frontend M]   (defaults: 3 and 2; --help)
# It is ./deploy.sh --scaled, which holds the logic (the checks, the .env it writes on first
# run, the secret files, the compose calls).
set -euo pipefail

exec "$(dirname "${BASH_SOURCE[0]}")/deploy.sh" --scaled "$@"
