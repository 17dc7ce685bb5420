"""The P-Chain from the AvaCloud Data API: a day's blocks and transactions (listLatestPrimaryNetworkBlocks and
listLatestPrimaryNetworkTransactions, blockchainId p-chain, bounded by startTimestamp and endTimestamp), each
transaction's consumed and emitted UTXOs, and the rewards a day's RewardValidatorTxs paid
(listHistoricalPrimaryNetworkRewards, by the addresses they paid).

Every value is converted strictly (core/items.py) and named with the dataset, partition and item when it does
not fit. Items outside the day (the API's bounds may be inclusive) are left out and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pyarrow as pa

from avax_assets.avacloud.client import ApiPath, AvaCloudClient
from avax_assets.core.days import DAY_SECONDS, day_bounds
from avax_assets.core.errors import BadField, SourceDataError
from avax_assets.core.items import MISSING, convert, integer, lookup
from avax_assets.core.schema import Dataset
from avax_assets.primary import ids
from avax_assets.primary.datasets import P_CHAIN_BLOCKS, P_CHAIN_REWARDS, P_CHAIN_TRANSACTIONS, P_CHAIN_UTXOS

BLOCKS_PATH = ApiPath("/v1/networks/{network}/blockchains/{blockchainId}/blocks", cost=20)
TRANSACTIONS_PATH = ApiPath("/v1/networks/{network}/blockchains/{blockchainId}/transactions", cost=100)
REWARDS_PATH = ApiPath("/v1/networks/{network}/rewards", cost=100)
P_CHAIN_ALIAS = "p-chain"
NETWORK_IDS = {"mainnet": 1, "fuji": 5, "testnet": 5}
ADDRESSES_PER_REQUEST = 32  # reward addresses per rewards listing (they travel in the query string)


@dataclass
class Counts:
    """What a day's extraction left out or could not name: reported in the run's metadata."""

    outside_the_day: int = 0
    unknown_types: dict[str, int] = field(default_factory=dict)


class Row:
    """One API item read into a row: every value converted to its column's type, or named with where it was."""

    def __init__(self, dataset: Dataset, partition: str, item: dict, where: str) -> None:
        self.dataset, self.partition, self.item, self.where = dataset, partition, item, where
        self.values: dict = {}

    def fail(self, bad: BadField) -> SourceDataError:
        return SourceDataError(self.dataset.name, self.partition, bad.field, bad.detail, self.where)

    def set(self, column: str, value, source: str | None = None) -> None:
        """The column from a value (MISSING or None: null, where the column allows it)."""
        declared = self.dataset.column(column)
        try:
            self.values[column] = convert(_sourced(declared, source or column), value)
        except BadField as bad:
            raise self.fail(bad) from None

    def path(self, column: str, path: str, item: dict | None = None) -> None:
        self.set(column, lookup(self.item if item is None else item, path), path)


def _sourced(column, source: str):
    return replace(column, source=source)


def _json(value) -> str | object:
    return MISSING if value is None or value is MISSING else json.dumps(value, sort_keys=True, separators=(",", ":"))


def avax_total(amounts, avax: str | None, name: str, empty_is_null: bool) -> int | None:
    """The AVAX in a list of AssetAmounts (nAVAX, exact); null when the list is empty and that means 'none'."""
    if amounts is MISSING or amounts is None or (empty_is_null and not amounts):
        return None
    if not isinstance(amounts, list):
        raise BadField(name, f"is not a list: {amounts!r}")
    return sum(integer(f"{name}.amount", a.get("amount")) for a in amounts
               if isinstance(a, dict) and a.get("assetId") == avax)


# --- blocks -------------------------------------------------------------------------------------

BLOCK_PATHS = {"block_number": "blockNumber", "block_timestamp": "blockTimestamp", "block_id": "blockHash",
               "parent_block_id": "parentHash", "block_type": "blockType", "transaction_count": "txCount",
               "block_size": "blockSizeBytes", "proposer_node_id": "proposerDetails.proposerNodeId",
               "l1_validators_accrued_fees": "l1ValidatorsAccruedFees", "active_l1_validators": "activeL1Validators",
               "current_supply": "currentSupply"}


def block_row(partition: str, item: dict, where: str) -> dict:
    row = Row(P_CHAIN_BLOCKS, partition, item, where)
    for column, path in BLOCK_PATHS.items():
        row.path(column, path)
    return row.values


