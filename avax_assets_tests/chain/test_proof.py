"""The proof before storage (chain/proof.py), check by check, on hand-made node answers (no services): a
consistent chunk passes and gives its rows; each way a lying or lagging provider's answers contradict
each other raises ProviderInconsistency naming the block, the field and both values."""

from __future__ import annotations

import copy
import json
import hashlib

import msgspec
import pyarrow as pa
import pytest

from avax_assets.chain import proof
from avax_assets.chain.datasets import BLOCKS, INTERNAL_TRANSACTIONS, LOGS, TRANSACTIONS
from avax_assets.chain.extract import Refetch, in_chunks
from avax_assets.chain.extractors import Scope, extract_blocks, extract_logs, extract_together
from avax_assets.chain.rows import FullBlock, Receipt
from avax_assets.chain.rpc import as_plain
from avax_assets.core.days import BlockRange
from avax_assets.core.errors import InconsistentSource, NullResult, ProviderInconsistency

DAY = "2024-06-02"
START, END = 1717286400, 1717372800  # the day, [start, end) in Unix seconds
FIRST = 100  # the day's blocks: 100..105
EMPTY_BLOOM = "0x" + "0" * 512
SOME_BLOOM = "0x" + "0" * 500 + "1" + "0" * 11


def h(*parts) -> str:
    return "0x" + hashlib.sha256(repr(parts).encode()).hexdigest()


class Chain:
    """A consistent little chain as a node serves it: blocks (the one before FIRST included), each with
    `txs` transactions of `logs` logs, except every third block, which is empty."""

    def __init__(self, count: int = 6, txs: int = 3, logs: int = 2) -> None:
        self.blocks, self.receipts = {}, {}
        parent = h("genesis")
        for number in range(FIRST - 1, FIRST + count + 1):
            block_hash = h("block", number)
            n_txs = 0 if number % 3 == 0 else txs
            txs_json = [self.tx(number, block_hash, i) for i in range(n_txs)]
            self.receipts[number] = [self.receipt(number, block_hash, tx, logs, sum(logs for _ in range(i)))
                                     for i, tx in enumerate(txs_json)]
            self.blocks[number] = {
                "number": hex(number), "timestamp": hex(self.timestamp(number)), "hash": block_hash,
                "parentHash": parent, "miner": "0x" + "01" * 20, "stateRoot": h("s", number),
                "transactionsRoot": h("t", number), "receiptsRoot": h("r", number), "extraData": "0x",
                "size": "0x100", "gasLimit": "0xe4e1c0", "gasUsed": hex(21_000 * n_txs), "difficulty": "0x1",
                "logsBloom": SOME_BLOOM if n_txs and logs else EMPTY_BLOOM, "transactions": txs_json}
            parent = block_hash

    @staticmethod
    def timestamp(number: int) -> int:
        return START + (number - FIRST) * 600 if number <= FIRST + 5 else END

    @staticmethod
    def tx(number: int, block_hash: str, index: int) -> dict:
        return {"hash": h("tx", number, index), "from": "0x" + "02" * 20, "to": "0x" + "03" * 20, "value": "0x1",
                "nonce": hex(index), "gas": "0x5208", "gasPrice": "0x5d21dba00", "input": "0x", "type": "0x0",
                "chainId": "0xa86a", "transactionIndex": hex(index), "blockHash": block_hash,
                "blockNumber": hex(number)}

    @staticmethod
    def receipt(number: int, block_hash: str, tx: dict, logs: int, first_log: int) -> dict:
        return {"transactionHash": tx["hash"], "blockHash": block_hash, "blockNumber": hex(number),
                "transactionIndex": tx["transactionIndex"], "gasUsed": "0x5208", "effectiveGasPrice": "0x5d21dba00",
                "status": "0x1", "cumulativeGasUsed": hex(21_000 * (int(tx["transactionIndex"], 16) + 1)),
                "contractAddress": None,
                "logs": [{"address": "0x" + "04" * 20, "topics": [h("topic")], "data": "0x",
                          "blockHash": block_hash, "blockNumber": hex(number), "transactionHash": tx["hash"],
                          "transactionIndex": tx["transactionIndex"], "logIndex": hex(first_log + i)}
                         for i in range(logs)]}

    @property
    def chunk(self) -> range:
        return range(FIRST, max(self.blocks))  # the last block served is the one after the chunk


