"""The primary family's assets.

- p_chain_blocks, p_chain_transactions, p_chain_utxos: one step over one pass of the day (a joint asset), from
  the AvaCloud Data API, or from a node's platform API when AVAX_P_CHAIN_RPC_URL is set (the `p_chain` resource).
- p_chain_rewards: the rewards the day's RewardValidatorTxs paid, from the Data API, found by the addresses of
  the reward UTXOs in the stored p_chain_utxos (a day read from a node has none: its transactions hold no
  reward UTXOs, so its rewards are not found).
- atomic_transactions, atomic_inputs_outputs: decoded from the stored C-Chain `blocks` (no trip to the node),
  with a check that names every block whose extra data does not decode exactly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import pyarrow as pa

from avax_assets.avacloud.resources import AvaCloudResource
from avax_assets.avacloud.settings import AvaCloudNetwork
from avax_assets.chain.datasets import BLOCKS
from avax_assets.core.audits import AuditResult
from avax_assets.core.schema import CHAIN_ID, Dataset
from avax_assets.orchestration import pools
from avax_assets.orchestration.factory import (DatasetAsset, ExtractCheck, JointAsset, JointReader, PartitionReader,
                                              Run, SourceSystem, stateless)
from avax_assets.primary import data_api, node
from avax_assets.primary.atomic_rows import Undecodable, decode_blocks
from avax_assets.primary.datasets import (ATOMIC_INPUTS_OUTPUTS, ATOMIC_TRANSACTIONS, P_CHAIN_DATASETS, P_CHAIN_REWARDS,
                                          P_CHAIN_UTXOS)
from avax_assets.primary.resources import PChainResource

P_CHAIN_API = SourceSystem(
    "p_chain", "The P-Chain: the AvaCloud Data API's primary-network lists (AVAX_AVACLOUD_DATA_URL), or a node's "
    "platform API (AVAX_P_CHAIN_RPC_URL) when that is set. Rewards always come from the Data API.",
    kinds=("rest", "json-rpc"))
GROUP = "primary_network"


def _network(run: Run) -> str:
    return AvaCloudNetwork(run.resource(AvaCloudResource).settings().network).value


@contextmanager
def p_chain_source(run: Run, datasets: tuple[Dataset, ...]) -> Iterator[JointReader]:
    """The P-Chain's day from the node when one is set, else from the Data API; only `datasets` are kept."""
    names, network = {d.name for d in datasets}, _network(run)
    p_chain = run.resource(PChainResource)
    if p_chain.uses_node():
        with p_chain.client() as client:
            yield _reader(run, names, "node", lambda partition, counts: node.day_chunks(
                client, partition, data_api.NETWORK_IDS[network], counts.unknown_types))
        run.metadata["source"] = "p-chain node"
        return
    with run.resource(AvaCloudResource).client() as client:
        spent_before = client.budget.spent
        yield _reader(run, names, "data api", lambda partition, counts: data_api.day_chunks(
            client, network, partition, counts, node.KNOWN_TYPES))
        run.metadata.update(source="avacloud data api", compute_units=client.budget.spent - spent_before)


def _reader(run: Run, names: set[str], source: str, chunks) -> JointReader:
    def read(partition: str) -> Iterator[dict[str, pa.RecordBatch]]:
        started, counts = time.monotonic(), data_api.Counts()
        rows = dict.fromkeys(sorted(names), 0)
        for chunk in chunks(partition, counts):
            kept = {name: batch for name, batch in chunk.items() if name in names}
            for name, batch in kept.items():
                rows[name] += batch.num_rows
            yield kept
        if counts.unknown_types:
            run.log.warning(f"P-Chain {partition}: transactions of types no source names, kept as served: "
                            f"{counts.unknown_types}")
        run.note(partition, **rows, unknown_transaction_types=dict(counts.unknown_types),
                 items_outside_the_day=counts.outside_the_day, extract_seconds=round(time.monotonic() - started, 2))
    return read


def _member(dataset: Dataset) -> DatasetAsset:
    @contextmanager
    def alone(run: Run) -> Iterator[PartitionReader]:
        with p_chain_source(run, (dataset,)) as read:
            yield lambda partition: (chunk[dataset.name] for chunk in read(partition) if dataset.name in chunk)

    return DatasetAsset(dataset=dataset, group=GROUP, origin="From the AvaCloud Data API (or a P-Chain node: "
                        "AVAX_P_CHAIN_RPC_URL)", source=alone, resources=(PChainResource, AvaCloudResource),
                        pool=pools.AVACLOUD, reads=P_CHAIN_API)