# --- transactions and their UTXOs ---------------------------------------------------------------

TRANSACTION_PATHS = {"block_number": "blockNumber", "block_timestamp": "blockTimestamp", "block_id": "blockHash",
                     "transaction_id": "txHash", "tx_type": "txType", "memo": "memo", "node_id": "nodeId",
                     "subnet_id": "subnetId", "start_timestamp": "startTimestamp", "end_timestamp": "endTimestamp",
                     "delegation_fee": "delegationFeePercent", "estimated_reward": "estimatedReward",
                     "reward_transaction_id": "rewardTxHash", "staking_transaction_id": "stakingTxHash",
                     "source_blockchain_id": "sourceChain", "destination_blockchain_id": "destinationChain"}


def transaction_row(partition: str, item: dict, where: str, avax: str | None) -> dict:
    row = Row(P_CHAIN_TRANSACTIONS, partition, item, where)
    for column, path in TRANSACTION_PATHS.items():
        row.path(column, path)
    try:
        row.set("fee_burned", avax_total(item.get("amountBurned", MISSING), avax, "amountBurned", False))
        row.set("amount_staked", avax_total(item.get("amountStaked", MISSING), avax, "amountStaked", True))
        row.set("l1_validator_balance", avax_total(item.get("amountL1ValidatorBalanceBurned", MISSING), avax,
                                                   "amountL1ValidatorBalanceBurned", True))
    except BadField as bad:
        raise row.fail(bad) from None
    l1 = item.get("l1ValidatorDetails") or []
    row.set("l1_validators", _json(l1 or None), "l1ValidatorDetails")
    single = l1[0] if len(l1) == 1 and isinstance(l1[0], dict) else {}
    row.set("l1_validation_id", single.get("validationId", MISSING), "l1ValidatorDetails.validationId")
    row.set("weight", single.get("weight", MISSING), "l1ValidatorDetails.weight")
    row.set("reward_addresses", _json(item.get("rewardAddresses")), "rewardAddresses")
    consumed, emitted = item.get("consumedUtxos"), item.get("emittedUtxos")
    for name, value in (("consumedUtxos", consumed), ("emittedUtxos", emitted)):
        if not isinstance(value, list):
            raise row.fail(BadField(name, "is missing" if value is None else f"is not a list: {value!r}"))
    row.set("utxo_count", len(consumed) + len(emitted), "consumedUtxos")
    return row.values


UTXO_PATHS = {"utxo_id": "utxoId", "utxo_transaction_id": "txHash", "output_index": "outputIndex",
              "asset_id": "asset.assetId", "amount": "asset.amount", "locktime": "platformLocktime",
              "stakeable_locktime": "stakeableLocktime", "threshold": "threshold", "utxo_type": "utxoType",
              "reward_type": "rewardType", "created_on_blockchain_id": "createdOnChainId",
              "consumed_on_blockchain_id": "consumedOnChainId"}


def utxo_rows(partition: str, transaction: dict, item: dict, where: str) -> list[dict]:
    rows = []
    for direction, key in (("consumed", "consumedUtxos"), ("produced", "emittedUtxos")):
        for position, utxo in enumerate(item[key]):
            row = Row(P_CHAIN_UTXOS, partition, utxo, f"{key}[{position}] of {where}")
            for column in ("block_number", "block_timestamp", "transaction_id"):
                row.values[column] = transaction[column]
            row.values["direction"] = direction
            for column, path in UTXO_PATHS.items():
                row.path(column, path)
            row.set("addresses", _json(utxo.get("addresses", MISSING)), "addresses")
            row.set("staked", utxo.get("staked", False), "staked")
            rows.append(row.values)
    return rows


# --- a day --------------------------------------------------------------------------------------

Chunk = dict[str, pa.RecordBatch]


def in_day(row: dict, start: int, end: int, counts: Counts) -> bool:
    inside = start <= row["block_timestamp"] < end
    counts.outside_the_day += not inside
    return inside


def day_query(partition: str) -> dict:
    start, end = day_bounds(partition)
    return {"startTimestamp": start, "endTimestamp": end - 1}


