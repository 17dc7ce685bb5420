"""Internal transactions from real call traces on the devchain node (both trace formats)."""

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.chain.datasets import INTERNAL_TRANSACTIONS
from avax_assets.chain.extractors import Scope
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.chain.traces import extract_internal_transactions
from avax_assets.core.days import day_block_range
from avax_assets.core.errors import TracingUnavailable
from avax_assets.chain.settings import RpcSettings
from avax_assets.chain.resources import ChainRpcResource
from avax_assets_tests.support import FaultyNodeProxy, rpc

DAY = "2024-06-01"


def frames(url: str, method: str) -> list[dict]:
    with JsonRpcClient(RpcSettings(url=url)) as client:
        reader = ChainReader(client, trace_method=method)
        blocks = day_block_range(reader, dt.date.fromisoformat(DAY))
        batch = extract_internal_transactions(reader, range(blocks.first, blocks.last + 1),
                                              Scope(INTERNAL_TRANSACTIONS, DAY)).batches[INTERNAL_TRANSACTIONS.name]
    return pa.Table.from_batches([batch]).to_pylist()


@pytest.fixture(scope="module")
def debug_frames(stack, devchain):
    return frames(stack.anvil.url, "debug")


def test_debug_and_parity_traces_give_the_same_frames(stack, debug_frames):
    def comparable(row):
        kind = "CREATE" if row["call_type"] == "CREATE2" else row["call_type"]  # parity cannot tell CREATE2
        return (row["transaction_hash"], row["trace_address"], kind, row["from_address"], row["to_address"],
                row["value"], row["reverted"], row["input_size"])

    parity = frames(stack.anvil.url, "parity")
    assert sorted(map(comparable, debug_frames)) == sorted(map(comparable, parity))
    assert {r["call_type"] for r in debug_frames} >= {"CALL", "CREATE", "CREATE2"}


def test_a_revert_fails_every_frame_below_it(debug_frames, stack):
    by_tx: dict[str, list[dict]] = {}
    for row in debug_frames:
        by_tx.setdefault(row["transaction_hash"], []).append(row)
    nested_reverts = [rows for rows in by_tx.values() if rows[0]["reverted"] and len(rows) > 1]
    assert nested_reverts, "the devchain day should hold a reverted transaction with inner calls"
    for rows in nested_reverts:
        assert all(r["reverted"] == 1 for r in rows)
        assert rows[0]["error"] is not None and all(r["error"] is None for r in rows[1:])
        status = rpc(stack.anvil.url, "eth_getTransactionReceipt", [rows[0]["transaction_hash"]])["status"]
        assert status == "0x0"


def test_top_frame_gas_is_the_receipts(debug_frames, stack):
    for row in [r for r in debug_frames if r["depth"] == 0][:20]:
        receipt = rpc(stack.anvil.url, "eth_getTransactionReceipt", [row["transaction_hash"]])
        assert row["gas_used"] == int(receipt["gasUsed"], 16)


def test_every_transaction_has_its_top_frame(debug_frames, stack, devchain):
    first, last = devchain.blocks_by_day[DAY]
    tx_count = sum(len(rpc(stack.anvil.url, "eth_getBlockByNumber", [hex(n), False])["transactions"])
                   for n in range(first, last + 1))
    assert sum(1 for r in debug_frames if r["trace_address"] == "") == tx_count


def test_a_node_without_tracing_fails_the_asset_with_what_to_configure(stack, resources):
    proxy = FaultyNodeProxy(stack.anvil.url)
    proxy.mode = "no-tracing"
    try:
        faulty = {**resources, "rpc": ChainRpcResource(url=proxy.url)}
        result = dg.materialize(Catalogue().scope("chain"), selection=["internal_transactions"], partition_key=DAY,
                                resources=faulty, raise_on_error=False)
    finally:
        proxy.close()
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    text = failure.step_failure_data.error.to_string()
    assert TracingUnavailable.__name__ in text
    assert "debug_traceBlockByNumber" in text and "trace_block" in text and "AVAX_TRACE_RPC_URL" in text


POSITION = {"block_number": 7, "block_timestamp": 1717200000, "block_hash": "0x" + "ab" * 32,
            "transaction_hash": "0x" + "cd" * 32, "transaction_index": 0}