class FakeReader:
    """Answers as the ChainReader does (the same decoded shapes), from a Chain the test may have spoiled."""

    endpoint = "https://provider.test/ext/bc/C/rpc?key=SECRET"

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def full_blocks_with_receipts(self, blocks: range):
        full = [as_plain(msgspec.json.decode(msgspec.json.encode(self.chain.blocks[n]), type=FullBlock))
                for n in blocks]
        receipts = msgspec.json.decode(msgspec.json.encode([r for n in blocks for r in self.chain.receipts[n]]),
                                       type=list[Receipt])
        return full, receipts

    def headers(self, blocks: range):
        return [{**self.chain.blocks[n], "transactions": [tx["hash"] for tx in self.chain.blocks[n]["transactions"]]}
                for n in blocks]

    def neighbours(self, blocks: range):
        return self.chain.blocks.get(blocks.start - 1), self.chain.blocks.get(blocks.stop)

    def logs_json(self, blocks: range):
        return [log for n in blocks for r in self.chain.receipts[n] for log in r["logs"]]


SCOPES = {d.name: Scope(d, DAY) for d in (BLOCKS, TRANSACTIONS, LOGS)}


def rehash(chain: Chain, number: int, new: str) -> None:
    """Block `number` given another hash everywhere it is stated, and as the next block's parent."""
    block = chain.blocks[number]
    block["hash"] = new
    for tx in block["transactions"]:
        tx["blockHash"] = new
    for receipt in chain.receipts[number]:
        receipt["blockHash"] = new
        for log in receipt["logs"]:
            log["blockHash"] = new
    if number + 1 in chain.blocks:
        chain.blocks[number + 1]["parentHash"] = new


def together(chain: Chain) -> proof.Proven:
    return extract_together(FakeReader(chain), chain.chunk, SCOPES)


def refused(chain: Chain, extract=together) -> str:
    with pytest.raises(ProviderInconsistency) as raised:
        extract(chain)
    return str(raised.value)


def test_a_consistent_chunk_is_proven_with_every_row():
    chain = Chain()
    proven = together(chain)
    assert {name: b.num_rows for name, b in proven.batches.items()} == {"transactions": 12, "blocks": 6, "logs": 24}
    assert proven.blocks.hashes[0] == h("block", FIRST) and proven.blocks.before.hash == h("block", FIRST - 1)
    assert proven.blocks.after.parent_hash == h("block", FIRST + 5)  # the chunk's last hash
    assert extract_blocks(FakeReader(chain), chain.chunk, SCOPES["blocks"]).batches["blocks"].num_rows == 6
    assert extract_logs(FakeReader(chain), chain.chunk, SCOPES["logs"]).batches["logs"].num_rows == 24


def test_another_block_for_a_height_breaks_the_hash_chain():
    chain = Chain()
    chain.blocks[FIRST + 2] = {**chain.blocks[FIRST + 4], "number": hex(FIRST + 2)}  # a different hash for 102
    message = refused(chain)
    assert message == (f"dataset 'blocks' partition {DAY}: block 102: parentHash is {h('block', 103)}, but block "
                       f"101's hash is {h('block', 101)}")


def test_a_block_answered_for_another_number_is_refused():
    chain = Chain()
    chain.blocks[FIRST + 1] = chain.blocks[FIRST + 2]
    assert "block 101: the source answered block 102 for it" in refused(chain)


