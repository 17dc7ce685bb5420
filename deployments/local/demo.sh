#!/usr/bin/env bash
# The main job, offline: start the local services (Kafka, S3, anvil), generate the devchain and
# materialize every chain asset of its complete days through Kafka → Parquet on S3 → ClickHouse.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
uv run python -m avax_assets_dev.demo "$@"
