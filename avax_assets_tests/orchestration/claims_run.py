"""A CLI-like run for test_claims.py: `python -m avax_assets_tests.orchestration.claims_run SECONDS READY_FILE`
materializes one asset of the `rpc` pool through the path `avax-assets materialize` takes (claims.materialize,
on $DAGSTER_HOME's instance); the asset writes READY_FILE once it holds the slot, then sleeps SECONDS.
Exits as the CLI does: 0, 1 if the run failed, 128 + the signal that stopped it."""

import signal
import sys
import time
from pathlib import Path

import dagster as dg

from avax_assets.orchestration import claims
from avax_assets.orchestration.pools import RPC


def main(seconds: float, ready_file: str) -> int:
    @dg.asset(pool=RPC)
    def holds_rpc() -> None:
        Path(ready_file).write_text("ready")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.2)

    def say(line: str) -> None:
        print(f"claims_run: {line}", file=sys.stderr, flush=True)

    with dg.DagsterInstance.get() as instance:
        result, stopped_by = claims.materialize(  # Dagster's console log as quiet as the CLI's
            instance, [holds_rpc], say, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    if stopped_by is not None:
        say(f"stopped by {signal.Signals(stopped_by).name}")
        return 128 + stopped_by
    print(f"run {result.run_id}: {'success' if result.success else 'FAILED'}", flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main(float(sys.argv[1]), sys.argv[2]))