def test_the_chunk_is_linked_to_the_blocks_read_around_it():
    chain = Chain()
    chain.blocks[FIRST - 1]["hash"] = h("elsewhere")
    assert f"block 100: parentHash is {h('block', 99)}, but block 99's hash is {h('elsewhere')}" in refused(chain)
    chain = Chain()
    chain.blocks[FIRST + 6]["parentHash"] = h("elsewhere")
    assert f"block 105: hash is {h('block', 105)}, but block 106's parentHash is {h('elsewhere')}" in refused(chain)
    chain = Chain()
    del chain.blocks[FIRST - 1]  # a backend behind the chain: null
    assert "block 100: block 99, before it, was answered null" in refused(chain)


def test_each_receipt_twice_is_refused_naming_where_receipts_and_transactions_part():
    chain = Chain()
    chain.receipts[FIRST + 1] = [r for r in chain.receipts[FIRST + 1] for _ in (0, 1)]
    message = refused(chain)
    assert message.startswith(f"dataset 'transactions' partition {DAY}: block 101: 15 receipts for the 12 "
                              "transactions of blocks 100..105")
    assert f"its transaction 1 is {h('tx', 101, 1)}, the receipt there is of {h('tx', 101, 0)}" in message


def test_a_receipt_of_another_block_is_refused():
    chain = Chain()
    chain.receipts[FIRST + 1][-1] = chain.receipts[FIRST + 4][0]
    assert (f"block 101: the receipt of transaction 2 ({h('tx', 101, 2)}): transactionHash is {h('tx', 104, 0)}, "
            f"the block's transaction there is {h('tx', 101, 2)}") in refused(chain)


@pytest.mark.parametrize("field, value, expected", [
    ("blockHash", h("elsewhere"), f"blockHash is {h('elsewhere')}, the block's hash is {h('block', 101)}"),
    ("blockNumber", hex(FIRST + 4), "blockNumber is 104, the block's number is 101"),
    ("transactionIndex", "0x7", "transactionIndex is 7, its position in the block is 1"),
])
def test_a_receipt_or_transaction_stating_another_place_is_refused(field, value, expected):
    chain = Chain()
    chain.receipts[FIRST + 1][1][field] = value
    assert f"block 101: the receipt of transaction 1 ({h('tx', 101, 1)}): {expected}" in refused(chain)
    chain = Chain()
    chain.blocks[FIRST + 1]["transactions"][1][field] = value
    assert f"block 101: transaction 1 ({h('tx', 101, 1)}): {expected}" in refused(chain)


def test_a_transaction_dropped_with_its_receipt_is_caught_by_the_blocks_gas():
    chain = Chain()
    del chain.blocks[FIRST + 1]["transactions"][2], chain.receipts[FIRST + 1][2]
    assert "block 101: its receipts' gas adds up to 42000, its header's gasUsed is 63000" in refused(chain)
    chain = Chain()
    chain.blocks[FIRST + 1]["settledHeight"] = "0x60"  # Helicon: the header accounts for gas its own way
    del chain.blocks[FIRST + 1]["transactions"][2], chain.receipts[FIRST + 1][2]
    assert together(chain).batches["transactions"].num_rows == 11


def test_a_missing_receipt_is_an_inconsistency_not_bad_data():
    chain = Chain()
    chain.receipts[FIRST + 4] = chain.receipts[FIRST + 4][:1]  # a backend that has not indexed them all yet
    assert "block 104: 10 receipts for the 12 transactions" in refused(chain)


def test_log_indices_must_be_unique_and_contiguous_in_each_block():
    chain = Chain()
    chain.receipts[FIRST + 1][1]["logs"][0]["logIndex"] = "0x1"  # two logs 1
    assert "block 101: log 1 (transaction" in (message := refused(chain))
    assert "logIndex is 1, its place among the block's logs is 2" in message
    chain = Chain()
    for log in chain.receipts[FIRST + 4][0]["logs"]:
        log["logIndex"] = hex(int(log["logIndex"], 16) + 1)  # 1, 2: log 0 skipped
    assert "block 104: log 1 (transaction" in (message := refused(chain))
    assert "logIndex is 1, its place among the block's logs is 0" in message


