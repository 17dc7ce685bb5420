"""Blocks and transactions from the AvaCloud Data API's per-block endpoints: the alternative to
JSON-RPC, selected by configuration (`AVAX_BLOCKS_SOURCE=data_api`).

The rows have the JSON-RPC datasets' schema. What the Data API does not serve stays null: the
state, transactions and receipts roots, miner, extra data, size and difficulty of a block; the
input, fee caps, cumulative gas, created contract and logs count of a transaction. Its `gasPrice`
is the price the transaction paid, so it fills both `gas_price` and `effective_gas_price`.
Cost: 10 CU per block, 20 CU per page of up to 100 of its transactions (the spec's weights).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from avax_assets.avacloud.client import ApiPath, AvaCloudClient
from avax_assets.chain import fields as f
from avax_assets.chain.datasets import BLOCKS, TRANSACTIONS
from avax_assets.chain.extractors import Scope, to_batch
from avax_assets.chain.proof import BlockView, Neighbour, Proven, inconsistent, prove_blocks, prove_transactions
from avax_assets.core.errors import BadField, SourceRefused
from avax_assets.core.items import integer
from avax_assets.core.schema import CHAIN_ID
from avax_assets.chain.settings import RPC

BLOCK = ApiPath("/v1/chains/{chainId}/blocks/{blockId}", cost=10)
BLOCK_TRANSACTIONS = ApiPath("/v1/chains/{chainId}/blocks/{blockId}/transactions", cost=20)
LATEST_BLOCKS = ApiPath("/v1/chains/{chainId}/blocks", cost=10)


class DataApiChainReader:
    """The C-Chain as the Data API serves it, block by block; `concurrency` blocks in flight."""

    def __init__(self, client: AvaCloudClient, chain_id: int = CHAIN_ID, concurrency: int = RPC.concurrency) -> None:
        self.client = client
        self.chain_id = str(chain_id)
        self.concurrency = concurrency
        self.endpoint = f"{client.settings.data_url}#{chain_id}"  # identifies the source in caches

    def latest_block(self) -> int:
        (newest, *_) = self.client.get(LATEST_BLOCKS, {"chainId": self.chain_id}, {"pageSize": 1})["blocks"] or [{}]
        return integer("blockNumber", f.required(newest, "blockNumber"))

    def block(self, number: int) -> dict:
        return self.client.get(BLOCK, {"chainId": self.chain_id, "blockId": number})

    def timestamp(self, number: int) -> int:
        return integer("blockTimestamp", f.required(self.block(number), "blockTimestamp"))

    def transactions(self, number: int) -> list[dict]:
        params = {"chainId": self.chain_id, "blockId": number}
        return [tx for page in self.client.pages(BLOCK_TRANSACTIONS, "transactions", params) for tx in page]

    def neighbours(self, blocks: range) -> tuple[dict | None, dict | None]:
        """The blocks just before and just after `blocks` (None where the API has none), which the proof links
        the chunk's hash chain to."""
        def block_or_none(number: int) -> dict | None:
            try:
                return self.block(number) if number >= 0 else None
            except SourceRefused:  # not there (yet): the proof decides whether it must be
                return None
        return block_or_none(blocks.start - 1), block_or_none(blocks.stop)

    def each_block(self, blocks: range, read) -> Iterator[tuple[int, Any]]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            yield from zip(blocks, pool.map(read, blocks), strict=True)


def _uint(item: dict, key: str) -> int:
    return integer(key, f.required(item, key))


def _uint256(item: dict, key: str) -> str | None:
    value = item.get(key)
    return None if value is None else str(integer(key, value))


def block_row(block: dict) -> dict:
    return {
        "block_number": _uint(block, "blockNumber"),
        "block_timestamp": _uint(block, "blockTimestamp"),
        "block_hash": f.hash32(f.required(block, "blockHash"), "blockHash"),
        "parent_hash": f.hash32(f.required(block, "parentHash"), "parentHash"),
        "gas_limit": _uint(block, "gasLimit"),
        "gas_used": _uint(block, "gasUsed"),
        "base_fee_per_gas": _uint256(block, "baseFee"),
        "transaction_count": _uint(block, "txCount"),
        "block_gas_cost": _uint256(block, "gasCost"),
    }


def _address(tx: dict, key: str) -> str | None:
    rich = tx.get(key)
    if not isinstance(rich, dict) or not rich.get("address"):
        return None
    return f.address(rich["address"], f"{key}.address")


