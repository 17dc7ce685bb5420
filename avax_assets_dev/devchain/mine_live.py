"""Mine realistic blocks at a steady rate on an anvil, for the live path (services.sh up --with-live,
benchmarks/live_latency.py): the devchain's contracts are deployed first, then each block carries the
devchain's mix (native and token transfers of every standard, swaps, wraps, creations).

    uv run python -m avax_assets_dev.devchain.mine_live --rate 1 --seconds 60   # on the local stack's node

Prints one JSON line per block: {"block": n, "mined_at": Unix seconds when the node accepted it}.
"""

from __future__ import annotations

import argparse
import os
import json
import time

from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.config import environment
from avax_assets.chain.settings import RpcSettings
from avax_assets_dev.devchain.generator import LiveMiner


def mine(rpc_url: str, rate: float, seconds: float, transactions: int, swaps: int, seed: int = 7):
    """Yield (block, accepted at) for each block mined, `rate` blocks a second for `seconds`."""
    with JsonRpcClient(RpcSettings(url=rpc_url, batch_size=100, concurrency=1)) as rpc:
        miner = LiveMiner(rpc, seed)
        started = time.monotonic()
        for i in range(int(rate * seconds)):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            block = miner.block(transactions, swaps)
            yield block, time.time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpc-url", default=environment(os.environ).get("AVAX_RPC_URL", "http://127.0.0.1:8545"),
                        help="default: the local stack's node (its local.env), else http://127.0.0.1:8545")
    parser.add_argument("--rate", type=float, default=1.0, help="blocks per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--transactions", type=int, default=8, help="random actions per block (besides swaps)")
    parser.add_argument("--swaps", type=int, default=2, help="DEX swaps per block")
    args = parser.parse_args()
    for block, mined_at in mine(args.rpc_url, args.rate, args.seconds, args.transactions, args.swaps):
        print(json.dumps({"block": block, "mined_at": round(mined_at, 3)}), flush=True)


if __name__ == "__main__":
    main()