def test_a_log_of_another_block_or_transaction_is_refused():
    chain = Chain()
    chain.receipts[FIRST + 1][0]["logs"][0]["blockHash"] = h("block", FIRST + 2)  # a block of the chunk
    assert f"block 101: log 0 (transaction {h('tx', 101, 0)}): blockHash is {h('block', 102)}" in refused(chain)
    chain = Chain()
    chain.receipts[FIRST + 1][0]["logs"][0]["blockHash"] = h("elsewhere")  # no block of the chunk
    assert f"a log's blockHash {h('elsewhere')} is not the hash of any block of the chunk" in refused(chain)
    chain = Chain()
    chain.receipts[FIRST + 1][0]["logs"][1]["transactionHash"] = h("tx", 101, 2)
    assert f"block 101: log 1: transactionHash is {h('tx', 101, 2)}, its receipt's is {h('tx', 101, 0)}" in \
        refused(chain)
    chain = Chain()
    chain.receipts[FIRST + 1][0]["logs"][1]["transactionIndex"] = "0x2"
    assert "block 101: log 1: transactionIndex is 2, its receipt's is 0" in refused(chain)


def test_logs_read_alone_name_a_transaction_of_their_block():
    """eth_getLogs: a log is proven against its block's own list of transaction hashes."""
    extract = lambda c: extract_logs(FakeReader(c), c.chunk, SCOPES["logs"])  # noqa: E731
    chain = Chain()
    chain.receipts[FIRST + 1][0]["logs"][1]["transactionHash"] = h("tx", 101, 2)
    said = f"block 101: log 1: transactionHash is {h('tx', 101, 2)}, the block's transaction at its " \
           f"transactionIndex is {h('tx', 101, 0)}"
    with pytest.raises(ProviderInconsistency, match=said):
        extract(chain)
    chain = Chain()
    chain.receipts[FIRST + 1][0]["logs"][1]["transactionIndex"] = "0x9"
    with pytest.raises(ProviderInconsistency, match="block 101: log 1 names transaction 9 .*which the block does not"):
        extract(chain)


def test_logs_read_apart_from_their_transactions_name_one_of_the_block():
    """eth_getLogs beside another source's transactions (the Data API's): joined on block and index."""
    proven = together(Chain())
    logs, txs = proven.batches["logs"], proven.batches["transactions"]
    proof.prove_logs_of_transactions(SCOPES["logs"], logs, txs)
    index = logs.column("transaction_index").to_pylist()
    index[2] = 9
    stray = logs.set_column(logs.schema.get_field_index("transaction_index"), "transaction_index",
                            pa.array(index, pa.uint32()))
    with pytest.raises(ProviderInconsistency, match=f"block 100: log 2 names transaction 9 \\({h('tx', 100, 1)}\\), "
                                                    "which the block does not have"):
        proof.prove_logs_of_transactions(SCOPES["logs"], stray, txs)
    hashes = logs.column("transaction_hash").to_pylist()
    hashes[2] = h("tx", 100, 2)
    other = logs.set_column(logs.schema.get_field_index("transaction_hash"), "transaction_hash", pa.array(hashes))
    with pytest.raises(ProviderInconsistency, match=f"block 100: log 2: transactionHash is {h('tx', 100, 2)}, "
                                                    "the block's transaction at its transactionIndex is "
                                                    f"{h('tx', 100, 1)}"):
        proof.prove_logs_of_transactions(SCOPES["logs"], other, txs)


def test_logs_count_as_their_receipts_say():
    proven = together(Chain())
    logs, txs = proven.batches["logs"], proven.batches["transactions"]
    counts = txs.column("logs_count").to_pylist()
    counts[0] += 1
    txs = txs.set_column(txs.schema.get_field_index("logs_count"), "logs_count", pa.array(counts, pa.uint32()))
    with pytest.raises(ProviderInconsistency, match=f"block 100: the receipt of transaction {h('tx', 100, 0)} holds 3 "
                                                    "logs, the source gave 2 for it"):
        proof.prove_logs_of_transactions(SCOPES["logs"], logs, txs)


