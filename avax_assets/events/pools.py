"""DEX pools: every contract that emitted a declared pool event that day, with its two tokens from the
calls its kind declares (token0()/token1(), getTokenX()/getTokenY()), read at the day's last block."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow as pa

from avax_assets.chain.calls import ContractCall, address_return, read_contracts
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.events.datasets import DEX_POOLS, PoolKind

ROWS_PER_BATCH = 5_000


def pool_batches(client: JsonRpcClient, pools: dict[str, PoolKind], at: dict) -> Iterator[pa.RecordBatch]:
    """The rows of `pools` (address → kind), read at block `at`."""
    addresses = sorted(pools)
    for start in range(0, len(addresses), ROWS_PER_BATCH):
        chunk = addresses[start:start + ROWS_PER_BATCH]
        calls = [ContractCall(a, call) for a in chunk for call in pools[a].token_calls]
        outcomes = read_contracts(client, calls, at["block_number"])
        rows = []
        for i, address in enumerate(chunk):
            kind = pools[address]
            (token0, reason0), (token1, reason1) = (address_return(o) for o in outcomes[2 * i:2 * i + 2])
            errors = {call: reason for call, reason in zip(kind.token_calls, (reason0, reason1), strict=True) if reason}
            rows.append({**at, "pool_address": address, "dex": kind.dex, "token0": token0, "token1": token1,
                         "call_errors": json.dumps(errors, separators=(",", ":"), sort_keys=True) if errors else None})
        yield pa.RecordBatch.from_pylist(rows, schema=DEX_POOLS.source_schema)