def _creates_contract(tx: dict) -> bool:
    """JSON-RPC leaves `to` null on a creation; the Data API may name the new contract there."""
    method = tx.get("method")
    return isinstance(method, dict) and method.get("callType") == "CONTRACT_CREATION"


def transaction_row(tx: dict) -> dict:
    gas_used = _uint(tx, "gasUsed")
    price = integer("gasPrice", f.required(tx, "gasPrice"))
    sender = _address(tx, "from")
    if sender is None:
        raise BadField("from.address", "is missing")
    return {
        "block_number": _uint(tx, "blockNumber"),
        "block_timestamp": _uint(tx, "blockTimestamp"),
        "block_hash": f.hash32(f.required(tx, "blockHash"), "blockHash"),
        "transaction_index": _uint(tx, "blockIndex"),
        "transaction_hash": f.hash32(f.required(tx, "txHash"), "txHash"),
        "from_address": sender,
        "to_address": None if _creates_contract(tx) else _address(tx, "to"),
        "value": str(_uint(tx, "value")),
        "nonce": _uint(tx, "nonce"),
        "gas": _uint(tx, "gasLimit"),
        "gas_price": str(price),
        "transaction_type": _uint(tx, "txType"),
        "signed_chain_id": _uint(tx, "chainId"),
        "status": _uint(tx, "txStatus"),
        "gas_used": gas_used,
        "effective_gas_price": str(price),
        "transaction_fee": str(gas_used * price),
    }


def _row_of_block(scope: Scope, number: int, item: dict, to_row, where: str) -> dict:
    """One item converted, and held to the block it was asked for."""
    try:
        row = to_row(item)
    except BadField as bad:
        raise scope.error(bad, where) from None
    if row["block_number"] != number:
        raise inconsistent(scope, number, f"{where}: blockNumber is {row['block_number']}, asked for block {number}")
    return row


def _neighbour(scope: Scope, block: dict | None, number: int) -> Neighbour | None:
    if block is None:
        return None
    row = _row_of_block(scope, number, block, block_row, f"block {number}")
    return Neighbour(row["block_hash"], row["parent_hash"], row["block_timestamp"])


def extract_together(reader: DataApiChainReader, blocks: range, scopes: dict[str, Scope]) -> Proven:
    """Blocks and, when `scopes` holds them, transactions of the chunk: each block read once (with its
    transactions), and the transactions proven against their blocks."""
    block_scope = scopes.get(BLOCKS.name) or scopes[TRANSACTIONS.name]
    tx_scope = scopes.get(TRANSACTIONS.name)
    read = (lambda n: (reader.block(n), reader.transactions(n))) if tx_scope else (lambda n: (reader.block(n), []))
    fetched = list(reader.each_block(blocks, read))
    block_rows = [_row_of_block(block_scope, number, block, block_row, f"block {number}")
                  for number, (block, _) in fetched]
    tx_rows = [_row_of_block(tx_scope, number, tx, transaction_row, f"block {number} tx {tx.get('txHash', position)}")
               for number, (_, transactions) in fetched for position, tx in enumerate(transactions)]
    before, after = reader.neighbours(blocks)
    column = lambda name: tuple(r[name] for r in block_rows)  # noqa: E731
    view = BlockView(block_scope, blocks.start, column("block_hash"), column("parent_hash"), column("block_timestamp"),
                     column("transaction_count"), (None,) * len(block_rows),
                     _neighbour(block_scope, before, blocks.start - 1), _neighbour(block_scope, after, blocks.stop))
    prove_blocks(view)
    batches = {BLOCKS.name: to_batch(block_scope, block_rows)} if BLOCKS.name in scopes else {}
    if tx_scope:
        tx_rows.sort(key=lambda r: (r["block_number"], r["transaction_index"]))
        batches[TRANSACTIONS.name] = to_batch(tx_scope, tx_rows)
        prove_transactions(tx_scope, view, batches[TRANSACTIONS.name])
    return Proven(batches, view)


def extract_blocks(reader: DataApiChainReader, blocks: range, scope: Scope) -> Proven:
    return extract_together(reader, blocks, {BLOCKS.name: scope})


def extract_transactions(reader: DataApiChainReader, blocks: range, scope: Scope) -> Proven:
    return extract_together(reader, blocks, {TRANSACTIONS.name: scope})