P_CHAIN_MEMBERS = tuple(_member(dataset) for dataset in P_CHAIN_DATASETS)
P_CHAIN_JOINT = JointAsset("p_chain_blocks_transactions_utxos", members=P_CHAIN_MEMBERS, source=p_chain_source)


def reward_payments(batches) -> tuple[dict[str, dict], list[str]]:
    """The day's reward transactions (id → block position) and the addresses their reward UTXOs paid."""
    paid, addresses = {}, set()
    for batch in batches:
        for row in batch.select(["block_number", "block_timestamp", "transaction_id", "direction", "reward_type",
                                 "addresses"]).to_pylist():
            if row["direction"] == "produced" and row["reward_type"]:
                paid[row["transaction_id"]] = {"block_number": row["block_number"],
                                               "block_timestamp": row["block_timestamp"]}
                addresses.update(json.loads(row["addresses"] or "[]"))
    return paid, sorted(addresses)


@contextmanager
def rewards_source(run: Run) -> Iterator[PartitionReader]:
    network = _network(run)
    with run.resource(AvaCloudResource).client() as client:
        spent_before = client.budget.spent

        def read(partition: str) -> Iterator[pa.RecordBatch]:
            paid, addresses = reward_payments(run.inputs[P_CHAIN_UTXOS.name][partition].iter_batches())
            found = 0
            for batch in data_api.rewards(client, network, partition, paid, addresses) if paid else ():
                found += batch.num_rows
                yield batch
            run.note(partition, reward_transactions=len(paid), reward_addresses=len(addresses), rewards=found)

        yield read
        run.metadata["compute_units"] = client.budget.spent - spent_before


REWARDS_ASSET = DatasetAsset(
    dataset=P_CHAIN_REWARDS, group=GROUP, source=rewards_source, inputs=(P_CHAIN_UTXOS,),
    origin="From the AvaCloud Data API (listHistoricalPrimaryNetworkRewards), for the day's reward transactions",
    resources=(AvaCloudResource,), pool=pools.AVACLOUD, reads=P_CHAIN_API)

ATOMIC_PAYLOADS_DECODE = "atomic_payloads_decode"
UNDECODABLE_SHOWN = 20


def atomic_asset(dataset: Dataset) -> DatasetAsset:
    def read(run: Run, partition: str) -> Iterator[pa.RecordBatch]:
        decoded = decode_blocks(run.inputs[BLOCKS.name][partition].iter_batches(), run.chain_id or CHAIN_ID)
        failed = decoded.undecodable
        if failed:
            run.log.warning(f"{dataset.name} {partition}: {len(failed)} blocks whose extra data does not decode, "
                            f"left out whole, e.g. {failed[0]}")
        run.note(partition, atomic_transactions=len(decoded.transactions), undecodable_blocks=len(failed))
        run.check(ATOMIC_PAYLOADS_DECODE, partition, AuditResult(not failed, {
            "undecodable_blocks": len(failed), "blocks": dg.MetadataValue.md(_undecodable_table(failed))},
            f"{len(failed)} blocks whose extra data does not decode"))
        yield decoded.batch(dataset)

    return DatasetAsset(
        dataset=dataset, group=GROUP, origin=f"Decoded from `{BLOCKS.name}`.block_extra_data", source=stateless(read),
        inputs=(BLOCKS,), checks=(ExtractCheck(ATOMIC_PAYLOADS_DECODE, "Every block's atomic transactions decode "
                                               "exactly (a block that does not is left out whole and named)"),))


def _undecodable_table(failed: list[Undecodable]) -> str:
    lines = ["| block | hash | what is wrong |", "|---|---|---|"]
    lines += [f"| {f.block_number} | {f.block_hash} | {f.reason} |" for f in failed[:UNDECODABLE_SHOWN]]
    return "\n".join(lines)


ATOMIC_ASSETS = (atomic_asset(ATOMIC_TRANSACTIONS), atomic_asset(ATOMIC_INPUTS_OUTPUTS))
P_CHAIN_ASSETS = (*P_CHAIN_MEMBERS, REWARDS_ASSET)
ASSETS = (*P_CHAIN_ASSETS, *ATOMIC_ASSETS)
