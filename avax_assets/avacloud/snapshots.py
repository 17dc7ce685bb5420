"""Avalanche network snapshots from the AvaCloud Data API: each `Snapshot` is a dataset and the list
requests that fill it, declared together. Another snapshot dataset is another entry in SNAPSHOTS.

The API serves current state only: a partition holds what the network looked like when it ran
(`fetched_at`), filed under its `snapshot_date`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from avax_assets.avacloud.client import ApiPath, AvaCloudClient
from avax_assets.core.errors import BadField
from avax_assets.core.items import integer, item_row
from avax_assets.core.schema import BOOL, DATE, HEX, TEXT, TIMESTAMP, U8, U32, U64, U256, Column, Dataset, Partitioning

NETWORK = "{network}"  # in a path or query: the resource's network (mainnet, fuji, testnet)


SNAPSHOT = (
    Column("snapshot_date", DATE, description="the daily partition"),
    Column("fetched_at", TIMESTAMP, description="when the API was read: the state is as of this time"),
)


def snapshot(name: str, topic: str, description: str, key: str, *columns: Column) -> Dataset:
    return Dataset(name=name, topic=topic, description=description, key=("snapshot_date", key),
                   partition_column="snapshot_date", block_column=None, partitioning=Partitioning.SNAPSHOT_DAILY,
                   columns=(*SNAPSHOT, *columns))


CHAINS = snapshot(
    "chains", "avalanche.chains", "EVM chains known to AvaCloud (C-Chain and L1s).", "chain_id",
    Column("chain_id", TEXT, source="chainId"),
    Column("chain_name", TEXT, source="chainName"),
    Column("status", TEXT, source="status"),
    Column("vm_name", TEXT, source="vmName"),
    Column("is_testnet", BOOL, source="isTestnet"),
    Column("platform_chain_id", TEXT, nullable=True, source="platformChainId"),
    Column("subnet_id", TEXT, nullable=True, source="subnetId"),
    Column("vm_id", TEXT, nullable=True, source="vmId"),
    Column("rpc_url", TEXT, source="rpcUrl"),
    Column("explorer_url", TEXT, nullable=True, source="explorerUrl"),
    Column("network_token_symbol", TEXT, source="networkToken.symbol"),
    Column("network_token_decimals", U8, source="networkToken.decimals"),
    Column("enabled_features", TEXT, nullable=True, source="enabledFeatures"),
)

SUBNETS = snapshot(
    "subnets", "avalanche.subnets", "Subnets and L1s of the network.", "subnet_id",
    Column("subnet_id", TEXT, source="subnetId"),
    Column("is_l1", BOOL, source="isL1"),
    Column("create_block_timestamp", TIMESTAMP, source="createBlockTimestamp"),
    Column("create_block_index", U64, source="createBlockIndex"),
    Column("threshold", U32, source="threshold"),
    Column("locktime", U64, source="locktime"),
    Column("owner_addresses", TEXT, source="ownerAddresses"),
    Column("l1_conversion_transaction_hash", TEXT, nullable=True, source="l1ConversionTransactionHash"),
    Column("blockchains", TEXT, source="blockchains"),
)

BLOCKCHAINS = snapshot(
    "blockchains", "avalanche.blockchains", "Blockchains of the network and the subnet each runs on.",
    "blockchain_id",
    Column("blockchain_id", TEXT, source="blockchainId"),
    Column("blockchain_name", TEXT, source="blockchainName"),
    Column("subnet_id", TEXT, source="subnetId"),
    Column("vm_id", TEXT, source="vmId"),
    Column("evm_chain_id", U64, nullable=True, source="evmChainId"),
    Column("create_block_timestamp", TIMESTAMP, source="createBlockTimestamp"),
    Column("create_block_number", U64, source="createBlockNumber"),
)

VALIDATORS = snapshot(
    "validators", "avalanche.validators",
    "Validators: primary-network validations (active, pending, completed; one row per validation tx) and L1 "
    "validations (ACP-77, active and inactive; one row per validation id). Amounts in nAVAX.",
    "validation_id",
    Column("validation_id", TEXT, source="validationId",
           description="the validation tx hash (primary network) or the L1 validation id"),
    Column("validator_kind", TEXT, source="validatorKind", description="primary_network | l1"),
    Column("tx_hash", TEXT, nullable=True, source="txHash", description="primary network only"),
    Column("node_id", TEXT, source="nodeId"),
    Column("subnet_id", TEXT, source="subnetId"),
    Column("validation_status", TEXT, source="validationStatus",
           description="primary network: active | pending | completed; L1: active | inactive (no balance left) | "
                       "removed (weight 0)"),
    Column("amount_staked", U256, nullable=True, source="amountStaked", description="primary network only"),
    Column("amount_delegated", U256, nullable=True, source="amountDelegated"),
    Column("delegation_fee", TEXT, nullable=True, source="delegationFee", description="percent, exact decimal"),
    Column("start_timestamp", TIMESTAMP, source="startTimestamp", description="L1: creation time"),
    Column("end_timestamp", TIMESTAMP, nullable=True, source="endTimestamp", description="primary network only"),
    Column("delegator_count", U32, nullable=True, source="delegatorCount"),
    Column("stake_percentage", TEXT, nullable=True, source="stakePercentage", description="exact decimal"),
    Column("uptime_performance", TEXT, nullable=True, source="uptimePerformance", description="exact decimal"),
    Column("avalanchego_version", TEXT, nullable=True, source="avalancheGoVersion"),
    Column("potential_rewards", TEXT, nullable=True, source="potentialRewards", description="JSON, amounts as strings"),
    Column("rewards", TEXT, nullable=True, source="rewards", description="JSON, amounts as strings (completed)"),
    Column("weight", U64, nullable=True, source="weight", description="L1 only: sampling weight"),
    Column("remaining_balance", U256, nullable=True, source="remainingBalance",
           description="L1 only: balance left to pay the continuous fee, nAVAX"),
    Column("validation_id_hex", HEX, nullable=True, source="validationIdHex", description="L1 only"),
    Column("remaining_balance_owner", TEXT, nullable=True, source="remainingBalanceOwner",
           description="L1 only: JSON {addresses, threshold}"),
    Column("deactivation_owner", TEXT, nullable=True, source="deactivationOwner",
           description="L1 only: JSON {addresses, threshold}"),
)

DELEGATORS = snapshot(
    "delegators", "avalanche.delegators",
    "Primary-network delegations: active, pending and completed (one row per delegation tx). Amounts in nAVAX.",
    "tx_hash",
    Column("tx_hash", TEXT, source="txHash"),
    Column("node_id", TEXT, source="nodeId"),
    Column("delegation_status", TEXT, source="delegationStatus"),
    Column("reward_addresses", TEXT, source="rewardAddresses"),
    Column("amount_delegated", U256, source="amountDelegated"),
    Column("delegation_fee", TEXT, source="delegationFee", description="percent, exact decimal"),
    Column("start_timestamp", TIMESTAMP, source="startTimestamp"),
    Column("end_timestamp", TIMESTAMP, source="endTimestamp"),
    Column("estimated_gross_reward", U256, nullable=True, source="estimatedGrossReward"),
    Column("estimated_net_reward", U256, nullable=True, source="estimatedNetReward"),
    Column("gross_reward", U256, nullable=True, source="grossReward"),
    Column("net_reward", U256, nullable=True, source="netReward"),
)


@dataclass(frozen=True)
class Endpoint:
    """One list request of a snapshot; `{network}` in the path, or NETWORK as a query value, is the
    network the resource names."""

    path: ApiPath
    items_key: str
    query: dict = field(default_factory=dict)
    paged: bool = True
    # maps one API item onto the dataset's source paths, where a dataset gathers unlike lists
    adapt: Callable[[dict], dict] | None = None


@dataclass(frozen=True)
class Snapshot:
    dataset: Dataset
    endpoints: tuple[Endpoint, ...]


STAKING_STATUSES = ("active", "pending", "completed")


def primary_network_validation(item: dict) -> dict:
    """A primary-network validation is identified by the hash of the tx that added it."""
    if "txHash" not in item:
        raise BadField("txHash", "is missing")
    return {**item, "validatorKind": "primary_network", "validationId": item["txHash"]}


def l1_validation(item: dict) -> dict:
    """An L1 validation (ACP-77) has no status in the API: it is removed at weight 0, inactive once its
    balance for the continuous fee runs out, active otherwise."""
    for required in ("weight", "remainingBalance", "creationTimestamp"):
        if item.get(required) is None:
            raise BadField(required, "is missing")
    weight = integer("weight", item["weight"])
    balance = integer("remainingBalance", item["remainingBalance"])
    status = "removed" if weight == 0 else "inactive" if balance == 0 else "active"
    return {**item, "validatorKind": "l1", "validationStatus": status, "startTimestamp": item["creationTimestamp"]}


CHAINS_PATH = ApiPath("/v1/chains", cost=1)
SUBNETS_PATH = ApiPath("/v1/networks/{network}/subnets", cost=20)
BLOCKCHAINS_PATH = ApiPath("/v1/networks/{network}/blockchains", cost=20)
VALIDATORS_PATH = ApiPath("/v1/networks/{network}/validators", cost=20)
L1_VALIDATORS_PATH = ApiPath("/v1/networks/{network}/l1Validators", cost=20)
DELEGATORS_PATH = ApiPath("/v1/networks/{network}/delegators", cost=20)

# The requests that make up each snapshot (lists discriminated by status: one request per status).
SNAPSHOTS = (
    Snapshot(CHAINS, (Endpoint(CHAINS_PATH, "chains", query={"network": NETWORK}, paged=False),)),
    Snapshot(SUBNETS, (Endpoint(SUBNETS_PATH, "subnets"),)),
    Snapshot(BLOCKCHAINS, (Endpoint(BLOCKCHAINS_PATH, "blockchains"),)),
    Snapshot(VALIDATORS, (
        *(Endpoint(VALIDATORS_PATH, "validators", {"validationStatus": status}, adapt=primary_network_validation)
          for status in STAKING_STATUSES),
        Endpoint(L1_VALIDATORS_PATH, "validators", {"includeInactiveL1Validators": "true"}, adapt=l1_validation),
    )),
    Snapshot(DELEGATORS, tuple(Endpoint(DELEGATORS_PATH, "delegators", {"delegationStatus": status})
                               for status in STAKING_STATUSES)),
)


def snapshot_rows(dataset: Dataset, partition: str, items: list[dict], fetched_at: int,
                  endpoint: Endpoint | None = None, network: str = "mainnet") -> list[dict]:
    day = dt.date.fromisoformat(partition)
    adapt = endpoint.adapt if endpoint else None
    where = f" of {endpoint.path.format(network=network)}" if endpoint else ""
    return [{"snapshot_date": day, "fetched_at": fetched_at,
             **item_row(dataset, partition, item, f"item {position}{where}", adapt)}
            for position, item in enumerate(items)]


def extract_snapshot(client: AvaCloudClient, snapshot: Snapshot, network: str, partition: str,
                     fetched_at: int) -> Iterator[pa.RecordBatch]:
    on = {"network": network}
    for endpoint in snapshot.endpoints:
        query = {k: network if v == NETWORK else v for k, v in endpoint.query.items()}
        pages = client.pages(endpoint.path, endpoint.items_key, on, query) if endpoint.paged \
            else iter([client.get(endpoint.path, on, query).get(endpoint.items_key, [])])
        for items in pages:
            yield pa.RecordBatch.from_pylist(snapshot_rows(snapshot.dataset, partition, items, fetched_at, endpoint,
                                                           network), schema=snapshot.dataset.arrow_schema)
