#!/usr/bin/env bash
# Start, stop or show the local services: bash deployments/local/services.sh up|down|status|env
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
uv run python -m avax_assets_dev.local.services "$@"