def test_a_block_whose_bloom_says_logs_has_them():
    chain = Chain()
    chain.receipts[FIRST + 4][2]["logs"] = []
    for r in chain.receipts[FIRST + 4]:
        r["logs"] = []  # eth_getLogs of a lagging backend: none yet
    extract = lambda c: extract_logs(FakeReader(c), c.chunk, SCOPES["logs"])  # noqa: E731
    assert "block 104: its logsBloom says it has logs, the source gave 0 logs" in refused(chain, extract)
    chain = Chain()
    chain.blocks[FIRST + 1]["logsBloom"] = EMPTY_BLOOM
    assert "block 101: its logsBloom says it has no logs, the source gave 6 logs" in refused(chain, extract)


def test_transactions_batches_hold_their_blocks_counts_and_unique_hashes():
    chain = Chain()
    proven = together(chain)
    view, txs = proven.blocks, proven.batches["transactions"]
    proof.prove_transactions(SCOPES["transactions"], view, txs)
    fewer = proof.BlockView(view.scope, view.first, view.hashes, view.parents, view.timestamps,
                            (*view.transaction_counts[:1], 4, *view.transaction_counts[2:]), view.has_logs)
    with pytest.raises(ProviderInconsistency, match="block 101: the block counts 4 transactions, the source gave 3"):
        proof.prove_transactions(SCOPES["transactions"], fewer, txs)
    hashes = txs.column("transaction_hash").to_pylist()
    hashes[4] = hashes[0]
    same = txs.set_column(txs.schema.get_field_index("transaction_hash"), "transaction_hash", pa.array(hashes))
    with pytest.raises(ProviderInconsistency, match=f"block 100: the transaction with transaction_hash "
                                                    f"{h('tx', 100, 0)} came twice"):
        proof.prove_transactions(SCOPES["transactions"], view, same)


def test_traces_are_one_per_transaction_in_order():
    chain = Chain()
    view = together(chain).blocks
    hashes = [[tx["hash"] for tx in chain.blocks[n]["transactions"]] for n in chain.chunk]
    debug = [[{"txHash": tx, "result": {}} for tx in block] for block in hashes]
    scope = Scope(INTERNAL_TRANSACTIONS, DAY)
    proof.prove_traces(scope, view, "debug", debug, hashes)
    short = copy.deepcopy(debug)
    short[1].pop()
    with pytest.raises(ProviderInconsistency, match="block 101: 2 traces for its 3 transactions"):
        proof.prove_traces(scope, view, "debug", short, hashes)
    swapped = copy.deepcopy(debug)
    swapped[1][0], swapped[1][1] = swapped[1][1], swapped[1][0]
    with pytest.raises(ProviderInconsistency, match=f"block 101: trace 0: txHash is {h('tx', 101, 1)}, the block's "
                                                    f"transaction 0 is {h('tx', 101, 0)}"):
        proof.prove_traces(scope, view, "debug", swapped, hashes)
    parity = [[{"transactionHash": tx, "type": "call"} for tx in block] for block in hashes]
    proof.prove_traces(scope, view, "parity", parity, hashes)
    parity[1][2]["transactionHash"] = h("tx", 104, 0)
    with pytest.raises(ProviderInconsistency, match=f"block 101: no trace of its transaction {h('tx', 101, 2)}"):
        proof.prove_traces(scope, view, "parity", parity, hashes)


def test_two_sources_must_have_seen_the_same_blocks():
    chain = Chain()
    rpc = together(chain)
    other = copy.deepcopy(chain)
    rehash(other, FIRST + 3, h("elsewhere"))  # a consistent answer, of another chain
    logs = extract_logs(FakeReader(other), other.chunk, SCOPES["logs"])
    with pytest.raises(ProviderInconsistency, match=f"block 103: logs read hash {h('elsewhere')}, blocks read "
                                                    f"{h('block', 103)}"):
        proof.together([rpc, logs])
    assert proof.together([rpc, extract_logs(FakeReader(chain), chain.chunk, SCOPES["logs"])]).batches.keys() == \
        {"blocks", "transactions", "logs"}


