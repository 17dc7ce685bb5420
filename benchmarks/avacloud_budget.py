"""Measure the request rate the AvaCloud client achieves against a configured compute-unit budget.

Several threads share one process budget (as concurrent Dagster steps do) and call a 20-CU endpoint
on the local fixture server; after the bucket's initial minute of credit is spent, the steady rate
must sit at the budget, never above.

    uv run python benchmarks/avacloud_budget.py [--cu-per-minute 1200 --threads 4 --seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avax_assets_dev.local.avacloud_fixtures import AvaCloudFixtureServer  # noqa: E402
from avax_assets.avacloud.client import AvaCloudClient, ComputeBudget  # noqa: E402
from avax_assets.avacloud.snapshots import SUBNETS_PATH as PATH  # noqa: E402
from avax_assets.avacloud.settings import AvaCloudSettings  # noqa: E402



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cu-per-minute", type=int, default=1200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    budget = ComputeBudget(args.cu_per_minute)
    stamps: list[float] = []
    lock = threading.Lock()
    with AvaCloudFixtureServer() as server:
        started = time.monotonic()
        deadline = started + args.seconds

        def worker() -> None:
            with AvaCloudClient(AvaCloudSettings(data_url=server.url), budget=budget) as client:
                while time.monotonic() < deadline:
                    client.get(PATH, {"network": "mainnet"})
                    with lock:
                        stamps.append(time.monotonic() - started)

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    cost = PATH.cost
    burst = sum(1 for t in stamps if t < 1.0)
    steady = [t for t in stamps if t >= 1.0]
    span = (steady[-1] - steady[0]) if len(steady) > 1 else float("nan")
    rate = (len(steady) - 1) * cost / span * 60 if len(steady) > 1 else float("nan")
    worst = max(sum(1 for u in stamps if t <= u < t + 60) for t in stamps) * cost
    print(f"budget {args.cu_per_minute} CU/min, {cost} CU per request, {args.threads} threads, {args.seconds:.0f}s")
    print(f"  first second (the bucket's credit): {burst} requests = {burst * cost} CU")
    print(f"  steady state: {len(steady)} requests, {rate:.0f} CU/min ({rate / args.cu_per_minute:.3f} of budget)")
    print(f"  most CU in any 60 s window: {worst} (bound: 2 x budget = {2 * args.cu_per_minute})")


if __name__ == "__main__":
    main()
