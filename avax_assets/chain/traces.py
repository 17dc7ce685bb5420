"""Internal transactions from call traces: geth-style `debug_traceBlockByNumber` with the callTracer,
or parity-style `trace_block`, flattened to one row per call frame.

Children of a reverted frame carry no error of their own; `reverted` is pushed down from the failing
ancestor. The top frame's gas used comes from the receipt (some nodes' callTracer misreport it).

A block's callTracer answer is decoded into `TxTrace`/`CallFrame` (only the keys declared; no dict per frame)
and flattened a column at a time. A block whose answer holds a key no declaration knows, or a value of
another shape, comes back plain: its keys are counted (`trace.key`, `call_frame.key`) and its frames go the
reference way (`call_tracer_frames`, `_frame_row`), which names a bad value.
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.chain import fields as f
from avax_assets.chain.extractors import Scope, checked_blocks, to_batch
from avax_assets.chain.proof import (Proven, prove_blocks, prove_receipts, prove_traces, transactions_frame,
                                     view_of_headers)
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rows import Receipt, unknown_keys
from avax_assets.chain.rpc import METHOD_NOT_FOUND, Call
from avax_assets.core.errors import BadField, RpcError, TraceTimedOut, TracingUnavailable
from avax_assets.chain.settings import TraceMethod

DISABLED_HINTS = ("does not exist", "not available", "not supported", "disabled", "method not found")
# a transaction's trace error when the node stopped at its time limit (geth, coreth: "execution timeout")
TIMED_OUT = re.compile(r"execution timeout|timed? ?out|deadline exceeded", re.IGNORECASE)
GENESIS = 0  # holds no transactions, and nodes refuse to trace it ("genesis is not traceable")
CALL_DEPTH_LIMIT = 1024  # the EVM's: below a transaction's top frame, calls nest at most this deep
# Decoding JSON recurses twice per frame (the frame, its `calls`), counted against Python's recursion limit
# (1,000 by default): without room for it, a tree over ~490 frames deep failed the partition
DECODING_ROOM = 1000 + 2 * (CALL_DEPTH_LIMIT + 1) + 100


class CallFrame(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A callTracer frame, each key it may carry. An absent key reads as null, as in the plain frames."""

    type: Any = None
    from_: Any = msgspec.field(default=None, name="from")
    to: Any = None
    value: Any = None
    gas: Any = None
    gasUsed: Any = None
    input: Any = None
    output: Any = None
    error: Any = None
    calls: list[CallFrame] | None = None
    revertReason: Any = None  # known, and no column: the revert's decoded reason (`error` holds the error)