# --- across chunks, and fetching again -----------------------------------------------------------

class Flapping:
    """Extracts a chunk through a provider that lies in its first `lies` answers of `bad_chunk`."""

    def __init__(self, chain: Chain, liar: Chain, bad_chunk: int, lies: int) -> None:
        self.chain, self.liar, self.bad_chunk, self.lies = chain, liar, bad_chunk, lies

    def __call__(self, chunk: range) -> proof.Proven:
        lying = chunk.start == self.bad_chunk and self.lies > 0
        self.lies -= lying
        return extract_together(FakeReader(self.liar if lying else self.chain), chunk, SCOPES)


def refetch(**options) -> Refetch:
    return Refetch("blocks+transactions+logs", DAY, "https://provider.test", sleep=lambda s: None, **options)


def chunks(work, chain: Chain, policy: Refetch) -> list:
    """The chain's day (blocks 100..105) in chunks of 2, through `work`."""
    return list(in_chunks(work, "blocks+transactions+logs", DAY, BlockRange(FIRST, FIRST + 5), 2, refetch=policy))


def test_a_flapping_provider_is_fetched_again_until_consistent():
    chain, liar = Chain(), Chain()
    liar.receipts[FIRST + 3] = liar.receipts[FIRST + 3] * 2
    policy = refetch()
    got = chunks(Flapping(chain, liar, FIRST + 2, lies=2), chain, policy)
    assert policy.count == 2 and sum(b["transactions"].num_rows for b in got) == 12


def test_a_provider_that_keeps_lying_fails_the_partition_for_good_in_one_line():
    chain, liar = Chain(), Chain()
    liar.receipts[FIRST + 3] = liar.receipts[FIRST + 3] * 2
    policy = Refetch.of("blocks+transactions+logs", DAY, type("R", (), {
        "endpoint": FakeReader.endpoint, "client": type("C", (), {"settings": type("S", (), {
            "patience": type("P", (), {"backoff": staticmethod(lambda attempt: 0.0)})()})()})()})())
    with pytest.raises(InconsistentSource) as failed:
        chunks(Flapping(chain, liar, FIRST + 2, lies=99), chain, policy)
    message = str(failed.value)
    assert "\n" not in message and "SECRET" not in message and "/ext/bc" not in message
    assert message.startswith(f"dataset 'transactions' partition {DAY}: block 103: 6 receipts for the 3 transactions")
    assert message.endswith("(in each of 3 fetches from https://provider.test; nothing of the partition was stored)")
    assert policy.count == 2


def test_chunks_are_linked_in_order_and_the_days_last_block_to_the_next():
    chain, other = Chain(), Chain()
    rehash(other, FIRST + 1, h("elsewhere"))  # consistent within its own chunk, 100..101 and 102's parent
    def work(chunk: range) -> proof.Proven:
        return extract_together(FakeReader(other if chunk.start == FIRST else chain), chunk, SCOPES)

    with pytest.raises(InconsistentSource, match=f"block 102: parentHash is {h('block', 101)}, but block 101's hash "
                                                 f"was {h('elsewhere')} in the chunk before"):
        chunks(work, chain, refetch())
    del chain.blocks[max(chain.blocks)]  # the block after the day: null from a lagging backend
    with pytest.raises(InconsistentSource, match="block 105: block 106, after it, was answered null"):
        chunks(lambda chunk: extract_together(FakeReader(chain), chunk, SCOPES), chain, refetch())


