"""The events family's assets: each declared ABI event decoded from the stored `logs` partition (with the
transfer datasets' `no_malformed_logs` check), and `dex_pools`, the pools that emitted them with their
tokens."""

from __future__ import annotations

from avax_assets.chain.assets import contract_reads_asset, decoded_asset
from avax_assets.chain.calls import distinct_values
from avax_assets.chain.logs import LogEvent
from avax_assets.events.datasets import DEX_POOLS, EVENTS, POOL_EVENTS, DecodedEvent, PoolKind
from avax_assets.events.pools import pool_batches
from avax_assets.orchestration.factory import DatasetAsset, Run

GROUP = "events"


def event_log_decoder(event: DecodedEvent) -> LogEvent:
    return LogEvent(event.dataset, (event.topic0,), event.decode_log, event.contracts,
                    layout=event.abi_event.layout)


def event_asset(event: DecodedEvent) -> DatasetAsset:
    return decoded_asset(event_log_decoder(event), group=GROUP)


def pools_seen(run: Run, partition: str) -> dict[str, PoolKind]:
    found: dict[str, PoolKind] = {}
    for event in POOL_EVENTS:
        for address in distinct_values(run.inputs[event.dataset.name][partition].iter_batches(), "contract_address"):
            found.setdefault(address, event.pool)
    return found


ASSETS = (
    *(event_asset(event) for event in EVENTS),
    contract_reads_asset(DEX_POOLS, tuple(event.dataset for event in POOL_EVENTS), pools_seen, pool_batches,
                         group=GROUP, errors_column="call_errors"),
)