class TxTrace(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One transaction's entry in a debug_traceBlockByNumber answer."""

    txHash: Any = None
    result: CallFrame | None = None
    error: Any = None


CALL_FRAME_KEYS = frozenset(CallFrame.__struct_encode_fields__)
TX_TRACE_KEYS = frozenset(TxTrace.__struct_encode_fields__)


def _is_unsupported(error: RpcError) -> bool:
    return error.code == METHOD_NOT_FOUND or any(h in str(error).lower() for h in DISABLED_HINTS)


def fetch_traces(reader: ChainReader, blocks: range, method: TraceMethod) -> tuple[str, list]:
    """(style, per-block trace results); refuses clearly when the node does not trace."""
    if sys.getrecursionlimit() < DECODING_ROOM:
        sys.setrecursionlimit(DECODING_ROOM)  # only raised: it is the process's
    client = reader.trace_client
    timeout_s = client.settings.trace_timeout_s
    tracer = {"tracer": "callTracer", **({"timeout": f"{timeout_s:g}s"} if timeout_s else {})}
    tried = []
    method = TraceMethod(method)
    for style in (("debug", "parity") if method is TraceMethod.auto else (method.value,)):
        call = ("debug_traceBlockByNumber", lambda n: [hex(n), tracer]) if style == "debug" \
            else ("trace_block", lambda n: [hex(n)])
        try:
            traced = client.batch([Call(call[0], call[1](n)) for n in blocks if n != GENESIS],
                                  batch_size=client.settings.trace_batch_size,
                                  shape=list[TxTrace] if style == "debug" else None)
            return style, ([[]] if GENESIS in blocks else []) + traced
        except RpcError as exc:
            if not _is_unsupported(exc):
                raise
            tried.append(f"{call[0]}: {exc}")
    raise TracingUnavailable(
        f"internal_transactions needs call traces, but the node at {client.endpoint} does not serve them "
        f"({'; '.join(tried)}). Tracing is disabled on public endpoints: point AVAX_TRACE_RPC_URL at a node with "
        "the debug (or trace) API enabled, and AVAX_RPC_TRACE_METHOD=debug|parity|auto to choose the call.")


class RawFrame(NamedTuple):
    """A call frame as the node sent it: its path in the call tree, whether it or an ancestor reverted, the
    node's values, and the field its gas used came from."""
    path: tuple[int, ...]
    reverted: bool
    call_type: Any
    frame_from: Any
    to: Any
    value: Any
    gas: Any
    gas_used: Any
    input_data: Any
    output: Any
    error: Any
    gas_used_field: str = "gasUsed"


def _frame_row(position: dict, path: tuple[int, ...], reverted: bool, call_type, frame_from, to, value, gas,
               gas_used, input_data, output, error, gas_used_field: str = "gasUsed") -> dict:
    """One call frame's row, value by value; a bad value names the frame (its trace address) beside the field."""
    try:  # not a context manager: this runs once per frame when a chunk's columns break a rule
        if not isinstance(call_type, str):
            raise BadField("type", "is missing" if call_type is None else f"is not text: {str(call_type)[:80]!r}")
        input_hex = f.data(input_data or "0x", "input")
        return {
            **position,
            "trace_address": ".".join(map(str, path)),
            "depth": len(path),
            "call_type": call_type.upper(),
            "from_address": None if frame_from is None else f.address(frame_from, "from"),
            "to_address": None if to is None else f.address(to, "to"),
            "value": f.uint256(value or "0x0", "value"),
            "gas": f.quantity(gas or "0x0", "gas"),
            "gas_used": f.quantity(gas_used or "0x0", gas_used_field),
            "input_selector": input_hex[:10] if len(input_hex) >= 10 else None,
            "input_size": (len(input_hex) - 2) // 2,
            "output_size": (len(f.data(output or "0x", "output")) - 2) // 2,
            "error": error,
            "reverted": int(reverted),
        }
    except BadField as bad:
        raise BadField(bad.field, f"{bad.detail} (call frame [{_path(path)}])") from None


def call_tracer_frames(top: dict) -> list[RawFrame]:
    """A transaction's call tree, depth first (a loop: a tree may be CALL_DEPTH_LIMIT frames deep). A frame
    without addresses (old geth's JS callTracer emits bare {"type": "SELFDESTRUCT"} frames) is kept with null
    addresses."""
    frames, pending = [], [((), False, top)]
    while pending:
        path, failed, frame = pending.pop()
        if not isinstance(frame, dict):
            raise BadField("calls", f"a call frame is not an object: {str(frame)[:80]!r} (call frame [{_path(path)}])")
        failed = failed or frame.get("error") is not None
        frames.append(RawFrame(path, failed, frame.get("type"), frame.get("from"), frame.get("to"),
                               frame.get("value"), frame.get("gas"), frame.get("gasUsed"), frame.get("input"),
                               frame.get("output"), frame.get("error")))
        calls = frame.get("calls") or []
        pending += [((*path, index), failed, child) for index, child in reversed(list(enumerate(calls)))]
    return frames


def flatten_call_tracer(position: dict, frame: dict) -> list[dict]:
    """A transaction's call tree as rows, value by value; a bad value names its frame."""
    return [_frame_row(position, *raw) for raw in call_tracer_frames(frame)]


def _path(path: tuple[int, ...]) -> str:
    return ".".join(map(str, path)) or "top"


_PARITY_TYPES = {"create": "CREATE", "suicide": "SELFDESTRUCT", "selfdestruct": "SELFDESTRUCT"}


def parity_frames(traces: list[dict]) -> list[RawFrame]:
    """Parity traces of one transaction, depth first; an error on a frame fails its whole subtree."""
    failed_at: dict[tuple[int, ...], bool] = {}  # each path seen: whether it or an ancestor failed
    frames = []
    for trace in traces:
        kind, action, result = f.required(trace, "type"), f.required(trace, "action"), trace.get("result") or {}
        if kind == "reward":
            continue
        path = tuple(f.required(trace, "traceAddress"))
        # the nearest ancestor seen (the parent: parents come first), not every prefix: a tree may be 1,024 deep
        ancestor = next((failed_at[path[:i]] for i in range(len(path) - 1, -1, -1) if path[:i] in failed_at), False)
        failed = failed_at[path] = trace.get("error") is not None or ancestor
        call_type = action.get("callType") or _PARITY_TYPES.get(kind, kind)
        to = action.get("to") or result.get("address") or action.get("refundAddress")
        frames.append(RawFrame(path, failed, call_type, action.get("from") or action.get("address"), to,
                               action.get("value") or action.get("balance"), action.get("gas"),
                               result.get("gasUsed"), action.get("input") or action.get("init"),
                               result.get("output") or result.get("code"), trace.get("error")))
    return frames


def extract_internal_transactions(reader: ChainReader, blocks: range, scope: Scope) -> Proven:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="traces") as side:
        tracing = side.submit(fetch_traces, reader, blocks, reader.trace_method)  # the node's slowest call first
        headers = checked_blocks(reader.headers(blocks), blocks, scope)
        view = view_of_headers(scope, blocks, headers, reader.neighbours(blocks))
        prove_blocks(view)
        receipts = reader.receipt_structs(headers)
        prove_receipts(scope, view, transactions_frame(view, headers), receipts)
        style, traced = tracing.result()
    if style == "debug":
        _none_timed_out(scope, blocks, traced, reader)
    tx_hashes = [[h.lower() for h in header["transactions"]] for header in headers]
    prove_traces(scope, view, style, traced, tx_hashes)
    positions, frames, tops = [], [], []  # of every frame, in order; the index of each transaction's first
    for header, block_traces, block_tx_hashes in zip(headers, traced, tx_hashes, strict=True):
        number = int(header["number"], 16)
        timestamp, block_hash, where = int(header["timestamp"], 16), header["hash"].lower(), f"block {number}"
        try:
            per_tx = _per_transaction(style, block_traces, block_tx_hashes, scope)
            for index, tx_hash in enumerate(block_tx_hashes):
                where = f"block {number} tx {tx_hash}"
                first = len(frames)
                trace = per_tx[tx_hash]
                if isinstance(trace, CallFrame):
                    _walk(trace, frames)
                else:
                    frames += [_decoded(raw) for raw in (call_tracer_frames(trace) if style == "debug"
                                                         else parity_frames(trace))]
                if len(frames) > first:
                    tops.append(first)
                position = (number, timestamp, block_hash, tx_hash, index)
                positions += [position] * (len(frames) - first)
        except BadField as bad:
            raise scope.error(bad, where) from None
    columns = frame_columns(frames, tops, _gas_used_by_hash(scope, receipts), positions)
    batch = frames_batch(scope, positions, columns)
    if batch is None:  # a value breaks a rule: frame by frame, the error names it
        batch = to_batch(scope, _rows(scope, positions, columns))
    return Proven({scope.dataset.name: batch}, view)


