"""Token metadata: `name`, `symbol`, `decimals` and `totalSupply` of every token contract seen that day,
read with batched eth_call at the day's last block (so a day's rows are the same whenever it runs).

Each token is read once per day however many datasets it appears in. A day's row is that day's state:
re-materializing a day refreshes it (deliberately: nothing else re-reads a token), and the analytics
views take each token's latest loaded day. A call that reverts or returns nothing leaves its column null
and says why in `metadata_errors`; `bytes32` names and symbols (MKR, old DAI) are read as text; bytes
that are not UTF-8 are kept with U+FFFD, the raw bytes in `metadata_errors`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow as pa

from avax_assets.chain.calls import ContractCall, read_contracts, text_return, uint_return
from avax_assets.chain.datasets import BLOCK_POSITION
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.schema import CHAIN_ID, HEX, TEXT, U8, U256, Column, Dataset
from avax_assets.events.datasets import DEX_POOLS, EVENTS
from avax_assets.tokens.datasets import ERC20_TRANSFERS, ERC721_TRANSFERS, ERC1155_TRANSFERS

TOKENS = Dataset(
    name="tokens",
    topic=f"avalanche.tokens.{CHAIN_ID}", chain_id=CHAIN_ID,
    description="Metadata of every token contract seen that day (transfers, DEX pools' tokens, token events), "
                "read with eth_call at the day's last block.",
    key=("block_number", "token_address"),  # one row per token per day: a compacted topic keeps every day
    columns=(
        *BLOCK_POSITION,
        Column("token_address", HEX),
        Column("name", TEXT, nullable=True, description="name(); null when the call failed (see metadata_errors)"),
        Column("symbol", TEXT, nullable=True, description="symbol(); null when the call failed"),
        Column("decimals", U8, nullable=True, description="decimals(): token units = base units / 10^decimals; "
                                                          "null when the token has none"),
        Column("total_supply", U256, nullable=True, description="totalSupply() at block_number, token base units"),
        Column("seen_in", TEXT, description="the datasets the token appeared in that day, comma-separated"),
        Column("metadata_errors", TEXT, nullable=True,
               description="canonical JSON: field → why it is null, or how its bytes were kept"),
    ),
)

# where tokens are seen: (dataset, column holding a token address)
TOKEN_SOURCES = (
    (ERC20_TRANSFERS, "token_address"),
    (ERC721_TRANSFERS, "token_address"),
    (ERC1155_TRANSFERS, "token_address"),
    (DEX_POOLS, "token0"),
    (DEX_POOLS, "token1"),
    *((event.dataset, "contract_address") for event in EVENTS if event.token),
)
CALLS = ("name()", "symbol()", "decimals()", "totalSupply()")
ROWS_PER_BATCH = 2_000


def token_batches(client: JsonRpcClient, seen: dict[str, set[str]], at: dict) -> Iterator[pa.RecordBatch]:
    """The metadata rows of the tokens `seen` (address → datasets), read at block `at`."""
    tokens = sorted(seen)
    for start in range(0, len(tokens), ROWS_PER_BATCH):
        chunk = tokens[start:start + ROWS_PER_BATCH]
        outcomes = read_contracts(client, [ContractCall(t, c) for t in chunk for c in CALLS], at["block_number"])
        rows = [token_row(token, outcomes[i * len(CALLS):(i + 1) * len(CALLS)], at, sorted(seen[token]))
                for i, token in enumerate(chunk)]
        yield pa.RecordBatch.from_pylist(rows, schema=TOKENS.source_schema)


def token_row(token: str, outcomes: list, at: dict, seen_in: list[str]) -> dict:
    name, symbol, decimals, supply = outcomes
    errors: dict[str, str] = {}

    def kept(field: str, value_and_reason: tuple):
        value, reason = value_and_reason
        if reason:
            errors[field] = reason
        return value

    places = kept("decimals", uint_return(decimals))
    if places is not None and places > 255:
        errors["decimals"] = f"decimals() returned {places}, more than 255"
        places = None
    total = kept("total_supply", uint_return(supply))
    return {**at, "token_address": token, "name": kept("name", text_return(name)),
            "symbol": kept("symbol", text_return(symbol)), "decimals": places,
            "total_supply": None if total is None else str(total), "seen_in": ",".join(seen_in),
            "metadata_errors": json.dumps(errors, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
            if errors else None}
