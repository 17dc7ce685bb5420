"""The tokens family's datasets, decoded from logs: ERC-20, ERC-721, ERC-1155 transfers (single and batch,
exploded). Every log-decoded dataset starts with LOG_POSITION and joins its transaction."""

from avax_assets.chain.datasets import BLOCK_POSITION, TRANSACTIONS
from avax_assets.core.schema import CHAIN_ID, HEX, U32, U256, Column, Dataset, ParentLink

LOG_POSITION = (
    *BLOCK_POSITION,
    Column("transaction_hash", HEX),
    Column("transaction_index", U32),
    Column("log_index", U32),
    Column("token_address", HEX),
)
JOINS_TRANSACTION = ParentLink(TRANSACTIONS, on=("transaction_hash",))

ERC20_TRANSFERS = Dataset(
    name="erc20_transfers",
    topic=f"avalanche.erc20.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="ERC-20 Transfer events (3 topics, amount in data).",
    key=("block_number", "log_index"),
    parent=JOINS_TRANSACTION,
    columns=(*LOG_POSITION, Column("from_address", HEX), Column("to_address", HEX),
             Column("value", U256, description="tokens transferred, token base units (before the token's decimals)")),
)

ERC721_TRANSFERS = Dataset(
    name="erc721_transfers",
    topic=f"avalanche.erc721.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="ERC-721 Transfer events (4 topics, token id in topic3).",
    key=("block_number", "log_index"),
    parent=JOINS_TRANSACTION,
    columns=(*LOG_POSITION, Column("from_address", HEX), Column("to_address", HEX), Column("token_id", U256)),
)

ERC1155_TRANSFERS = Dataset(
    name="erc1155_transfers",
    topic=f"avalanche.erc1155.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="ERC-1155 TransferSingle and TransferBatch events, one row per (id, value); "
                "batch_index is the position in the batch (0 for single transfers).",
    key=("block_number", "log_index", "batch_index"),
    parent=JOINS_TRANSACTION,
    columns=(
        *LOG_POSITION,
        Column("operator", HEX),
        Column("from_address", HEX),
        Column("to_address", HEX),
        Column("token_id", U256),
        Column("value", U256, description="amount of the token id transferred, token base units"),
        Column("batch_index", U32),
        Column("is_batch", U32, description="1 for TransferBatch"),
    ),
)
