"""FAKE, on purpose: the devchain's blocks with C-Chain atomic transactions. anvil cannot produce coreth's
`blockExtraData`, so this thin JSON-RPC proxy in front of it adds some: the blocks of fixtures/atomic.json
(encoded by Ava Labs' JavaScript library, consistent with the fixture P-Chain; atomic_fixtures.py).

What it changes (every other answer, and everything else in these, is the node's own):
  eth_getBlockByNumber, eth_getBlockByHash   a fixture block's payload goes on the first devchain block at or
      after its `at`, on that UTC day: that block gets `blockExtraData` (the payload) and `extDataHash` (coreth's
      hash of it, keccak256 of its RLP encoding). Other blocks keep anvil's answer (no such keys). The block's
      `hash` stays anvil's, which is computed without these fields, and no EVM balance moves: the fake is in the
      headers only.
Two fixture blocks that fall on one devchain block (a devchain of very few blocks a day) are refused, naming
both, rather than merged.

    python -m avax_assets_dev.local.atomic_proxy --upstream http://127.0.0.1:8545 [--port 8546]
"""

from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from eth_hash.auto import keccak

from avax_assets_dev.local.http import BackgroundServer, JsonHandler
from avax_assets_dev.local.p_chain_fixtures import ATOMIC_FIXTURES

BLOCK_METHODS = ("eth_getBlockByNumber", "eth_getBlockByHash")
DAY = 86_400


def rlp_bytes(payload: bytes) -> bytes:
    """RLP's encoding of one byte string."""
    if len(payload) == 1 and payload[0] < 0x80:
        return payload
    if len(payload) <= 55:
        return bytes([0x80 + len(payload)]) + payload
    size = len(payload).to_bytes((len(payload).bit_length() + 7) // 8, "big")
    return bytes([0xB7 + len(size)]) + size + payload


def ext_data_hash(payload: bytes) -> str:
    """coreth's extDataHash of a block's extra data (types.CalcExtDataHash: the RLP hash of the bytes)."""
    return "0x" + keccak(rlp_bytes(payload)).hex()


class AtomicProxy:
    """Serves on 127.0.0.1:`port` (0: any free port) while entered; `url` is what to point a client at."""

    def __init__(self, upstream: str, port: int = 0, fixtures: Path = ATOMIC_FIXTURES) -> None:
        self.upstream = upstream
        self.blocks = sorted(json.loads(fixtures.read_text())["blocks"], key=lambda block: block["at"])
        self._http = httpx.Client(timeout=60)
        self._timestamp = lru_cache(maxsize=4096)(self._timestamp_of)  # by hash: an answer never goes stale
        proxy = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.reply(200, proxy.answer(body))

        self._server = BackgroundServer(Handler, port)
        self.url = self._server.base_url

    def __enter__(self) -> AtomicProxy:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__()
        self._http.close()

    def wait(self) -> None:
        self._server.wait()

    def answer(self, body: Any) -> Any:
        replies = self._http.post(self.upstream, json=body).json()
        calls, answers = (body, replies) if isinstance(body, list) else ([body], [replies])
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        for call in calls:
            reply = by_id.get(call.get("id")) if isinstance(call, dict) else None
            if reply and call.get("method") in BLOCK_METHODS and isinstance(reply.get("result"), dict):
                self._add_extra_data(reply)
        return replies

    def _add_extra_data(self, reply: dict) -> None:
        block = reply["result"]
        placed = self._placed_on(block)
        if len(placed) > 1:
            reply.pop("result")
            reply["error"] = {"code": -32000, "message": (
                f"FAKE atomic proxy: the fixture blocks at {', '.join(str(p['at']) for p in placed)} all fall on "
                f"devchain block {int(block['number'], 16)}; a devchain with more blocks a day keeps them apart")}
        elif placed:
            payload = bytes.fromhex(placed[0]["blockExtraData"].removeprefix("0x"))
            block.update(blockExtraData="0x" + payload.hex(), extDataHash=ext_data_hash(payload))

    def _placed_on(self, block: dict) -> list[dict]:
        """The fixture blocks whose first devchain block at or after their `at`, that day, is `block`."""
        time = int(block["timestamp"], 16)
        due = [fixture for fixture in self.blocks if fixture["at"] <= time and fixture["at"] // DAY == time // DAY]
        if not due:
            return []
        before = self._timestamp(block["parentHash"])
        return [fixture for fixture in due if before is None or before < fixture["at"]]

    def _timestamp_of(self, block_hash: str) -> int | None:
        reply = self._http.post(self.upstream, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByHash",
                                                     "params": [block_hash, False]}).json()
        found = reply.get("result")
        return int(found["timestamp"], 16) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True, help="the devchain's anvil")
    parser.add_argument("--port", type=int, default=8546)
    args = parser.parse_args()
    with AtomicProxy(args.upstream, args.port) as proxy:
        print(f"FAKE: serving {args.upstream} with the atomic transactions of {ATOMIC_FIXTURES.name} on {proxy.url}")
        proxy.wait()


if __name__ == "__main__":
    main()
