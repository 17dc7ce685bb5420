"""Datasets read from subgraphs on The Graph, partitioned by the C-Chain day of their transaction's block.

A `SubgraphEntity` says where a dataset comes from: the subgraph, the entity collection, and the
path to the block number the partition's block range filters on. The query's selection is built
from the columns' `source` paths, so another entity is another declaration, not new code.
"""

from dataclasses import dataclass

from avax_assets.core.schema import CHAIN_ID, HEX, TEXT, TIMESTAMP, U8, U32, U64, Column, Dataset

TRADER_JOE_V2 = "traderjoe-v2"  # Liquidity Book; its subgraph id is configuration (AVAX_SUBGRAPH_IDS)


@dataclass(frozen=True)
class SubgraphEntity:
    dataset: Dataset
    subgraph: str
    collection: str  # the plural query field, e.g. `swaps`
    block_path: str  # dotted path to the entity's block number, e.g. `transaction.blockNumber`
    block_type: str = "Int"  # the GraphQL type of that block number (Int or BigInt)

    @property
    def block_filter(self) -> tuple[str, ...]:
        """The nested `where` keys that reach the block number: ("transaction_", "blockNumber")."""
        *parents, leaf = self.block_path.split(".")
        return (*(f"{parent}_" for parent in parents), leaf)


def exact(name: str, source: str, what: str) -> Column:
    return Column(name, TEXT, source=source, description=f"{what}, exact decimal (BigDecimal as text)")


def token(side: str) -> tuple[Column, ...]:
    return (
        Column(f"token_{side.lower()}_address", HEX, source=f"lbPair.token{side}.id"),
        Column(f"token_{side.lower()}_symbol", TEXT, source=f"lbPair.token{side}.symbol"),
        Column(f"token_{side.lower()}_decimals", U8, source=f"lbPair.token{side}.decimals"),
    )


DEX_SWAPS = Dataset(
    name="dex_swaps",
    topic=f"avalanche.dex-swaps.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="Trader Joe Liquidity Book (v2) swaps from its subgraph, by the block of their transaction. "
                "Amounts in token units (decimals applied) as exact decimals.",
    key=("swap_id",),
    columns=(
        Column("block_number", U64, source="transaction.blockNumber"),
        Column("block_timestamp", TIMESTAMP, source="timestamp"),
        Column("transaction_hash", HEX, source="transaction.id"),
        Column("log_index", U32, source="logIndex"),
        Column("swap_id", TEXT, source="id", description="transaction hash # index of the swap in it"),
        Column("pair_address", HEX, source="lbPair.id"),
        Column("pair_name", TEXT, source="lbPair.name"),
        *token("X"),
        *token("Y"),
        exact("amount_x_in", "amountXIn", "token X paid in"),
        exact("amount_y_in", "amountYIn", "token Y paid in"),
        exact("amount_x_out", "amountXOut", "token X paid out"),
        exact("amount_y_out", "amountYOut", "token Y paid out"),
        exact("amount_usd", "amountUSD", "value in USD, as the subgraph prices it"),
        exact("fees_token_x", "feesTokenX", "fees in token X"),
        exact("fees_token_y", "feesTokenY", "fees in token Y"),
        exact("fees_usd", "feesUSD", "fees in USD"),
        Column("active_id", U64, source="activeId", description="the pair's active bin after the swap"),
        Column("sender", HEX, source="sender"),
        Column("recipient", HEX, source="recipient"),
        Column("origin", HEX, source="origin", description="the transaction's sender"),
    ),
)

SUBGRAPH_ENTITIES = (
    SubgraphEntity(DEX_SWAPS, TRADER_JOE_V2, collection="swaps", block_path="transaction.blockNumber"),
)
