"""FAKE, on purpose: a C-Chain node under Streaming Asynchronous Execution (ACP-194, Helicon), emulated by
a thin proxy in front of the local anvil. Anvil executes each block as it mines it, and no local node
executes behind consensus, so this proxy plays the three heights such a node answers for. Everything it
does not change is anvil's own answer.

Under SAE the named blocks mean (ACP-194, JSON-RPC "Named blocks"; ava-labs/strevm resolves them so):
  pending             the last *accepted* block: consensus agreed on its transactions, not executed yet
  latest              the last *executed* block: final (Snowman: no re-org), its receipts and logs exist;
                      eth_blockNumber answers its number
  safe, finalized     the last *settled* block: a later header records its state and receipts roots
Here the accepted block is anvil's head; `executed` and `settled` (set by the caller, settled ≤ executed ≤
accepted) are the other two. Blocks up to the accepted one are served by number, headers and transactions,
as the node serves them; their receipts and logs only once executed: eth_getBlockReceipts,
eth_getTransactionReceipt and the trace calls answer null for a block past `executed`, and eth_getLogs leaves
such blocks out. Every such ask is counted (`unexecuted_asks`): a reader that makes one read past `latest`.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from avax_assets_dev.local.http import BackgroundServer, JsonHandler

TAGS = {"latest": "executed", "safe": "settled", "finalized": "settled"}
PER_BLOCK = ("eth_getBlockReceipts", "debug_traceBlockByNumber", "trace_block")  # results of a block's execution


class SaeProxy:
    def __init__(self, upstream: str, executed: int, settled: int, port: int = 0) -> None:
        self.upstream = upstream
        self.executed, self.settled = executed, settled
        self.unexecuted_asks: list[str] = []  # what was asked of blocks not executed yet
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=60)
        proxy = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.reply(200, [proxy.answer(c) for c in body] if isinstance(body, list) else proxy.answer(body))

        self._serving = BackgroundServer(Handler, port).__enter__()
        self.url = self._serving.base_url

    def move(self, executed: int, settled: int) -> None:
        """Execution and settlement move on (never past anvil's head, the accepted block)."""
        with self._lock:
            self.executed, self.settled = executed, settled

    def close(self) -> None:
        self._serving.__exit__()
        self._http.close()

    def answer(self, call: dict) -> Any:
        method, params, call_id = call.get("method"), list(call.get("params") or []), call.get("id")
        if method == "eth_blockNumber":
            return _result(call_id, hex(self.executed))
        if method in ("eth_getBlockByNumber", *PER_BLOCK) and params:
            params[0] = self._number(params[0])
            if method in PER_BLOCK and _is_number(params[0]) and self._unexecuted(method, int(params[0], 16)):
                return _result(call_id, None)
        if method == "eth_getLogs" and params and isinstance(params[0], dict) and "blockHash" not in params[0]:
            params[0] = self._executed_span(params[0])
            if params[0] is None:
                return _result(call_id, [])
        reply = self._node(method, params, call_id)
        if method == "eth_getTransactionReceipt" and isinstance(reply.get("result"), dict):
            if self._unexecuted(method, int(reply["result"]["blockNumber"], 16)):
                reply["result"] = None
        return reply

    def _executed_span(self, span: dict) -> dict | None:
        """An eth_getLogs filter cut at the executed block (None: it covers no executed block)."""
        span = {**span, **{end: self._number(span.get(end, "latest")) for end in ("fromBlock", "toBlock")}}
        if self._unexecuted("eth_getLogs", int(span["toBlock"], 16)):
            if int(span["fromBlock"], 16) > self.executed:
                return None
            span["toBlock"] = hex(self.executed)
        return span

    def _number(self, block: Any) -> Any:
        """A named block as the number SAE gives it; numbers as they are."""
        if block in TAGS:
            return hex(getattr(self, TAGS[block]))
        if block == "pending":
            return hex(int(self._node("eth_blockNumber", [], 1)["result"], 16))
        return block

    def _unexecuted(self, method: str, block: int) -> bool:
        if block <= self.executed:
            return False
        with self._lock:
            self.unexecuted_asks.append(f"{method} of block {block} (executed: {self.executed})")
        return True

    def _node(self, method: str, params: list, call_id: Any) -> dict:
        return self._http.post(self.upstream, json={"jsonrpc": "2.0", "id": call_id, "method": method,
                                                    "params": params}).json()


def _result(call_id: Any, result: Any) -> dict:
    return {"jsonrpc": "2.0", "id": call_id, "result": result}


def _is_number(block: Any) -> bool:
    """A block number (a quantity), not a block hash."""
    return isinstance(block, str) and block.startswith("0x") and len(block) <= 18
