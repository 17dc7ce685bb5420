"""The chain family's datasets: blocks, transactions (with receipts), logs over JSON-RPC, and internal
transactions from call traces.

Blocks and transactions can come from the AvaCloud Data API instead (chain/data_api.py); the columns it
does not serve are nullable and stay null there. JSON-RPC fills every one of them.
"""

from avax_assets.core.schema import CHAIN_ID, HEX, TEXT, TIMESTAMP, U8, U32, U64, U256, Column, Dataset, ParentLink

BLOCK_POSITION = (
    Column("block_number", U64),
    Column("block_timestamp", TIMESTAMP),
    Column("block_hash", HEX),
)

BLOCKS = Dataset(
    name="blocks",
    topic=f"avalanche.blocks.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="C-Chain blocks, one row per block.",
    key=("block_number",), hash_link=("block_hash", "parent_hash"),
    columns=(
        *BLOCK_POSITION,
        Column("parent_hash", HEX),
        Column("miner", HEX, nullable=True, description="null from the Data API source"),
        Column("state_root", HEX, nullable=True, description="null from the Data API source"),
        Column("transactions_root", HEX, nullable=True, description="null from the Data API source"),
        Column("receipts_root", HEX, nullable=True, description="null from the Data API source"),
        Column("extra_data", HEX, nullable=True, description="null from the Data API source"),
        Column("size", U64, nullable=True, description="null from the Data API source"),
        Column("gas_limit", U64),
        Column("gas_used", U64),
        Column("base_fee_per_gas", U256, nullable=True),
        Column("difficulty", U256, nullable=True, description="null from the Data API source"),
        Column("transaction_count", U32),
        Column("block_gas_cost", U256, nullable=True, description="C-Chain only"),
        Column("ext_data_gas_used", U256, nullable=True, description="C-Chain only"),
        Column("blob_gas_used", U64, nullable=True),
        # Avalanche's header fields, as served (absent on older blocks, or from the Data API source: null)
        Column("ext_data_hash", HEX, nullable=True, description="C-Chain only"),
        Column("block_extra_data", HEX, nullable=True, description="C-Chain only"),
        Column("excess_blob_gas", U64, nullable=True),
        Column("parent_beacon_block_root", HEX, nullable=True),
        Column("timestamp_milliseconds", U64, nullable=True, description="from the upgrade that adds it"),
        Column("min_delay_excess", U64, nullable=True, description="from the upgrade that adds it"),
        # every other header field the node serves (null where absent: older blocks, subnet-evm, the Data API)
        Column("logs_bloom", HEX, nullable=True),
        Column("sha3_uncles", HEX, nullable=True),
        Column("mix_hash", HEX, nullable=True),
        Column("header_nonce", HEX, nullable=True),
        Column("withdrawals_root", HEX, nullable=True),
        Column("requests_hash", HEX, nullable=True),
        Column("target_exponent", U64, nullable=True),
        Column("min_price_exponent", U64, nullable=True),
        Column("target_excess", U64, nullable=True),
        Column("settled_height", U64, nullable=True),
        Column("settled_gas_unix", U64, nullable=True),
        Column("settled_gas_numerator", U64, nullable=True),
        Column("settled_excess", U64, nullable=True),
        Column("gas_config_validator_target_gas", U64, nullable=True),
        Column("gas_config_target_gas", U64, nullable=True),
        Column("gas_config_target_to_excess_scaling", U64, nullable=True),
        Column("gas_config_min_gas_price", U64, nullable=True),
        Column("gas_config_static_pricing", U64, nullable=True),
    ),
)