OLD_GETH_TREE = {  # old geth's JS callTracer: a bare SELFDESTRUCT frame with neither from nor to
    "type": "CALL", "from": "0x" + "11" * 20, "to": "0x" + "22" * 20, "value": "0x0", "gas": "0x5208",
    "gasUsed": "0x5208", "input": "0x", "calls": [{"type": "SELFDESTRUCT"}],
}


def test_a_frame_without_addresses_is_kept_with_null_addresses():
    from avax_assets.chain.extract import frames_without_addresses
    from avax_assets.chain.extractors import to_batch
    from avax_assets.chain.traces import flatten_call_tracer

    rows = flatten_call_tracer(POSITION, OLD_GETH_TREE)
    assert [(r["trace_address"], r["call_type"], r["from_address"], r["to_address"]) for r in rows] == [
        ("", "CALL", "0x" + "11" * 20, "0x" + "22" * 20), ("0", "SELFDESTRUCT", None, None)]
    assert frames_without_addresses(to_batch(Scope(INTERNAL_TRANSACTIONS, DAY), rows)) == 1


def test_a_bad_frame_names_its_transaction_and_trace_address():
    from avax_assets.chain.traces import flatten_call_tracer

    broken = {**OLD_GETH_TREE, "calls": [{"type": "CALL", "from": "0x11", "calls": []},]}
    with pytest.raises(Exception, match=r"field 'from': is not a 20-byte address: '0x11' \(call frame \[0\]\)"):
        flatten_call_tracer(POSITION, broken)


class OneBrokenTrace:  # a reader whose one block's trace has a bad frame two levels down
    trace_method = "debug"
    trace_client = None

    def headers(self, blocks):
        return [{"number": hex(7), "timestamp": hex(1717200000), "hash": "0x" + "ab" * 32,
                 "parentHash": "0x" + "cd" * 32, "transactions": [POSITION["transaction_hash"]]}]

    def neighbours(self, blocks):
        return ({"hash": "0x" + "cd" * 32, "parentHash": "0x" + "ef" * 32, "timestamp": hex(1717199998)},
                {"hash": "0x" + "01" * 32, "parentHash": "0x" + "ab" * 32, "timestamp": hex(1717200002)})

    def receipt_structs(self, headers):
        return [{"transactionHash": POSITION["transaction_hash"], "gasUsed": "0x5208"}]


def test_the_error_of_a_block_names_dataset_partition_transaction_and_frame(monkeypatch):
    from avax_assets.chain import traces

    deep = {**OLD_GETH_TREE, "calls": [{**OLD_GETH_TREE, "calls": [{"type": "CALL", "value": "0xnope"}]}]}
    monkeypatch.setattr(traces, "fetch_traces", lambda reader, blocks, method: ("debug", [[{"result": deep}]]))
    with pytest.raises(Exception) as refused:
        traces.extract_internal_transactions(OneBrokenTrace(), range(7, 8), Scope(INTERNAL_TRANSACTIONS, DAY))
    message = str(refused.value)
    assert f"dataset 'internal_transactions' partition {DAY}: field 'value'" in message
    assert "(call frame [0.0])" in message and f"at block 7 tx {POSITION['transaction_hash']}" in message


MIXED_TREE = {  # upper-case hex, a big value, a revert with children, a creation, empty and short inputs
    "type": "call", "from": "0x" + "AB" * 20, "to": "0x" + "22" * 20, "value": "0x" + "f" * 64,
    "gas": "0xFFFFFFFFFFFFFFFF", "gasUsed": "0x5208", "input": "0xA9059CBB" + "00" * 64, "output": "0x01",
    "calls": [{"type": "DELEGATECALL", "from": "0x" + "22" * 20, "to": "0x" + "33" * 20, "gas": "0x10",
               "input": "0x1234", "error": "execution reverted",
               "calls": [{"type": "STATICCALL", "from": "0x" + "33" * 20, "to": "0x" + "44" * 20, "value": "",
                          "input": None, "output": "0x"}]},
              {"type": "CREATE2", "from": "0x" + "22" * 20, "to": "0x" + "55" * 20, "value": "0x10",
               "input": "0x6080", "output": "0x" + "60" * 33}, {"type": "SELFDESTRUCT"}],
}


