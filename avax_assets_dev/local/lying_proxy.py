"""FAKE, on purpose: a JSON-RPC provider that lies, used only because no real node lies on demand. A thin
proxy in front of the real local node (the anvil devchain) that answers as a load-balanced provider whose
backends lag or disagree does, for the tests of the proof before storage (avax_assets/chain/proof.py).
Everything it does not lie about is the node's own answer.

Modes (`lie(mode, block, foreign=…, times=…)`):
  honest              every answer the node's
  duplicate-receipts  eth_getBlockReceipts of `block`: each receipt twice
  foreign-receipts    eth_getBlockReceipts of `block`: its last receipt replaced by the first of block
                      `foreign`; eth_getLogs over `block`: the logs of `foreign` mixed in
  other-block         eth_getBlockByNumber of `block`: block `foreign` (another hash) with its number set
                      to `block`
  lagging             a backend whose receipts and logs have reached only `block` (its indexes behind its
                      blocks, or the node behind the chain): later blocks' receipts answered null, their logs
                      left out of eth_getLogs; blocks and eth_blockNumber still the node's
  new-fields          not a lie: a node newer than the declarations. Block `block` carries a key no declaration
                      knows in its header, its first transaction, its first receipt and that receipt's first
                      log (NEW_FIELDS), in eth_getBlockByNumber and eth_getBlockReceipts; all else the node's
`times`: lie in that many answers, then answer honestly (a flapping backend); None: lie every time.
It answers on any path, so a provider URL with a key in it (…/rpc?key=…) can be tried.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from avax_assets_dev.local.http import BackgroundServer, JsonHandler

MODES = ("honest", "duplicate-receipts", "foreign-receipts", "other-block", "lagging", "new-fields")
# what `new-fields` adds: where → the key (its value is "0x1")
NEW_FIELDS = {"block": "futureHeaderField", "transaction": "futureTransactionField",
              "receipt": "futureReceiptField", "log": "futureLogField"}


class LyingProxy:
    def __init__(self, upstream: str, port: int = 0) -> None:
        self.upstream = upstream
        self.mode, self.block, self.foreign, self.times = "honest", None, None, None
        self.lies = 0  # answers lied in since the last `lie`
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=60)
        proxy = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.reply(200, proxy.answer(body))

        self._serving = BackgroundServer(Handler, port).__enter__()
        self.url = self._serving.base_url

    def lie(self, mode: str, block: int | None = None, *, foreign: int | None = None, times: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
        with self._lock:
            self.mode, self.block, self.foreign, self.times, self.lies = mode, block, foreign, times, 0

    def honest(self) -> None:
        self.lie("honest")

    def close(self) -> None:
        self._serving.__exit__()
        self._http.close()

    def answer(self, body: Any) -> Any:
        replies = self._http.post(self.upstream, json=body).json()
        calls, answers = (body, replies) if isinstance(body, list) else ([body], [replies])
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        with self._lock:
            if self.mode == "honest" or (self.times is not None and self.lies >= self.times):
                return replies
            lied = [self._lie(call, by_id.get(call.get("id"))) for call in calls]
            self.lies += any(lied)
        return replies

    def _node(self, method: str, params: list) -> Any:
        return self._http.post(self.upstream, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                    "params": params}).json()["result"]

    def _lie(self, call: dict, reply: dict | None) -> bool:
        """Change one answer in place, if the mode lies about it; whether it did."""
        if reply is None or "result" not in reply:
            return False
        method, params = call.get("method"), call.get("params") or []
        lie = getattr(self, "_" + self.mode.replace("-", "_"))
        return lie(method, params, reply)

    def _asks_block(self, params: list) -> int | None:
        return int(params[0], 16) if params and isinstance(params[0], str) and params[0].startswith("0x") else None

    def _duplicate_receipts(self, method: str, params: list, reply: dict) -> bool:
        if method != "eth_getBlockReceipts" or self._asks_block(params) != self.block or not reply["result"]:
            return False
        reply["result"] = [receipt for receipt in reply["result"] for _ in (0, 1)]
        return True

    def _foreign_receipts(self, method: str, params: list, reply: dict) -> bool:
        if method == "eth_getBlockReceipts" and self._asks_block(params) == self.block and reply["result"]:
            reply["result"] = reply["result"][:-1] + self._node("eth_getBlockReceipts", [hex(self.foreign)])[:1]
            return True
        if method == "eth_getLogs" and _covers(params, self.block):
            foreign = self._node("eth_getLogs", [{"fromBlock": hex(self.foreign), "toBlock": hex(self.foreign)}])
            reply["result"] = reply["result"] + foreign
            return bool(foreign)
        return False

    def _other_block(self, method: str, params: list, reply: dict) -> bool:
        if method != "eth_getBlockByNumber" or self._asks_block(params) != self.block:
            return False
        other = self._node("eth_getBlockByNumber", [hex(self.foreign), *params[1:]])
        reply["result"] = {**other, "number": hex(self.block)}
        return True

    def _lagging(self, method: str, params: list, reply: dict) -> bool:
        asked = self._asks_block(params)
        if method == "eth_getBlockReceipts" and asked is not None and asked > self.block:
            reply["result"] = None
            return True
        if method == "eth_getLogs" and isinstance(reply["result"], list):
            kept = [log for log in reply["result"] if int(log["blockNumber"], 16) <= self.block]
            lied, reply["result"] = len(kept) != len(reply["result"]), kept
            return lied
        return False


    def _new_fields(self, method: str, params: list, reply: dict) -> bool:
        if self._asks_block(params) != self.block or not reply["result"]:
            return False
        if method == "eth_getBlockByNumber":
            block = reply["result"]
            block[NEW_FIELDS["block"]] = "0x1"
            if block["transactions"] and isinstance(block["transactions"][0], dict):
                block["transactions"][0][NEW_FIELDS["transaction"]] = "0x1"
            return True
        if method == "eth_getBlockReceipts":
            receipt = next((r for r in reply["result"] if r["logs"]), reply["result"][0])
            receipt[NEW_FIELDS["receipt"]] = "0x1"
            if receipt["logs"]:
                receipt["logs"][0][NEW_FIELDS["log"]] = "0x1"
            return True
        return False


def _covers(params: list, block: int) -> bool:
    span = params[0] if params and isinstance(params[0], dict) else {}
    return int(span.get("fromBlock", "0x0"), 16) <= block <= int(span.get("toBlock", "0x0"), 16)
