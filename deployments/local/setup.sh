#!/usr/bin/env bash
# Install everything the project needs on a fresh machine (idempotent): uv, the locked Python
# environment, and the node tools (anvil, solc) from the npm registry. Sourced by demo.sh and test.sh.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet uv
fi
# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on this machine), every process
# would otherwise compile dagster, polars and pandas from source again (import: 5.3 s against 1.9 s)
export UV_COMPILE_BYTECODE=1
uv sync --frozen --quiet
.venv/bin/python -m compileall -q -j 0 avax_assets avax_assets_dev avax_assets_tests benchmarks >/dev/null
if [ ! -x deployments/local/node/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ] || [ ! -e deployments/local/node/node_modules/@stoplight/prism-cli/dist/index.js ] || [ ! -e deployments/local/node/node_modules/avalanche/dist/index.js ]; then
  (cd deployments/local/node && npm install --no-audit --no-fund --loglevel=error)
fi