def walked(*trees: dict) -> list[tuple]:
    """Plain call trees walked the reference way, in the shape the column conversion reads."""
    from avax_assets.chain.traces import _decoded, call_tracer_frames

    return [_decoded(raw) for tree in trees for raw in call_tracer_frames(tree)]


def test_the_frames_converted_by_column_are_those_converted_value_by_value():
    from avax_assets.chain.traces import _rows, frame_columns, frames_batch
    from avax_assets.chain.extractors import to_batch

    scope = Scope(INTERNAL_TRANSACTIONS, DAY)
    positions = [tuple(POSITION.values())] * 5 + [(8, 1717200002, "0x" + "ef" * 32, "0x" + "01" * 32, 3)] * 2
    columns = frame_columns(walked(MIXED_TREE, OLD_GETH_TREE), [], {}, positions)
    by_column = frames_batch(scope, positions, columns)
    assert by_column is not None
    by_value = to_batch(scope, _rows(scope, positions, columns))
    assert by_column.equals(by_value), (by_column.to_pylist(), by_value.to_pylist())
    rows = by_column.to_pylist()
    assert [(r["trace_address"], r["call_type"], r["reverted"], r["input_selector"], r["input_size"],
             r["output_size"]) for r in rows[:5]] == [
        ("", "CALL", 0, "0xa9059cbb", 68, 1), ("0", "DELEGATECALL", 1, None, 2, 0),
        ("0.0", "STATICCALL", 1, None, 0, 0), ("1", "CREATE2", 0, None, 2, 33), ("2", "SELFDESTRUCT", 0, None, 0, 0)]
    assert rows[0]["from_address"] == "0x" + "ab" * 20 and rows[0]["value"] == str(2**256 - 1)


def traced_block(answer: list, monkeypatch) -> tuple[pa.RecordBatch, dict]:
    """Block 7 of OneBrokenTrace extracted from `answer` (its debug_traceBlockByNumber result): the batch and
    the keys counted as unknown."""
    from avax_assets.chain import traces

    monkeypatch.setattr(traces, "fetch_traces", lambda reader, blocks, method: ("debug", [answer]))
    scope = Scope(INTERNAL_TRANSACTIONS, DAY)
    proven = traces.extract_internal_transactions(OneBrokenTrace(), range(7, 8), scope)
    return proven.batches[INTERNAL_TRANSACTIONS.name], scope.unknown


def test_a_decoded_answer_gives_the_rows_of_a_plain_one_and_a_plain_one_counts_what_no_declaration_knows(
        monkeypatch):
    import msgspec

    from avax_assets.chain.traces import TxTrace

    tree = {**MIXED_TREE, "revertReason": "known, no column"}
    answer = [{"txHash": POSITION["transaction_hash"], "result": tree}]
    decoded = msgspec.json.decode(msgspec.json.encode(answer), type=list[TxTrace])
    by_struct, none = traced_block(decoded, monkeypatch)
    plain, _ = traced_block(answer, monkeypatch)
    assert none == {} and by_struct.equals(plain) and by_struct.num_rows == 5
    assert by_struct.column("gas_used")[0].as_py() == 0x5208  # the receipt's, on either way

    unknown = {**tree, "calls": [{**frame, "precompile": True} for frame in tree["calls"]]}
    with_unknown, counted = traced_block([{"txHash": POSITION["transaction_hash"], "result": unknown,
                                           "tracerVersion": 2}], monkeypatch)
    assert with_unknown.equals(plain)
    assert counted == {"trace.tracerVersion": 1, "call_frame.precompile": 3}
    with pytest.raises(msgspec.ValidationError):  # such an answer does not fit the shape: it comes back plain
        msgspec.json.decode(msgspec.json.encode([{"result": unknown}]), type=list[TxTrace])


def test_a_decoded_trace_is_of_the_transaction_it_names(monkeypatch):
    import msgspec

    from avax_assets.chain.traces import TxTrace

    other = "0x" + "99" * 32
    decoded = msgspec.json.decode(msgspec.json.encode([{"txHash": other, "result": OLD_GETH_TREE}]),
                                  type=list[TxTrace])
    with pytest.raises(Exception, match=f"txHash is {other}"):
        traced_block(decoded, monkeypatch)