def _none_timed_out(scope: Scope, blocks: range, traced: list, reader: ChainReader) -> None:
    """A transaction the node stopped tracing at its time limit fails the chunk for another fetch (TraceTimedOut,
    a passing cause), not the partition for good as another tracing error does."""
    for number, block_traces in zip(blocks, traced, strict=True):
        for item in block_traces if isinstance(block_traces, list) else ():
            error = item.error if isinstance(item, TxTrace) else item.get("error") if isinstance(item, dict) else None
            if error is not None and TIMED_OUT.search(str(error)):
                settings = reader.trace_client.settings
                limit = f"{settings.trace_timeout_s:g} s" if settings.trace_timeout_s else "the node's own"
                raise TraceTimedOut(scope.dataset.name, scope.partition, number, (
                    f"the node stopped tracing a transaction at its time limit ({str(error)[:80]!r}): raise it with "
                    f"{settings.variable('trace_timeout_s')} (now {limit}), or lower the node's load with "
                    f"{settings.variable('trace_batch_size')} and {settings.variable('concurrency')}"))


def _walk(top: CallFrame, frames: list[tuple]) -> None:
    """A decoded call tree as (path, reverted, frame), depth first (as `call_tracer_frames` walks a plain one);
    a loop, not recursion: a tree may be CALL_DEPTH_LIMIT frames deep."""
    pending = [((), False, top)]
    while pending:
        path, failed, frame = pending.pop()
        failed = failed or frame.error is not None
        frames.append((path, failed, frame))
        if frame.calls:
            pending += [((*path, index), failed, child) for index, child in reversed(list(enumerate(frame.calls)))]


