"""Avalanche network datasets from the AvaCloud Data API, as daily snapshots.

The API serves current state only: a partition holds what the network looked like when it ran
(`fetched_at`), filed under its `snapshot_date`.
"""

from avax_assets.datasets.schema import BOOL, DATE, HEX, TEXT, TIMESTAMP, U8, U32, U64, U256, Column, Dataset

SNAPSHOT = (
    Column("snapshot_date", DATE, description="the daily partition"),
    Column("fetched_at", TIMESTAMP, description="when the API was read: the state is as of this time"),
)


def snapshot(name: str, topic: str, description: str, key: str, *columns: Column) -> Dataset:
    return Dataset(name=name, topic=topic, description=description, key=("snapshot_date", key),
                   partition_column="snapshot_date", block_column=None, partitioning="snapshot_daily",
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

BRIDGES = Dataset(
    name="bridges",
    topic="avalanche.bridges",
    description="ICM (Teleporter) messages by the UTC day of their source transaction (or of their delivery "
                "when the source is not indexed).",
    key=("message_id",),
    partition_column="message_timestamp",
    block_column=None,
    columns=(
        Column("message_timestamp", TIMESTAMP, description="source tx time, else destination tx time"),
        Column("message_id", TEXT, source="messageId"),
        Column("status", TEXT, source="status"),
        Column("icm_contract_address", TEXT, source="icmContractAddress"),
        Column("source_blockchain_id", TEXT, source="sourceBlockchainId"),
        Column("destination_blockchain_id", TEXT, source="destinationBlockchainId"),
        Column("source_evm_chain_id", TEXT, source="sourceEvmChainId"),
        Column("destination_evm_chain_id", TEXT, source="destinationEvmChainId"),
        Column("message_nonce", U256, source="messageNonce"),
        Column("from_address", TEXT, source="from"),
        Column("to_address", TEXT, source="to"),
        Column("message_executed", BOOL, source="messageExecuted"),
        Column("receipt_delivered", BOOL, source="receiptDelivered"),
        Column("source_tx_hash", TEXT, nullable=True, source="sourceTransaction.txHash"),
        Column("source_timestamp", TIMESTAMP, nullable=True, source="sourceTransaction.timestamp"),
        Column("source_gas_spent", U256, nullable=True, source="sourceTransaction.gasSpent"),
        Column("destination_tx_hash", TEXT, nullable=True, source="destinationTransaction.txHash"),
        Column("destination_timestamp", TIMESTAMP, nullable=True, source="destinationTransaction.timestamp"),
        Column("destination_gas_spent", U256, nullable=True, source="destinationTransaction.gasSpent"),
        Column("reward_token_address", TEXT, source="rewardDetails.address"),
        Column("reward_value", U256, source="rewardDetails.value"),
        Column("fetched_at", TIMESTAMP),
    ),
)