def test_the_days_edges_show_its_block_range_is_right():
    chain = Chain()
    chain.blocks[FIRST - 1]["timestamp"] = hex(START + 5)  # a range found through a lie: 99 is on the day too
    with pytest.raises(InconsistentSource, match=f"block 99: timestamp {START + 5} is on the day "
                                                 rf"\[{START}, {END}\), but the day's range was found without it"):
        chunks(lambda chunk: extract_together(FakeReader(chain), chunk, SCOPES), chain, refetch())
    chain = Chain()
    chain.blocks[FIRST + 5]["timestamp"] = hex(END)
    with pytest.raises(InconsistentSource, match=f"block 105: timestamp {END} is not on the day"):
        chunks(lambda chunk: extract_together(FakeReader(chain), chunk, SCOPES), chain, refetch())


def test_a_null_block_of_a_finished_day_is_fetched_again():
    chain = Chain()
    answers = iter([NullResult("JSON-RPC eth_getBlockByNumber(['0x66', True]): node returned null")])

    def work(chunk: range) -> proof.Proven:
        problem = next(answers, None)
        if problem is not None:
            raise problem
        return extract_together(FakeReader(chain), chunk, SCOPES)

    policy = refetch()
    assert len(chunks(work, chain, policy)) == 3 and policy.count == 1


def test_a_null_header_while_finding_the_days_blocks_is_a_backend_behind_not_bad_data():
    import datetime as dt

    from avax_assets.core.days import day_block_range
    from avax_assets.core.errors import SourceBehind, TransientError

    class Behind:  # eth_blockNumber from a fresh backend, the head's header from one behind it
        endpoint = "behind-test"

        def latest_block(self) -> int:
            return 500

        def timestamp(self, number: int) -> int:
            raise NullResult(f"JSON-RPC eth_getBlockByNumber(['{hex(number)}', False]): node returned null")

    with pytest.raises(SourceBehind, match="node returned null, though the source's head is block 500") as raised:
        day_block_range(Behind(), dt.date.fromisoformat(DAY))
    assert isinstance(raised.value, TransientError)


def test_a_helicon_header_s_bloom_says_nothing_of_its_own_logs():
    """Under ACP-194 a header's logsBloom no longer summarises its own receipts: never judged by it."""
    from avax_assets.chain.proof import has_logs

    empty, full = "0x" + "0" * 512, "0x" + "0" * 511 + "1"
    assert has_logs({"logsBloom": empty}) is False and has_logs({"logsBloom": full}) is True
    assert has_logs({"logsBloom": empty, "settledHeight": "0x5"}) is None
    assert has_logs({"logsBloom": full, "settledHeight": "0x5"}) is None


class PlainWhereUnknownReader(FakeReader):
    """As the JSON-RPC client does: an answer with a key the shapes do not know comes back plain JSON."""

    def full_blocks_with_receipts(self, blocks: range):
        try:
            return super().full_blocks_with_receipts(blocks)
        except msgspec.ValidationError:
            full = [msgspec.json.decode(msgspec.json.encode(self.chain.blocks[n])) for n in blocks]
            return full, [msgspec.json.decode(msgspec.json.encode(r)) for n in blocks for r in self.chain.receipts[n]]


def test_a_field_no_declaration_knows_is_counted_and_named_never_dropped_silently():
    chain = Chain()
    chain.blocks[FIRST + 1]["someNewHeaderField"] = "0x1"
    chain.blocks[FIRST + 1]["transactions"][0]["someNewTxField"] = "0x2"
    chain.receipts[FIRST + 1][1]["someNewReceiptField"] = "0x3"
    chain.receipts[FIRST + 1][1]["logs"][0]["someNewLogField"] = "0x4"
    scopes = {d.name: Scope(d, DAY) for d in (BLOCKS, TRANSACTIONS, LOGS)}
    proven = extract_together(PlainWhereUnknownReader(chain), chain.chunk, scopes)
    assert {name: b.num_rows for name, b in proven.batches.items()} == {"transactions": 12, "blocks": 6, "logs": 24}
    assert scopes["blocks"].unknown == {"block.someNewHeaderField": 1}
    assert scopes["transactions"].unknown == {"transaction.someNewTxField": 1, "receipt.someNewReceiptField": 1}
    assert scopes["logs"].unknown == {"log.someNewLogField": 1}
    assert not any(Scope(d, DAY).unknown for d in (BLOCKS, TRANSACTIONS, LOGS))