@pytest.mark.parametrize("frame", [{"type": None}, {"type": "CALL", "to": "0x12"}, {"type": "CALL", "value": "0x"},
                                   {"type": "CALL", "gas": "0x1" + "0" * 16}, {"type": "CALL", "input": "0x123"},
                                   {"type": "CALL", "error": 7}])
def test_a_frame_breaking_a_rule_is_left_to_the_value_by_value_conversion(frame):
    from avax_assets.chain.traces import frame_columns, frames_batch

    positions = [tuple(POSITION.values())] * 2
    columns = frame_columns(walked({**OLD_GETH_TREE, "calls": [frame]}), [], {}, positions)
    assert frames_batch(Scope(INTERNAL_TRANSACTIONS, DAY), positions, columns) is None


def deepest_tree(unknown_key: str = "") -> bytes:
    """A call tree as deep as the EVM allows, one call per frame, as the node's text (encoding a tree this deep
    recurses as deep as decoding it); `unknown_key` (`"key":value`) in its deepest frame."""
    from avax_assets.chain.traces import CALL_DEPTH_LIMIT

    frame = '{"type":"CALL","from":"0x%s","to":"0x%s","gas":"0x10","gasUsed":"0x1","input":"0x"' % ("11" * 20,
                                                                                                 "22" * 20)
    tree = frame + (f",{unknown_key}" if unknown_key else "") + "}"
    for _ in range(CALL_DEPTH_LIMIT):
        tree = f'{frame},"calls":[{tree}]}}'
    return tree.encode()


@pytest.mark.parametrize("unknown_key", ["", '"precompile":true'])
def test_a_call_tree_as_deep_as_the_evm_allows_is_decoded_and_flattened(unknown_key, monkeypatch):
    import json
    import sys

    import httpx

    from avax_assets.chain.traces import CALL_DEPTH_LIMIT, fetch_traces

    tree = deepest_tree(unknown_key)

    def node(request: httpx.Request) -> httpx.Response:
        replies = [b'{"jsonrpc":"2.0","id":%d,"result":[{"txHash":"%s","result":%s}]}'
                   % (call["id"], POSITION["transaction_hash"].encode(), tree) for call in json.loads(request.content)]
        return httpx.Response(200, content=b"[" + b",".join(replies) + b"]")

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default, whatever ran before in this process
    try:  # three blocks, one a request, decoded in the client's threads
        with JsonRpcClient(RpcSettings(url="http://node.test", concurrency=2),
                           transport=httpx.MockTransport(node)) as client:
            style, traced = fetch_traces(ChainReader(client), range(7, 10), "debug")
        batch, unknown = traced_block(traced[0], monkeypatch)
    finally:
        sys.setrecursionlimit(max(limit, sys.getrecursionlimit()))
    assert style == "debug" and len(traced) == 3
    assert batch.column("depth").to_pylist() == list(range(CALL_DEPTH_LIMIT + 1))
    assert batch.column("trace_address")[-1].as_py() == ".".join(["0"] * CALL_DEPTH_LIMIT)
    assert unknown == ({"call_frame.precompile": 1} if unknown_key else {})


class TracingReader(OneBrokenTrace):  # its trace node's settings name what to change
    def __init__(self, settings: RpcSettings) -> None:
        self.trace_client = type("Client", (), {"settings": settings})()


