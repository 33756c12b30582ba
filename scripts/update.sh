#!/usr/bin/env bash
# Deploy script for a service whose state is a DuckDB file, guarded by dbguard.
#
#   ./scripts/update.sh            # deploy the current branch
#
# Settings (environment):
#   APP_DIR        the application checkout to update      (default: this repo's parent of scripts/)
#   STOP_CMD       how to stop the service                  (default: systemctl stop "$SERVICE")
#   START_CMD      how to start it again                    (default: systemctl start "$SERVICE")
#   INSTALL_CMD    the install/build step                   (default: npm ci --omit=dev)
#   SERVICE        the systemd unit name                    (default: app)
#   DBGUARD        the dbguard command                      (default: dbguard on PATH, else this repo's)
#
# The database must not be open while dbguard copies it (DuckDB allows one
# writer process and no readers beside it), so the service stops first.
# `dbguard pre-update` checks every database, backs up the healthy ones and
# repairs a damaged one; any failure stops the deploy here (set -e).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
APP_DIR="${APP_DIR:-$(dirname "$here")}"
SERVICE="${SERVICE:-app}"
STOP_CMD="${STOP_CMD:-systemctl stop $SERVICE}"
START_CMD="${START_CMD:-systemctl start $SERVICE}"
INSTALL_CMD="${INSTALL_CMD:-npm ci --omit=dev}"
if [ -z "${DBGUARD:-}" ]; then
  if command -v dbguard >/dev/null 2>&1; then DBGUARD=dbguard; else DBGUARD="node $here/../dist/cli/main.js"; fi
fi

cd "$APP_DIR"
echo "==> fetching the new version"
git pull --ff-only

echo "==> stopping the service"
$STOP_CMD

echo "==> checking and backing up the databases"
$DBGUARD pre-update || {
  code=$?
  echo "==> dbguard pre-update failed (exit $code): deploy stopped before the install step." >&2
  echo "    The service stays stopped. Run '$DBGUARD check both' to see why, fix it, then run this script again" >&2
  echo "    (or start the old version with: $START_CMD)." >&2
  exit "$code"
}

echo "==> installing"
$INSTALL_CMD

echo "==> starting the service"
$START_CMD
echo "==> deployed"
