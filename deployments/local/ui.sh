#!/usr/bin/env bash
# The Dagster UI on the project's instance (./dagster.yaml: what the demo recorded) and the local services,
# so every job also runs from the UI offline. Ports and home as for services.sh (flags or AVAX_LOCAL_*).
#   bash deployments/local/ui.sh [--port 3000]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export DAGSTER_HOME="$REPO"
PORT=3000
if [ "${1:-}" = "--port" ]; then PORT="$2"; shift 2; fi
uv run python -m avax_assets_dev.local.services up --with-fixtures "$@" >/dev/null
eval "$(uv run python -m avax_assets_dev.local.services env "$@")"
# One process for a whole run (not one per step): a local run takes seconds, as in the demo (docs/operations.md: The Dagster UI)
export AVAX_DAGSTER_EXECUTOR="${AVAX_DAGSTER_EXECUTOR:-in_process}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore}"
echo "Dagster UI on http://127.0.0.1:$PORT (Ctrl-C stops it; the local services keep running)"
exec uv run dagster dev -w workspace.yaml -h 127.0.0.1 -p "$PORT"