def day_chunks(client: AvaCloudClient, network: str, partition: str, counts: Counts,
               known_types: frozenset[str]) -> Iterator[Chunk]:
    """The day's blocks, then its transactions and their UTXOs, a page at a time."""
    on, start_end = {"network": network, "blockchainId": P_CHAIN_ALIAS}, day_bounds(partition)
    avax = ids.AVAX_ASSET.get(NETWORK_IDS.get(network, 0))
    about = f"p_chain_blocks {partition}"
    for number, items in enumerate(client.pages(BLOCKS_PATH, "blocks", on, day_query(partition), about=about)):
        rows = [block_row(partition, item, f"page {number} item {i} of {BLOCKS_PATH.template}")
                for i, item in enumerate(items)]
        yield {P_CHAIN_BLOCKS.name: _batch(P_CHAIN_BLOCKS, [r for r in rows if in_day(r, *start_end, counts)])}
    about = f"p_chain_transactions {partition}"
    for number, items in enumerate(client.pages(TRANSACTIONS_PATH, "transactions", on, day_query(partition),
                                                about=about)):
        transactions, utxos = [], []
        for i, item in enumerate(items):
            where = f"page {number} item {i} of {TRANSACTIONS_PATH.template}"
            row = transaction_row(partition, item, where, avax)
            if not in_day(row, *start_end, counts):
                continue
            if row["tx_type"] not in known_types:
                counts.unknown_types[row["tx_type"]] = counts.unknown_types.get(row["tx_type"], 0) + 1
            transactions.append(row)
            utxos += utxo_rows(partition, row, item, where)
        yield {P_CHAIN_TRANSACTIONS.name: _batch(P_CHAIN_TRANSACTIONS, transactions),
               P_CHAIN_UTXOS.name: _batch(P_CHAIN_UTXOS, utxos)}


def _batch(dataset: Dataset, rows: list[dict]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=dataset.arrow_schema)


# --- rewards ------------------------------------------------------------------------------------

REWARD_PATHS = {"staking_transaction_id": "txHash", "utxo_id": "utxoId", "output_index": "outputIndex",
                "node_id": "nodeId", "reward_type": "rewardType", "asset_id": "reward.assetId",
                "reward_amount": "reward.amount", "amount_staked": "amountStaked", "start_timestamp": "startTimestamp",
                "end_timestamp": "endTimestamp"}


def reward_row(partition: str, item: dict, where: str, paid_by: dict) -> dict:
    row = Row(P_CHAIN_REWARDS, partition, item, where)
    row.path("transaction_id", "rewardTxHash")
    payer = paid_by[row.values["transaction_id"]]
    row.values.update(block_number=payer["block_number"], block_timestamp=payer["block_timestamp"])
    for column, path in REWARD_PATHS.items():
        row.path(column, path)
    row.set("addresses", _json(item.get("addresses", MISSING)), "addresses")
    return row.values


def rewards(client: AvaCloudClient, network: str, partition: str, paid: dict[str, dict],
            addresses: list[str]) -> Iterator[pa.RecordBatch]:
    """The rewards the day's reward transactions (`paid`: id → its block position) paid to `addresses`. The
    listing holds each address's whole history, newest first: only rewards paid by one of the day's
    transactions are kept (once each), and paging stops at a page whose stakings all ended a day or more before
    the day (a reward is paid when its staking ends: a day's slack covers a payment just after midnight)."""
    seen: set[str] = set()
    start = day_bounds(partition)[0] - DAY_SECONDS
    for first in range(0, len(addresses), ADDRESSES_PER_REQUEST):
        query = {"addresses": ",".join(addresses[first:first + ADDRESSES_PER_REQUEST]), "sortOrder": "desc"}
        for number, items in enumerate(client.pages(REWARDS_PATH, "historicalRewards", {"network": network}, query,
                                                    about=f"p_chain_rewards {partition}")):
            rows = [reward_row(partition, item, f"page {number} item {i} of {REWARDS_PATH.template}", paid)
                    for i, item in enumerate(items) if item.get("rewardTxHash") in paid
                    and item.get("utxoId") not in seen]
            seen.update(row["utxo_id"] for row in rows)
            yield _batch(P_CHAIN_REWARDS, rows)
            if items and all(_ended_before(item, start) for item in items):
                break


def _ended_before(item: dict, start: int) -> bool:
    end = item.get("endTimestamp")
    return isinstance(end, (int, float)) and not isinstance(end, bool) and end < start