def _decoded(raw: RawFrame) -> tuple:
    """A frame walked the reference way, in the shape of a decoded one."""
    return raw.path, raw.reverted, CallFrame(raw.call_type, raw.frame_from, raw.to, raw.value, raw.gas, raw.gas_used,
                                             raw.input_data, raw.output, raw.error)


def _gas_used_by_hash(scope: Scope, receipts: list) -> dict[str, Any]:
    """Each transaction's gas used as its receipt states it (the receipts are the transactions': prove_receipts)."""
    gas_used = {}
    for receipt in receipts:
        stated = (receipt.transactionHash, receipt.gasUsed) if isinstance(receipt, Receipt) else \
            (receipt.get("transactionHash"), receipt.get("gasUsed", msgspec.UNSET))
        if stated[1] is msgspec.UNSET:
            raise scope.error(BadField("gasUsed", "is missing"), f"the receipt of {stated[0]}")
        gas_used[str(stated[0]).lower()] = stated[1]
    return gas_used


def frame_columns(frames: list[tuple], tops: list[int], gas_used: dict[str, Any],
                  positions: list[tuple]) -> dict[str, list]:
    """(path, reverted, frame) in order as a list per RawFrame field; each transaction's first frame (at
    `tops`) takes its gas used from the receipt."""
    decoded = [frame for _, _, frame in frames]
    columns = {"path": [path for path, _, _ in frames], "reverted": [failed for _, failed, _ in frames],
               "call_type": [d.type for d in decoded], "frame_from": [d.from_ for d in decoded],
               "to": [d.to for d in decoded], "value": [d.value for d in decoded], "gas": [d.gas for d in decoded],
               "gas_used": [d.gasUsed for d in decoded], "input_data": [d.input for d in decoded],
               "output": [d.output for d in decoded], "error": [d.error for d in decoded],
               "gas_used_field": ["gasUsed"] * len(frames)}
    for top in tops:
        columns["gas_used"][top] = gas_used[positions[top][3]]
        columns["gas_used_field"][top] = "receipt.gasUsed"
    return columns


POSITION = ("block_number", "block_timestamp", "block_hash", "transaction_hash", "transaction_index")


def _rows(scope: Scope, positions: list[tuple], columns: dict[str, list]) -> list[dict]:
    rows = []
    for position, values in zip(positions, zip(*columns.values(), strict=True), strict=True):
        try:
            rows.append(_frame_row(dict(zip(POSITION, position, strict=True)), *values))
        except BadField as bad:
            raise scope.error(bad, f"block {position[0]} tx {position[3]}") from None
    return rows


