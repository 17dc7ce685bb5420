#!/usr/bin/env bash
# Lint, the code location's check, then the tests in two lanes: those that need no service, then those on
# the real local services (the tests start them, or reuse running ones). Arguments go to both pytest runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
bash deployments/local/system-packages.sh
uv run ruff check
uv run dg check defs

lane() {
  set +e
  uv run pytest -m "$1" "${@:2}"
  local status=$?
  set -e
  if [ "$status" -eq 5 ]; then
    echo "pytest -m \"$1\" collected no tests: that is a failure" >&2
    return 1
  fi
  return "$status"
}

lane "not services" "$@"
lane services "$@"
