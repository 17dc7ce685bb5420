"""The Data API's per-block C-Chain paths, served from a JSON-RPC node (the local devchain), so the
Data API source of `blocks` and `transactions` can be run and compared with the JSON-RPC source on
the same chain. Shapes follow the official spec (GetEvmBlockResponse, ListEvmBlocksResponse,
ListNativeTransactionsResponse); the tests validate them against it. Addresses are served in
checksum case, as the API does, so normalization is exercised.
"""

from __future__ import annotations

import re
from functools import lru_cache

import httpx
from eth_hash.auto import keccak

CHAIN_PATH = re.compile(r"^/v1/chains/(?P<chain>\d+)/blocks(?:/(?P<block>\d+)(?P<txs>/transactions)?)?$")


def checksum(address: str) -> str:
    plain = address.lower().removeprefix("0x")
    digest = keccak(plain.encode()).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(plain))


class NodeAsDataApi:
    def __init__(self, rpc_url: str, chain_id: str = "43114") -> None:
        self.rpc_url, self.chain_id = rpc_url, chain_id
        self._cache = lru_cache(maxsize=4096)(self._call)

    def _call(self, method: str, params: tuple) -> object:
        reply = httpx.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                           timeout=30).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def route(self, path: str, query: dict) -> tuple[int, dict]:
        match = CHAIN_PATH.match(path)
        if match["chain"] != self.chain_id:
            return 404, {"message": f"chain {match['chain']} is not served here", "statusCode": 404}
        if match["block"] is None:
            return 200, self.latest_blocks(int(query.get("pageSize") or 10))
        number = int(match["block"])
        if int(self._call("eth_blockNumber", ()), 16) < number:
            return 404, {"message": f"block {number} not found", "statusCode": 404}
        if match["txs"]:
            page_size, page_token = int(query.get("pageSize") or 0), int(query.get("pageToken") or 0)
            return 200, self.transactions_page(number, page_size, page_token)
        return 200, self.block(number)

    def _block(self, number: int) -> dict:
        return self._cache("eth_getBlockByNumber", (hex(number), True))

    def _receipts(self, number: int) -> list[dict]:
        return self._cache("eth_getBlockReceipts", (hex(number),))

    def block(self, number: int) -> dict:
        raw = self._block(number)
        fees = sum(int(r["gasUsed"], 16) * int(r["effectiveGasPrice"], 16) for r in self._receipts(number))
        cumulative = sum(len(self._block(n)["transactions"]) for n in range(number + 1))
        return {
            "chainId": self.chain_id,
            "blockNumber": str(int(raw["number"], 16)),
            "blockTimestamp": int(raw["timestamp"], 16),
            "blockHash": raw["hash"],
            "txCount": len(raw["transactions"]),
            "baseFee": str(int(raw.get("baseFeePerGas") or "0x0", 16)),
            "gasUsed": str(int(raw["gasUsed"], 16)),
            "gasLimit": str(int(raw["gasLimit"], 16)),
            "gasCost": str(int(raw.get("blockGasCost") or "0x0", 16)),
            "parentHash": raw["parentHash"],
            "feesSpent": str(fees),
            "cumulativeTransactions": str(cumulative),
        }

    def latest_blocks(self, size: int) -> dict:
        latest = int(self._call("eth_blockNumber", ()), 16)
        return {"blocks": [self.block(n) for n in range(latest, max(latest - size, -1), -1)]}

    def transactions_page(self, number: int, size: int, offset: int) -> dict:
        raw = self._block(number)
        receipts = {r["transactionHash"]: r for r in self._receipts(number)}
        chosen = raw["transactions"][offset:offset + size]
        page: dict = {"transactions": [self._transaction(raw, tx, receipts[tx["hash"]]) for tx in chosen]}
        if size and offset + size < len(raw["transactions"]):
            page["nextPageToken"] = str(offset + size)
        return page

    def _transaction(self, block: dict, tx: dict, receipt: dict) -> dict:
        creation = tx.get("to") is None
        call_type = "CONTRACT_CREATION" if creation else "NATIVE_TRANSFER" if tx["input"] == "0x" else "CONTRACT_CALL"
        return {
            "blockNumber": str(int(block["number"], 16)),
            "blockTimestamp": int(block["timestamp"], 16),
            "blockHash": block["hash"],
            "chainId": self.chain_id,
            "blockIndex": int(tx["transactionIndex"], 16),
            "txHash": tx["hash"],
            "txStatus": str(int(receipt["status"], 16)),
            "txType": int(tx.get("type", "0x0"), 16),
            "gasLimit": str(int(tx["gas"], 16)),
            "gasUsed": str(int(receipt["gasUsed"], 16)),
            "gasPrice": str(int(receipt["effectiveGasPrice"], 16)),
            "nonce": str(int(tx["nonce"], 16)),
            "from": {"address": checksum(tx["from"])},
            "to": {"address": checksum(receipt["contractAddress"] if creation else tx["to"])},
            "method": {"callType": call_type, "methodHash": "" if call_type != "CONTRACT_CALL" else tx["input"][:10]},
            "value": str(int(tx["value"], 16)),
        }