def test_a_receipt_that_fits_the_shape_is_read_under_the_node_s_keys_beside_one_that_does_not():
    """Receipts decoded into the shape sit beside plain ones when one carries a new key: a shape's field named
    otherwise than the node's key (`from`) is the node's key again, never counted as unknown."""
    chain = Chain()
    for receipts in chain.receipts.values():
        for receipt in receipts:
            receipt["from"] = "0x" + "02" * 20
    chain.receipts[FIRST + 1][1]["someNewReceiptField"] = "0x3"

    class MixedReader(FakeReader):
        def full_blocks_with_receipts(self, blocks: range):
            full = [as_plain(msgspec.json.decode(msgspec.json.encode(self.chain.blocks[n]), type=FullBlock))
                    for n in blocks]
            encoded = [msgspec.json.encode(r) for n in blocks for r in self.chain.receipts[n]]
            return full, [msgspec.json.decode(r) if b"someNewReceiptField" in r
                          else msgspec.json.decode(r, type=Receipt) for r in encoded]

    scopes = {d.name: Scope(d, DAY) for d in (BLOCKS, TRANSACTIONS, LOGS)}
    proven = extract_together(MixedReader(chain), chain.chunk, scopes)
    assert proven.batches["transactions"].num_rows == 12
    assert scopes["transactions"].unknown == {"receipt.someNewReceiptField": 1}


def test_the_fields_current_nodes_serve_are_columns():
    """Octane, Granite, Helicon and ACP-224 header fields, and the transaction types' fields, have columns."""
    chain = Chain(count=1)
    block = chain.blocks[FIRST]
    block.update({"targetExponent": "0x2", "minPriceExponent": "0x3", "timestampMilliseconds": "0x10",
                  "minDelayExcess": "0x4", "targetExcess": "0x5", "settledHeight": hex(FIRST - 1),
                  "settledGasUnix": "0x6", "settledGasNumerator": "0x7", "settledExcess": "0x8",
                  "gasConfigValidatorTargetGas": "0x9", "gasConfigTargetGas": "0xa",
                  "gasConfigTargetToExcessScaling": "0xb", "gasConfigMinGasPrice": "0xc",
                  "gasConfigStaticPricing": "0x0", "requestsHash": h("requests")})
    tx = block["transactions"][0]
    tx.update({"type": "0x4", "yParity": "0x1", "v": "0x1", "r": "0xff", "s": "0x1",
               "accessList": [{"address": "0x" + "AB" * 20, "storageKeys": [h("key")]}],
               "authorizationList": [{"chainId": "0xa86a", "address": "0x" + "cd" * 20, "nonce": "0x7",
                                      "yParity": "0x0", "r": "0x01", "s": "0x02"}]})
    proven = extract_together(FakeReader(chain), range(FIRST, FIRST + 1), {d.name: Scope(d, DAY)
                                                                           for d in (BLOCKS, TRANSACTIONS)})
    [row] = proven.batches["blocks"].to_pylist()
    assert (row["target_exponent"], row["settled_height"], row["gas_config_target_to_excess_scaling"]) == \
        (2, FIRST - 1, 11)
    first = proven.batches["transactions"].to_pylist()[0]
    assert first["access_list"] == json.dumps([{"address": "0x" + "ab" * 20, "storageKeys": [h("key")]}],
                                              separators=(",", ":"))
    assert json.loads(first["authorization_list"]) == [{"chainId": "43114", "address": "0x" + "cd" * 20,
                                                        "nonce": "7", "yParity": "0", "r": "0x1", "s": "0x2"}]
    assert (first["y_parity"], first["r"], first["transaction_type"]) == (1, "255", 4)
