"""C-Chain over JSON-RPC: typed reads that know the node's quirks (the receipts API, eth_getLogs' range
limit). What they return is still the node's JSON, decoded into the shapes of chain/rows.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from avax_assets.chain import fields as f
from avax_assets.chain.rows import FullBlock, Receipt, plain, plain_receipt
from avax_assets.chain.rpc import METHOD_NOT_FOUND, Call, JsonRpcClient, as_plain
from avax_assets.core.errors import RpcError
from avax_assets.chain.settings import RPC, ReceiptsMethod, TraceMethod


class ChainReader:
    """Typed reads over a JsonRpcClient; knows the node's quirks (receipts API, getLogs range limit)."""

    def __init__(self, client: JsonRpcClient, logs_block_range: int = RPC.logs_block_range,
                 receipts: ReceiptsMethod = ReceiptsMethod.auto, trace_client: JsonRpcClient | None = None,
                 trace_method: TraceMethod = TraceMethod.auto) -> None:
        receipts, trace_method = ReceiptsMethod(receipts), TraceMethod(trace_method)
        self.client = client
        self.endpoint = client.settings.url  # identifies the source in caches
        self.trace_client = trace_client or client
        self.trace_method = trace_method
        self.logs_block_range = logs_block_range
        self._receipts_by_block = receipts is not ReceiptsMethod.transaction
        self._receipts_fixed = receipts is not ReceiptsMethod.auto

    def latest_block(self) -> int:
        """The node's `latest` block (eth_blockNumber answers its number): final, its receipts there. Before
        Helicon the last accepted block; under its streaming asynchronous execution (ACP-194) the last executed
        one, ahead of `finalized` (the last settled, seconds behind) and behind `pending` (accepted, not
        executed: no receipts yet). The live follower's head and the bound of a day's block range."""
        return f.quantity(self.client.call("eth_blockNumber", []), "eth_blockNumber")

    def headers(self, blocks: range) -> list[dict]:
        return self.client.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in blocks])

    def full_blocks(self, blocks: range) -> list[dict]:
        """Full blocks, each its header fields and its transactions still undecoded JSON (`FullBlock`; a
        batch that does not fit that shape comes back plain, transactions decoded)."""
        full = self.client.batch([Call("eth_getBlockByNumber", [hex(n), True]) for n in blocks], shape=FullBlock)
        return [as_plain(block) if isinstance(block, FullBlock) else block for block in full]

    def neighbours(self, blocks: range) -> tuple[dict | None, dict | None]:
        """The headers of the blocks just before and just after `blocks`, which the proof links the chunk's
        hash chain to: None where the node has none (before block 0, past its head)."""
        around = [n for n in (blocks.start - 1, blocks.stop) if n >= 0]
        answers = self.client.batch([Call("eth_getBlockByNumber", [hex(n), False]) for n in around], allow_null=True)
        got = dict(zip(around, answers, strict=True))
        return got.get(blocks.start - 1), got.get(blocks.stop)

    def timestamp(self, number: int) -> int:
        return f.quantity(f.required(self.headers(range(number, number + 1))[0], "timestamp"), "timestamp")

    def full_blocks_with_receipts(self, blocks: range) -> tuple[list[dict], list[Receipt]]:
        """Full blocks and their receipts, in transaction order. Block receipts are asked for by number at
        the same time as the blocks (the node serves both at once); per-transaction receipts need the
        blocks first."""
        if not self._receipts_by_block:
            full = self.full_blocks(blocks)
            return full, self.receipt_structs(full)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="receipts") as side:
            by_number = side.submit(self.client.batch, [Call("eth_getBlockReceipts", [hex(n)]) for n in blocks],
                                    shape=list[Receipt])
            full = self.full_blocks(blocks)
            try:
                return full, [r for block_receipts in by_number.result() for r in block_receipts]
            except RpcError as exc:
                if self._receipts_fixed or exc.code != METHOD_NOT_FOUND:
                    raise
                self._receipts_by_block = False
                return full, self.receipt_structs(full)

    def receipts(self, blocks: list[dict]) -> list[dict]:
        return [plain_receipt(r) for r in self.receipt_structs(blocks)]

    def receipt_structs(self, blocks: list[dict]) -> list[Receipt]:
        """The blocks' receipts in transaction order (a receipt that does not fit the shape stays plain JSON)."""
        with_txs = [b for b in blocks if b.get("transactions")]
        if self._receipts_by_block:
            try:
                per_block = self.client.batch([Call("eth_getBlockReceipts", [b["number"]]) for b in with_txs],
                                              shape=list[Receipt])
                return [r for block_receipts in per_block for r in block_receipts]
            except RpcError as exc:
                if self._receipts_fixed or exc.code != METHOD_NOT_FOUND:
                    raise
                self._receipts_by_block = False
        tx_hashes = [tx if isinstance(tx := plain(entry), str) else tx["hash"]
                     for b in with_txs for entry in b["transactions"]]
        return self.client.batch([Call("eth_getTransactionReceipt", [h]) for h in tx_hashes], shape=Receipt)

    def logs_json(self, blocks: range) -> list[msgspec.Raw | Any]:
        """The logs over the range, each still the node's JSON (undecoded; all decoded if an eth_getLogs
        answer is not an array)."""
        step = self.logs_block_range
        calls = [
            Call("eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(min(start + step, blocks.stop) - 1)}])
            for start in range(blocks.start, blocks.stop, step)
        ]
        return [log for result in self.client.batch(calls, shape=list[msgspec.Raw]) for log in result]
