"""C-Chain datasets extracted over JSON-RPC: blocks, transactions (with receipts), logs.

Blocks and transactions can come from the AvaCloud Data API instead (sources/data_api_chain.py); the
columns it does not serve are nullable and stay null there. JSON-RPC fills every one of them.
"""

from avax_assets.datasets.schema import HEX, TIMESTAMP, U8, U32, U64, U256, Column, Dataset, ParentLink

CHAIN_ID = 43114

BLOCK_POSITION = (
    Column("block_number", U64),
    Column("block_timestamp", TIMESTAMP),
    Column("block_hash", HEX),
)

BLOCKS = Dataset(
    name="blocks",
    topic=f"avalanche.blocks.{CHAIN_ID}",
    description="C-Chain blocks, one row per block.",
    key=("block_number",),
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
    ),
)

TRANSACTIONS = Dataset(
    name="transactions",
    topic=f"avalanche.transactions.{CHAIN_ID}",
    description="C-Chain transactions joined with their receipts, one row per transaction.",
    key=("transaction_hash",),
    parent=ParentLink("blocks", on=("block_number",), count_column="transaction_count"),
    columns=(
        *BLOCK_POSITION,
        Column("transaction_index", U32),
        Column("transaction_hash", HEX),
        Column("from_address", HEX),
        Column("to_address", HEX, nullable=True, description="null for contract creation"),
        Column("value", U256),
        Column("nonce", U64),
        Column("gas", U64, description="gas limit"),
        Column("gas_price", U256, nullable=True),
        Column("max_fee_per_gas", U256, nullable=True),
        Column("max_priority_fee_per_gas", U256, nullable=True),
        Column("input", HEX, nullable=True, description="null from the Data API source"),
        Column("transaction_type", U8),
        Column("chain_id", U64, nullable=True),
        Column("status", U8, description="1 success, 0 reverted"),
        Column("gas_used", U64),
        Column("cumulative_gas_used", U64, nullable=True, description="null from the Data API source"),
        Column("effective_gas_price", U256),
        Column("transaction_fee", U256, description="gas_used * effective_gas_price, in wei"),
        Column("contract_address", HEX, nullable=True),
        Column("logs_count", U32, nullable=True, description="null from the Data API source"),
    ),
)

LOGS = Dataset(
    name="logs",
    topic=f"avalanche.logs.{CHAIN_ID}",
    description="C-Chain event logs, one row per log.",
    key=("block_number", "log_index"),
    parent=ParentLink("transactions", on=("transaction_hash",), count_column="logs_count"),
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
