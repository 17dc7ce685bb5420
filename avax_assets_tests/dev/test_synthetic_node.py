"""The synthetic node (benchmark tooling) answers byte-identical JSON for a seed, and what it serves passes
the extractors' strict validation and the chain proof, with as many rows as the generator made. Service-free:
the node runs in this process on a free port."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import httpx
import msgspec
import pyarrow.compute as pc
import pytest

from avax_assets.chain.datasets import INTERNAL_TRANSACTIONS
from avax_assets.chain.extract import EXTRACTIONS, IN_FULL_BLOCKS, chunk_extractor, in_chunks
from avax_assets.chain.extractors import Scope
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.settings import RpcSettings
from avax_assets.chain.traces import extract_internal_transactions
from avax_assets.core.days import day_block_range
from avax_assets.core.spool import spool_together
from avax_assets.events.assets import event_log_decoder
from avax_assets.events.datasets import EVENTS, TELEPORTER_EVENTS
from avax_assets.tokens.decode import EVENTS as TRANSFER_EVENTS
from avax_assets_dev.local.synthetic_chain import ChainSpec, SyntheticChain
from avax_assets_dev.local.synthetic_node import BackgroundNode, BlockStore, SyntheticNode, prime

SMALL = ChainSpec(seed=7, scale=0.003)  # 130 blocks a day, each as dense as mainnet's
DAY = SMALL.start.isoformat()
CHUNK = 40  # several chunks a day: the hash chain is carried across them


def post(url: str, body) -> bytes:
    return httpx.post(url, content=msgspec.json.encode(body), timeout=30).content


def calls(spec: ChainSpec) -> list[dict]:
    """One of every call the node serves, over the first blocks of the day."""
    first = spec.first_height
    pool = SyntheticChain(spec).cast.v2_pools[0].address
    token = SyntheticChain(spec).cast.tokens[5]
    methods = [("eth_chainId", []), ("eth_blockNumber", []), ("eth_getBlockByNumber", [hex(first), True]),
               ("eth_getBlockByNumber", [hex(first + 1), False]), ("eth_getBlockReceipts", [hex(first + 2)]),
               ("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(first + 3)}]),
               ("debug_traceBlockByNumber", [hex(first + 1), {"tracer": "callTracer"}]),
               ("eth_call", [{"to": pool, "data": "0x0dfe1681"}, "latest"]),
               ("eth_call", [{"to": token, "data": "0x95d89b41"}, "latest"])]
    return [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(methods)]


def test_a_seed_gives_byte_identical_answers_whatever_was_asked_before_or_stored(tmp_path):
    batch = calls(SMALL)
    fresh = SyntheticNode(SyntheticChain(SMALL))
    store = BlockStore(tmp_path, SMALL)
    prime(SMALL, tmp_path, range(SMALL.first_height, SMALL.first_height + 4), workers=1)
    stored = SyntheticNode(SyntheticChain(SMALL), cache_blocks=1, store=store)
    with BackgroundNode(fresh) as one, BackgroundNode(stored) as other:
        post(other.url, list(reversed(batch)))  # another order first: nothing carries over between blocks
        answer = post(one.url, batch)
        assert post(other.url, batch) == answer and post(one.url, batch) == answer
    assert stored.stats["read"] >= 4  # the stored blocks were served from the store
    other_seed = SyntheticNode(SyntheticChain(ChainSpec(seed=8, scale=0.003)))
    assert other_seed.answer(msgspec.json.encode(batch)) != answer
    results = msgspec.json.decode(answer)
    assert [r["id"] for r in results] == list(range(len(batch))) and all("result" in r for r in results)


@pytest.fixture(scope="module", params=["helicon", "granite"])
def served(request):
    """A node of the small day, in the era asked for (granite: each header's bloom is checked against its logs)."""
    spec = ChainSpec(seed=7, scale=0.003, era=request.param)
    chain = SyntheticChain(spec)
    with BackgroundNode(SyntheticNode(chain)) as node:
        yield spec, chain, node.url


def test_a_day_passes_the_proof_with_the_rows_the_generator_made(served):
    spec, chain, url = served
    with JsonRpcClient(RpcSettings(url=url, chunk_blocks=CHUNK)) as client:
        reader = ChainReader(client)
        blocks = day_block_range(reader, spec.start)
        assert (blocks.first, blocks.last + 1) == (spec.day_blocks(spec.start).start, spec.day_blocks(spec.start).stop)
        extractions = tuple(e for e in EXTRACTIONS if e.dataset in IN_FULL_BLOCKS)
        scopes = {e.dataset.name: Scope(e.dataset, DAY) for e in extractions}
        work = chunk_extractor(extractions, DAY, reader, scopes=scopes)
        spools = spool_together([e.dataset for e in extractions], DAY, in_chunks(work, "synthetic", DAY, blocks, CHUNK))
    try:
        made = chain.day_tally(spec.day_blocks(spec.start))
        assert {name: s.rows for name, s in spools.items()} == {"blocks": blocks.count,
                                                                 "transactions": made["transactions"],
                                                                 "logs": made["logs"]}
        assert all(not scope.unknown for scope in scopes.values())  # every field the node sent is declared
        decoded, malformed = Counter(), []
        for logs in spools["logs"].iter_batches():
            for event in (*TRANSFER_EVENTS, *(event_log_decoder(e) for e in EVENTS)):
                result = event(logs)
                decoded[event.dataset.name] += result.batch.num_rows
                malformed += result.malformed
        assert malformed == []
        assert decoded == {name: made[name] for name in decoded}
        # every declared event is in the mix, but ICM's (not made here: devchain/icm.py makes them on two chains)
        assert all(decoded[name] > 0 for name in decoded if name not in {e.dataset.name for e in TELEPORTER_EVENTS})
    finally:
        for spooled in spools.values():
            spooled.discard()


def test_a_day_has_mainnet_density():
    made = SyntheticChain(SMALL).day_tally(SMALL.day_blocks(SMALL.start))
    blocks = SMALL.blocks_per_day
    assert 0.85 < made["transactions"] / blocks / SMALL.txs_per_block < 1.15
    assert 0.9 < made["logs"] / made["transactions"] / SMALL.logs_per_tx < 1.1
    assert made["reverted"] and made["contract_creations"]


def test_traces_pass_their_proof_with_every_frame_the_generator_made(served):
    spec, chain, url = served
    blocks = range(spec.first_height, spec.first_height + 30)  # contract creations among them
    with JsonRpcClient(RpcSettings(url=url)) as client:
        proven = extract_internal_transactions(ChainReader(client), blocks, Scope(INTERNAL_TRANSACTIONS, DAY))
    frames = proven.batches[INTERNAL_TRANSACTIONS.name]
    made = sum((chain.render(n, traced=True).tally for n in blocks), Counter())
    assert made["contract_creations"] > 2
    assert frames.num_rows == made["internal_transactions"]
    top = frames.filter(pc.equal(frames.column("depth"), 0))
    assert top.num_rows == made["transactions"]
    assert sum(top.column("reverted").to_pylist()) == made.get("reverted", 0)


def test_logs_filters_calls_and_refusals_answer_as_a_node_does():
    node = SyntheticNode(SyntheticChain(SMALL), logs_block_range=10)
    first = SMALL.first_height

    def ask(method: str, params: list):
        return msgspec.json.decode(node.answer(msgspec.json.encode(
            {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})))

    receipts = [r for n in range(first, first + 3) for r in ask("eth_getBlockReceipts", [hex(n)])["result"]]
    logs = ask("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(first + 2)}])["result"]
    assert logs == [log for r in receipts for log in r["logs"]]
    swap = next(log for log in logs if log["topics"][0] == EVENTS[1].topic0)
    only = ask("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(first + 2), "address": swap["address"],
                                "topics": [EVENTS[1].topic0]}])["result"]
    assert swap in only and all(log["address"] == swap["address"] for log in only)
    assert "maximum is set to 10" in ask("eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(first + 10)}])[
        "error"]["message"]
    tx = receipts[0]["transactionHash"]
    assert ask("eth_getTransactionReceipt", [tx])["result"] == receipts[0]
    assert ask("eth_getTransactionByHash", [tx])["result"]["hash"] == tx
    block = ask("eth_getBlockByNumber", [hex(first), False])["result"]
    assert ask("eth_getBlockByHash", [block["hash"], False])["result"] == block
    assert ask("eth_getBlockByNumber", [hex(SMALL.head + 1), False])["result"] is None
    assert ask("trace_block", [hex(first)])["error"]["code"] == -32601
    assert ask("eth_call", [{"to": "0x" + "1" * 40, "data": "0x06fdde03"}, "latest"])["error"]["code"] == 3
    timestamps = [int(ask("eth_getBlockByNumber", [hex(n), False])["result"]["timestamp"], 16)
                  for n in (first - 1, first)]
    midnight = int(dt.datetime.combine(SMALL.start, dt.time(), dt.timezone.utc).timestamp())
    assert timestamps[0] < midnight == timestamps[1]
