"""The primary network's datasets: the P-Chain's blocks, transactions, their UTXOs and the staking rewards
(from the AvaCloud Data API, or a node's platform API), and the C-Chain's atomic transactions decoded from
the stored blocks' `block_extra_data`.

Amounts are exact (UInt256) and in nAVAX (10^-9 AVAX) for AVAX; ids are CB58 as the APIs show them.
"""

from avax_assets.chain.datasets import BLOCK_POSITION, BLOCKS
from avax_assets.core.schema import BOOL, CHAIN_ID, HEX, TEXT, TIMESTAMP, U32, U64, U256, Column, Dataset, ParentLink

P_CHAIN = "p-chain"  # the topics' chain part for the P-Chain (the C-Chain's is its EVM chain id)
P_BLOCK_POSITION = (
    Column("block_number", U64, description="P-Chain height"),
    Column("block_timestamp", TIMESTAMP),
)

P_CHAIN_BLOCKS = Dataset(
    name="p_chain_blocks",
    topic=f"avalanche.blocks.{P_CHAIN}",
    description="P-Chain blocks, one row per block.",
    key=("block_number",), hash_link=("block_id", "parent_block_id"),
    columns=(
        *P_BLOCK_POSITION,
        Column("block_id", TEXT),
        Column("parent_block_id", TEXT),
        Column("block_type", TEXT),
        Column("transaction_count", U32),
        Column("block_size", U32, nullable=True, description="null when the source does not say"),
        Column("proposer_node_id", TEXT, nullable=True, description="Data API source only"),
        Column("l1_validators_accrued_fees", U256, nullable=True, description="Data API source only"),
        Column("active_l1_validators", U32, nullable=True, description="Data API source only"),
        Column("current_supply", U256, nullable=True, description="Data API source only"),
    ),
)

P_CHAIN_TRANSACTIONS = Dataset(
    name="p_chain_transactions",
    topic=f"avalanche.transactions.{P_CHAIN}",
    description="P-Chain transactions, one row per transaction, of every type (UNKNOWN kept and counted).",
    key=("transaction_id",),
    parent=ParentLink(P_CHAIN_BLOCKS, on=("block_number",), count_column="transaction_count"),
    columns=(
        *P_BLOCK_POSITION,
        Column("block_id", TEXT),
        Column("transaction_id", TEXT),
        Column("tx_type", TEXT),
        Column("fee_burned", U256, nullable=True, description="AVAX burned"),
        Column("amount_staked", U256, nullable=True, description="AVAX locked by a staking transaction"),
        Column("l1_validator_balance", U256, nullable=True),
        Column("memo", TEXT, nullable=True),
        Column("node_id", TEXT, nullable=True),
        Column("subnet_id", TEXT, nullable=True),
        Column("l1_validation_id", TEXT, nullable=True,
               description="the L1 validation the transaction concerns, when it concerns one"),
        Column("l1_validators", TEXT, nullable=True),
        Column("weight", U64, nullable=True, description="the validator's weight (the stake, for the primary network)"),
        Column("start_timestamp", TIMESTAMP, nullable=True),
        Column("end_timestamp", TIMESTAMP, nullable=True),
        Column("reward_addresses", TEXT, nullable=True),
        Column("delegation_fee", TEXT, nullable=True, description="exact decimal"),
        Column("estimated_reward", U256, nullable=True, description="Data API source only"),
        Column("reward_transaction_id", TEXT, nullable=True, description="Data API source only"),
        Column("staking_transaction_id", TEXT, nullable=True),
        Column("source_blockchain_id", TEXT, nullable=True, description="ImportTx"),
        Column("destination_blockchain_id", TEXT, nullable=True, description="ExportTx"),
        Column("utxo_count", U32),
    ),
)

P_CHAIN_UTXOS = Dataset(
    name="p_chain_utxos",
    topic=f"avalanche.utxos.{P_CHAIN}",
    description="What each P-Chain transaction consumes and produces: one row per UTXO and direction.",
    key=("transaction_id", "direction", "utxo_id"),
    parent=ParentLink(P_CHAIN_TRANSACTIONS, on=("transaction_id",), count_column="utxo_count"),
    columns=(
        *P_BLOCK_POSITION,
        Column("transaction_id", TEXT, description="the transaction consuming or producing the UTXO"),
        Column("direction", TEXT),
        Column("utxo_id", TEXT),
        Column("utxo_transaction_id", TEXT),
        Column("output_index", U32),
        Column("asset_id", TEXT),
        Column("amount", U256, description="nAVAX for AVAX, the asset's base units otherwise"),
        Column("addresses", TEXT, nullable=True, description="null for a consumed UTXO from the node source"),
        Column("locktime", U64, nullable=True),
        Column("stakeable_locktime", U64, nullable=True),
        Column("threshold", U32, nullable=True, description="of addresses"),
        Column("staked", BOOL),
        Column("utxo_type", TEXT, nullable=True),
        Column("reward_type", TEXT, nullable=True),
        Column("created_on_blockchain_id", TEXT, nullable=True),
        Column("consumed_on_blockchain_id", TEXT, nullable=True),
    ),
)

