"""The fake devchain's atomic transactions (no service): fixtures/atomic.json is what Ava Labs' JavaScript library
encodes from the plan, it fits the fixture P-Chain UTXO for UTXO, and the proxy (avax_assets_dev/local/
atomic_proxy.py) puts each payload on the first block at or after its time, with coreth's extDataHash."""

import json
from pathlib import Path

import httpx
import pytest

from avax_assets.primary import ids
from avax_assets.primary.atomic import decode_atomic
from avax_assets_dev.local import atomic_fixtures, p_chain_fixtures
from avax_assets_dev.local.atomic_proxy import AtomicProxy, ext_data_hash
from avax_assets_dev.local.avacloud_fixtures import FIXTURES as AVACLOUD
from avax_assets_dev.local.http import BackgroundServer, JsonHandler

ATOMIC = json.loads(atomic_fixtures.FIXTURES.read_text())
RECORDED = json.loads((Path(__file__).parents[1] / "primary" / "recorded_atomic.json").read_text())
AVAX = ids.AVAX_ASSET[1]


def p_chain_utxos(direction: str) -> dict[str, dict]:
    pages = json.loads(AVACLOUD.read_text())[p_chain_fixtures.TRANSACTIONS_KEY]
    key = "emittedUtxos" if direction == "produced" else "consumedUtxos"
    return {u["utxoId"]: {**u, "by": t["txHash"]} for page in pages for t in page["transactions"] for u in t[key]}


def test_the_fixtures_are_what_the_javascript_library_encodes_from_the_plan():
    assert atomic_fixtures.written() == ATOMIC
    assert ATOMIC["library"] == "avalanche@3.16.0" and "FAKE" in ATOMIC["provenance"]["served_by"]


def test_the_fixtures_fit_the_fixture_p_chain_utxo_for_utxo():
    consumed_on_p, produced_on_p = p_chain_utxos("consumed"), p_chain_utxos("produced")
    sent, received = {}, {}
    for block in ATOMIC["blocks"]:
        txs = decode_atomic(bytes.fromhex(block["blockExtraData"][2:]), batch=True)
        assert [tx.id for tx in txs] == [encoded["id"] for encoded in block["txs"]]
        assert all(tx.burned(AVAX) == p_chain_fixtures.FEE for tx in txs)
        for tx in txs:
            sent |= {tx.output_utxo_id(n): (tx, o.amount) for n, o in enumerate(tx.utxo_outputs)}
            received |= {i.utxo_id: (tx, i.amount) for i in tx.utxo_inputs}
    imported_on_p = {u: int(p["amount"]) for u, p in consumed_on_p.items() if p["createdOnChainId"] == ids.C_CHAIN}
    assert len(imported_on_p) == 2 and imported_on_p == {u: sent[u][1] for u in imported_on_p}
    assert [sent[u][0].id for u in sent.keys() - imported_on_p.keys()] == [_id("c-chain export 3")]
    exported_to_c = {u: int(p["amount"]) for u, p in produced_on_p.items() if p["consumedOnChainId"] == ids.C_CHAIN}
    assert len(received) == 1 and {u: a for u, (_, a) in received.items()} == {u: exported_to_c[u] for u in received}
    (left,) = exported_to_c.keys() - received.keys()
    assert produced_on_p[left]["by"] == p_chain_fixtures.fid("tx export 2")
    importer = ATOMIC["keys"]["c-chain importer"]["short"][2:]
    assert {produced_on_p[u]["addresses"][0] for u in received} == {ids.address(1, bytes.fromhex(importer))}


def _id(label: str) -> str:
    return next(tx["id"] for block in ATOMIC["blocks"] for tx in block["txs"] if tx["label"] == label)


def test_ext_data_hash_is_coreths():
    empty = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"  # coreth's EmptyExtDataHash
    assert ext_data_hash(b"") == empty
    local = RECORDED["local_block"]
    assert ext_data_hash(bytes.fromhex(local["block_extra_data"][2:])) == local["ext_data_hash"]


DAY1 = p_chain_fixtures.START


class Chain:
    """A node of headers only (number, hash, parentHash, timestamp), for the proxy to sit in front of."""

    def __init__(self, times: list[int]) -> None:
        self.blocks = [{"number": hex(n), "hash": f"0x{n:064x}", "timestamp": hex(t),
                        "parentHash": f"0x{n - 1:064x}" if n else "0x" + "ff" * 32} for n, t in enumerate(times)]

    def answer(self, call: dict) -> dict:
        method, params = call["method"], call["params"]
        if method == "eth_getBlockByNumber":
            found = self.blocks[int(params[0], 16)] if int(params[0], 16) < len(self.blocks) else None
        else:
            found = next((b for b in self.blocks if b["hash"] == params[0]), None)
        return {"jsonrpc": "2.0", "id": call["id"], "result": dict(found) if found else None}


@pytest.fixture
def proxied(tmp_path):
    def serve(times: list[int], fixture_times: list[int]):
        chain = Chain(times)

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.reply(200, [chain.answer(c) for c in body] if isinstance(body, list) else chain.answer(body))

        fixtures = tmp_path / "atomic.json"
        fixtures.write_text(json.dumps({"blocks": [{"at": at, "blockExtraData": f"0x{n:04x}"}
                                                   for n, at in enumerate(fixture_times)]}))
        upstream = BackgroundServer(Handler).__enter__()
        proxy = AtomicProxy(upstream.base_url, fixtures=fixtures).__enter__()
        opened.append((upstream, proxy))
        return proxy.url

    opened = []
    yield serve
    for upstream, proxy in opened:
        proxy.__exit__()
        upstream.__exit__()


def blocks(url: str, count: int) -> list[dict]:
    calls = [{"jsonrpc": "2.0", "id": n, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
             for n in range(count)]
    return httpx.post(url, json=calls).json()


def test_the_proxy_puts_a_payload_on_the_first_block_at_or_after_its_time_that_day(proxied):
    url = proxied([DAY1, DAY1 + 5, DAY1 + 100, DAY1 + 200, DAY1 + 86_300, DAY1 + 86_500],
                  [DAY1 + 60, DAY1 + 86_390])
    answers = blocks(url, 6)
    assert [a["result"].get("blockExtraData") for a in answers] == [None, None, "0x0000", None, None, None]
    assert answers[2]["result"]["extDataHash"] == ext_data_hash(b"\0\0")
    assert answers[2]["result"]["hash"] == f"0x{2:064x}"  # the node's own
    by_hash = httpx.post(url, json={"jsonrpc": "2.0", "id": 9, "method": "eth_getBlockByHash",
                                    "params": [f"0x{2:064x}", False]}).json()
    assert by_hash["result"]["blockExtraData"] == "0x0000"


def test_two_payloads_on_one_block_are_refused_naming_both(proxied):
    url = proxied([DAY1, DAY1 + 500], [DAY1 + 60, DAY1 + 70])
    refused = blocks(url, 2)[1]
    assert "result" not in refused and f"{DAY1 + 60}, {DAY1 + 70}" in refused["error"]["message"]