TRANSACTIONS = Dataset(
    name="transactions",
    topic=f"avalanche.transactions.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="C-Chain transactions joined with their receipts, one row per transaction.",
    key=("transaction_hash",),
    parent=ParentLink(BLOCKS, on=("block_number",), count_column="transaction_count"),
    columns=(
        *BLOCK_POSITION,
        Column("transaction_index", U32),
        Column("transaction_hash", HEX),
        Column("from_address", HEX),
        Column("to_address", HEX, nullable=True, description="null for contract creation"),
        Column("value", U256, description="AVAX transferred, wei"),
        Column("nonce", U64),
        Column("gas", U64, description="gas limit"),
        Column("gas_price", U256, nullable=True),
        Column("max_fee_per_gas", U256, nullable=True),
        Column("max_priority_fee_per_gas", U256, nullable=True),
        Column("input", HEX, nullable=True, description="null from the Data API source"),
        Column("transaction_type", U8),
        Column("signed_chain_id", U64, nullable=True),
        Column("status", U8, description="1 success, 0 reverted"),
        Column("gas_used", U64),
        Column("cumulative_gas_used", U64, nullable=True, description="null from the Data API source"),
        Column("effective_gas_price", U256),
        Column("transaction_fee", U256, description="gas_used * effective_gas_price, in wei"),
        Column("contract_address", HEX, nullable=True),
        Column("logs_count", U32, nullable=True, description="null from the Data API source"),
        # the type-specific fields and the signature (null where the type has none, or from the Data API)
        Column("access_list", TEXT, nullable=True, description="types 1-4"),
        Column("authorization_list", TEXT, nullable=True, description="type 4"),
        Column("max_fee_per_blob_gas", U256, nullable=True, description="type 3"),
        Column("blob_versioned_hashes", TEXT, nullable=True, description="type 3"),
        Column("y_parity", U8, nullable=True),
        Column("v", U64, nullable=True),
        Column("r", U256, nullable=True),
        Column("s", U256, nullable=True),
        Column("blob_gas_used", U64, nullable=True, description="the receipt's; type 3"),
        Column("blob_gas_price", U256, nullable=True, description="the receipt's; type 3"),
    ),
)

LOGS = Dataset(
    name="logs",
    topic=f"avalanche.logs.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="C-Chain event logs, one row per log.",
    key=("block_number", "log_index"),
    parent=ParentLink(TRANSACTIONS, on=("transaction_hash",), count_column="logs_count"),
    columns=(
        *BLOCK_POSITION,
        Column("transaction_hash", HEX),
        Column("transaction_index", U32),
        Column("log_index", U32),
        Column("address", HEX),
        Column("topic0", HEX, nullable=True),
        Column("topic1", HEX, nullable=True),
        Column("topic2", HEX, nullable=True),
        Column("topic3", HEX, nullable=True),
        Column("data", HEX),
    ),
)

INTERNAL_TRANSACTIONS = Dataset(
    name="internal_transactions",
    topic=f"avalanche.internal-tx.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="Call frames from call traces, one row per frame (the transaction's own call included, at "
                "trace_address ''); `reverted` is set on every frame under a failing ancestor.",
    key=("transaction_hash", "trace_address"),
    parent=ParentLink(TRANSACTIONS, on=("transaction_hash",)),
    columns=(
        *BLOCK_POSITION,
        Column("transaction_hash", HEX),
        Column("transaction_index", U32),
        Column("trace_address", TEXT, description="path in the call tree, e.g. '0.2'; '' for the top frame"),
        Column("depth", U32),
        Column("call_type", TEXT,
               description="CALL, DELEGATECALL, STATICCALL, CALLCODE, CREATE, CREATE2, SELFDESTRUCT"),
        Column("from_address", HEX, nullable=True,
               description="null for a frame the tracer gives without one (old geth's bare SELFDESTRUCT frames)"),
        Column("to_address", HEX, nullable=True),
        Column("value", U256, description="AVAX the call frame transferred, wei"),
        Column("gas", U64),
        Column("gas_used", U64, description="the top frame's is the receipt's gas used"),
        Column("input_selector", HEX, nullable=True, description="first 4 bytes of input"),
        Column("input_size", U32),
        Column("output_size", U32),
        Column("error", TEXT, nullable=True),
        Column("reverted", U8),
    ),
)
