"""Internal transactions: every call frame of every transaction, from call traces."""

from avax_assets.datasets.chain import CHAIN_ID, LOGS
from avax_assets.datasets.schema import HEX, TEXT, U8, U32, U64, U256, Column, Dataset, ParentLink

INTERNAL_TRANSACTIONS = Dataset(
    name="internal_transactions",
    topic=f"avalanche.internal-tx.{CHAIN_ID}",
    description="Call frames from call traces, one row per frame (the transaction's own call included, at "
                "trace_address ''); `reverted` is set on every frame under a failing ancestor.",
    key=("transaction_hash", "trace_address"),
    parent=ParentLink("transactions", on=("transaction_hash",)),
    columns=(
        *LOGS.columns[:3],  # block_number, block_timestamp, block_hash
        Column("transaction_hash", HEX),
        Column("transaction_index", U32),
        Column("trace_address", TEXT, description="path in the call tree, e.g. '0.2'; '' for the top frame"),
        Column("depth", U32),
        Column("call_type", TEXT, description="CALL, DELEGATECALL, STATICCALL, CALLCODE, CREATE, CREATE2, SELFDESTRUCT"),
        Column("from_address", HEX),
        Column("to_address", HEX, nullable=True),
        Column("value", U256),
        Column("gas", U64),
        Column("gas_used", U64, description="the top frame's is the receipt's gas used"),
        Column("input_selector", HEX, nullable=True, description="first 4 bytes of input"),
        Column("input_size", U32),
        Column("output_size", U32),
        Column("error", TEXT, nullable=True),
        Column("reverted", U8),
    ),
)