def frames_batch(scope: Scope, positions: list[tuple], columns: dict[str, list]) -> pa.RecordBatch | None:
    """The frames' batch (`frame_columns`), column by column with the same rules as `_frame_row` (polars'
    kernels instead of value by value: the bulk of a day's traces); None when any value breaks a rule."""
    if not positions:
        return to_batch(scope, [])
    call_types = f.text_column(columns["call_type"])
    converted = {
        "from_address": f.hex_column(columns["frame_from"], 20, nullable=True),
        "to_address": f.hex_column(columns["to"], 20, nullable=True),
        "value": f.uint256_column([v or "0x0" for v in columns["value"]]),
        "gas": f.quantity_column([g or "0x0" for g in columns["gas"]]),
        "gas_used": f.quantity_column([g or "0x0" for g in columns["gas_used"]]),
        "input": f.hex_column([i or "0x" for i in columns["input_data"]]),
        "output": f.hex_column([o or "0x" for o in columns["output"]]),
        "error": f.text_column(columns["error"], nullable=True),
    }
    if call_types is None or any(column is None for column in converted.values()):
        return None
    input_hex, output_hex = converted.pop("input"), converted.pop("output")
    input_length = pc.binary_length(input_hex)
    block_numbers, timestamps, block_hashes, tx_hashes, tx_indexes = zip(*positions, strict=True)
    paths = columns["path"]
    batch_columns = {
        "block_number": block_numbers, "block_timestamp": timestamps, "block_hash": block_hashes,
        "transaction_hash": tx_hashes, "transaction_index": tx_indexes,
        "trace_address": [".".join(map(str, path)) for path in paths], "depth": [len(path) for path in paths],
        "call_type": pc.utf8_upper(call_types), **converted,
        "input_selector": pc.if_else(pc.greater_equal(input_length, 10), pc.utf8_slice_codeunits(input_hex, 0, 10),
                                     None),
        "input_size": pc.divide(pc.subtract(input_length, 2), 2),
        "output_size": pc.divide(pc.subtract(pc.binary_length(output_hex), 2), 2),
        "reverted": [int(reverted) for reverted in columns["reverted"]],
    }
    schema = scope.dataset.source_schema
    try:
        return pa.RecordBatch.from_arrays([_array(batch_columns[field.name], field.type) for field in schema],
                                          schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None


def _array(values, arrow_type: pa.DataType) -> pa.Array:
    return (values if isinstance(values, pa.Array) else pa.array(values)).cast(arrow_type)


def _per_transaction(style: str, block_traces, tx_hashes: list[str], scope: Scope) -> dict:
    """Each transaction's call tree (decoded, or plain) or parity traces (which are the block's, one to one,
    is proven before: prove_traces); the keys of a plain answer that no declaration knows are counted."""
    if not isinstance(block_traces, list):
        raise BadField("traces", f"expected a list per block, got {type(block_traces).__name__}")
    if style == "parity":
        grouped: dict[str, list] = {h: [] for h in tx_hashes}
        for trace in block_traces:
            tx_hash = str(trace.get("transactionHash") or "").lower()
            if tx_hash in grouped:
                grouped[tx_hash].append(trace)
        return grouped
    per_tx = {}
    for tx_hash, item in zip(tx_hashes, block_traces, strict=True):
        if isinstance(item, TxTrace):
            error, result = item.error, item.result
        elif isinstance(item, dict):
            scope.saw_unknown("trace", unknown_keys([item], TX_TRACE_KEYS))
            _count_unknown_frame_keys(scope, item.get("result"))
            error, result = item.get("error"), item.get("result")
        else:
            raise BadField("traces", f"a trace is not an object: {str(item)[:80]!r}")
        if error is not None or result is None:
            raise BadField("result", f"tracing {tx_hash} failed: {error}")
        per_tx[tx_hash] = result
    return per_tx


def _count_unknown_frame_keys(scope: Scope, top: Any) -> None:
    """The keys no declaration knows in a plain call tree, counted per frame that carries them."""
    frames, pending = [], [top]
    while pending:
        frame = pending.pop()
        if isinstance(frame, dict):
            frames.append(frame)
            pending += frame.get("calls") if isinstance(frame.get("calls"), list) else []
    scope.saw_unknown("call_frame", unknown_keys(frames, CALL_FRAME_KEYS))
