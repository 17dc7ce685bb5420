#!/usr/bin/env bash
# The whole test suite on the real local services (the tests start them, or reuse running ones).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
bash deployments/local/system-packages.sh
uv run dagster definitions validate -m avax_assets.definitions
set +e
uv run pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