@pytest.mark.parametrize("decoded", [False, True])
def test_a_transaction_the_node_stopped_tracing_is_traced_again_and_then_named_with_its_setting(decoded, monkeypatch):
    import msgspec

    from avax_assets.chain import traces
    from avax_assets.chain.extract import Refetch
    from avax_assets.core.errors import SourceDataError, SourceUnavailable

    def answer(**trace) -> list:
        plain = [{"txHash": POSITION["transaction_hash"], **trace}]
        return msgspec.json.decode(msgspec.json.encode(plain), type=list[traces.TxTrace]) if decoded else plain

    def extracted(answers: list, refetch: Refetch) -> pa.RecordBatch:
        monkeypatch.setattr(traces, "fetch_traces", lambda reader, blocks, method: ("debug", [answers.pop(0)]))
        reader = TracingReader(RpcSettings(url="http://node.test", trace_timeout_s=20))
        scope = Scope(INTERNAL_TRANSACTIONS, DAY)
        proven = refetch.proven(lambda chunk: traces.extract_internal_transactions(reader, chunk, scope), range(7, 8))
        return proven.batches[INTERNAL_TRANSACTIONS.name]

    timed_out, traced = answer(error="execution timeout"), answer(result=OLD_GETH_TREE)
    once = Refetch("internal_transactions", DAY, sleep=lambda s: None)
    assert extracted([timed_out, traced], once).num_rows == 2 and once.count == 1

    always = Refetch("internal_transactions", DAY, sleep=lambda s: None)
    with pytest.raises(SourceUnavailable) as lasting:
        extracted([timed_out] * 3, always)
    assert always.count == 2
    assert str(lasting.value).startswith(f"dataset 'internal_transactions' partition {DAY}: block 7: the node stopped "
                                         "tracing a transaction at its time limit ('execution timeout'): raise it "
                                         "with AVAX_RPC_TRACE_TIMEOUT_S (now 20 s)")
    assert "in each of 3 fetches" in str(lasting.value)

    other = Refetch("internal_transactions", DAY, sleep=lambda s: None)
    with pytest.raises(SourceDataError, match="tracing .* failed: insufficient funds"):  # not a passing cause
        extracted([answer(error="insufficient funds")], other)
    assert other.count == 0


@pytest.mark.parametrize("timeout_s, tracer", [(None, {"tracer": "callTracer"}),
                                               (90.0, {"tracer": "callTracer", "timeout": "90s"})])
def test_the_trace_timeout_setting_is_the_tracers_timeout(timeout_s, tracer):
    import json

    import httpx

    from avax_assets.chain.traces import fetch_traces

    asked = []

    def node(request: httpx.Request) -> httpx.Response:
        calls = json.loads(request.content)
        asked.extend(call["params"] for call in calls)
        return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": call["id"], "result": []} for call in calls])

    settings = RpcSettings(url="http://node.test", trace_timeout_s=timeout_s)
    with JsonRpcClient(settings, transport=httpx.MockTransport(node)) as client:
        fetch_traces(ChainReader(client), range(7, 9), "debug")
    assert asked == [["0x7", tracer], ["0x8", tracer]]


def test_parity_traces_as_deep_as_the_evm_allows_push_a_revert_down_the_tree():
    from avax_assets.chain.traces import CALL_DEPTH_LIMIT, parity_frames

    def trace(path: list[int], **more) -> dict:
        return {"type": "call", "traceAddress": path, "action": {"callType": "call", "from": "0x" + "11" * 20,
                                                                  "to": "0x" + "22" * 20}, **more}

    chain = [trace([0] * depth, **({"error": "Reverted"} if depth == 2 else {}))
             for depth in range(CALL_DEPTH_LIMIT + 1)]
    beside = trace([1])  # a sibling of the failed frame's parent, after the failed subtree
    frames = parity_frames(chain + [beside])
    assert [frame.reverted for frame in frames] == [False, False] + [True] * (CALL_DEPTH_LIMIT - 1) + [False]
    assert len(frames[CALL_DEPTH_LIMIT].path) == CALL_DEPTH_LIMIT


def test_the_genesis_block_is_not_asked_for_traces():
    import json

    import httpx

    from avax_assets.chain.traces import fetch_traces

    asked = []

    def node(request: httpx.Request) -> httpx.Response:  # as geth and coreth answer for block 0
        calls = json.loads(request.content)
        asked.extend(int(call["params"][0], 16) for call in calls)
        return httpx.Response(200, json=[{"jsonrpc": "2.0", "id": call["id"], **(
            {"error": {"code": -32000, "message": "genesis is not traceable"}} if call["params"][0] == "0x0"
            else {"result": []})} for call in calls])

    with JsonRpcClient(RpcSettings(url="http://node.test"), transport=httpx.MockTransport(node)) as client:
        assert fetch_traces(ChainReader(client), range(0, 3), "debug") == ("debug", [[], [], []])
    assert sorted(asked) == [1, 2]