P_CHAIN_REWARDS = Dataset(
    name="p_chain_rewards",
    topic=f"avalanche.rewards.{P_CHAIN}",
    description="Staking rewards paid, one row per reward UTXO, filed under the day of the transaction that "
                "paid them.",
    key=("utxo_id",),
    parent=ParentLink(P_CHAIN_TRANSACTIONS, on=("transaction_id",)),
    columns=(
        *P_BLOCK_POSITION,
        Column("transaction_id", TEXT, description="the RewardValidatorTx that paid the reward"),
        Column("staking_transaction_id", TEXT),
        Column("utxo_id", TEXT),
        Column("output_index", U32),
        Column("node_id", TEXT),
        Column("reward_type", TEXT),
        Column("asset_id", TEXT),
        Column("reward_amount", U256),
        Column("amount_staked", U256),
        Column("addresses", TEXT),
        Column("start_timestamp", TIMESTAMP),
        Column("end_timestamp", TIMESTAMP),
    ),
)

ATOMIC_TRANSACTIONS = Dataset(
    name="atomic_transactions",
    topic=f"avalanche.atomic-tx.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="The C-Chain's atomic import and export transactions (AVAX and other assets moved to and from "
                "the X- and P-Chains), decoded from the blocks' block_extra_data, one row per transaction.",
    key=("block_number", "transaction_id"),
    parent=ParentLink(BLOCKS, on=("block_number",)),
    columns=(
        *BLOCK_POSITION,
        Column("transaction_id", TEXT),
        Column("transaction_index", U32, description="position in the block's atomic transactions"),
        Column("atomic_type", TEXT),
        Column("network_id", U32),
        Column("blockchain_id", TEXT, description="the C-Chain"),
        Column("source_blockchain_id", TEXT),
        Column("destination_blockchain_id", TEXT),
        Column("fee_burned", U256, nullable=True, description="AVAX burned; null on a network whose AVAX asset id "
                                                               "is not known"),
        Column("avax_moved", U256, nullable=True, description="AVAX arriving on the destination chain; null as for "
                                                              "fee_burned"),
        Column("io_count", U32, description="rows in atomic_inputs_outputs"),
        Column("credential_count", U32),
        Column("transaction_size", U32),
    ),
)

ATOMIC_INPUTS_OUTPUTS = Dataset(
    name="atomic_inputs_outputs",
    topic=f"avalanche.atomic-io.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="The inputs and outputs of the C-Chain's atomic transactions: EVM accounts debited (export) or "
                "credited (import), and the UTXOs imported or exported, one row each.",
    key=("block_number", "transaction_id", "io_type", "position"),
    parent=ParentLink(ATOMIC_TRANSACTIONS, on=("block_number", "transaction_id"), count_column="io_count"),
    columns=(
        *BLOCK_POSITION,
        Column("transaction_id", TEXT),
        Column("io_type", TEXT, description="evm_input | evm_output | utxo_input | utxo_output"),
        Column("position", U32, description="position in its list"),
        Column("asset_id", TEXT),
        Column("amount", U256, description="nAVAX for AVAX, the asset's base units otherwise"),
        Column("evm_address", HEX, nullable=True, description="evm_input, evm_output"),
        Column("nonce", U64, nullable=True, description="evm_input: the account's nonce"),
        Column("utxo_id", TEXT, nullable=True, description="utxo_input: the UTXO imported; utxo_output: the UTXO "
                                                           "exported"),
        Column("utxo_transaction_id", TEXT, nullable=True),
        Column("output_index", U32, nullable=True),
        Column("addresses", TEXT, nullable=True, description="utxo_output"),
        Column("locktime", U64, nullable=True, description="utxo_output"),
        Column("threshold", U32, nullable=True, description="utxo_output: signatures needed of addresses"),
        Column("signature_indices", TEXT, nullable=True, description="utxo_input"),
    ),
)

P_CHAIN_DATASETS = (P_CHAIN_BLOCKS, P_CHAIN_TRANSACTIONS, P_CHAIN_UTXOS)
