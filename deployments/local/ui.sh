#!/usr/bin/env bash
# The Dagster UI on the project's instance (./dagster.yaml: what the demo recorded) and the local services,
# so every job also runs from the UI offline. Ports and home as for services.sh (flags or AVAX_LOCAL_*).
usage() {
  cat <<'TEXT'
usage: bash deployments/local/ui.sh [--port N] [services.sh flags: --home DIR, --kafka-port N, --s3-port N, ...]

The Dagster UI (dagster dev) on http://127.0.0.1:N (default 3000) over the project's instance, after
starting the local services with the fixture servers. Ctrl-C stops the UI; the services keep running
(bash deployments/local/services.sh down stops them).
TEXT
}
set -euo pipefail
PORT=3000
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --port)
      if [ $# -lt 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
        echo "ui.sh: --port takes a port number 1-65535" >&2; exit 2
      fi
      PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#--port=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export DAGSTER_HOME="$REPO"
uv run python -m avax_assets_dev.local.services up --with-fixtures "${ARGS[@]}" >/dev/null
eval "$(uv run python -m avax_assets_dev.local.services env "${ARGS[@]}")"
# One process for a whole run (not one per step): a local run takes seconds, as in the demo (docs/operations.md: The Dagster UI)
export AVAX_DAGSTER_EXECUTOR="${AVAX_DAGSTER_EXECUTOR:-in_process}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"
echo "Dagster UI on http://127.0.0.1:$PORT (Ctrl-C stops it; the local services keep running)"
exec uv run dagster dev -w workspace.yaml -h 127.0.0.1 -p "$PORT"
