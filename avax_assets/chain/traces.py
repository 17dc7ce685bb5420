"""Internal transactions from call traces: geth-style `debug_traceBlockByNumber` with the callTracer,
or parity-style `trace_block`, flattened to one row per call frame.

Children of a reverted frame carry no error of their own; `reverted` is pushed down from the failing
ancestor. The top frame's gas used comes from the receipt (some nodes' callTracer misreport it).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from avax_assets.chain import fields as f
from avax_assets.chain.extractors import Scope, checked_blocks, to_batch
from avax_assets.chain.proof import (Proven, prove_blocks, prove_receipts, prove_traces, transactions_frame,
                                     view_of_headers)
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import METHOD_NOT_FOUND, Call
from avax_assets.core.errors import BadField, RpcError, TracingUnavailable
from avax_assets.chain.settings import TraceMethod

DISABLED_HINTS = ("does not exist", "not available", "not supported", "disabled", "method not found")


def _is_unsupported(error: RpcError) -> bool:
    return error.code == METHOD_NOT_FOUND or any(h in str(error).lower() for h in DISABLED_HINTS)


def fetch_traces(reader: ChainReader, blocks: range, method: TraceMethod) -> tuple[str, list]:
    """(style, per-block trace results); refuses clearly when the node does not trace."""
    client = reader.trace_client
    tried = []
    method = TraceMethod(method)
    for style in (("debug", "parity") if method is TraceMethod.auto else (method.value,)):
        call = ("debug_traceBlockByNumber", lambda n: [hex(n), {"tracer": "callTracer"}]) if style == "debug" \
            else ("trace_block", lambda n: [hex(n)])
        try:
            return style, client.batch([Call(call[0], call[1](n)) for n in blocks],
                                       batch_size=client.settings.trace_batch_size)
        except RpcError as exc:
            if not _is_unsupported(exc):
                raise
            tried.append(f"{call[0]}: {exc}")
    raise TracingUnavailable(
        f"internal_transactions needs call traces, but the node at {client.endpoint} does not serve them "
        f"({'; '.join(tried)}). Tracing is disabled on public endpoints: point AVAX_TRACE_RPC_URL at a node with "
        "the debug (or trace) API enabled, and AVAX_RPC_TRACE_METHOD=debug|parity|auto to choose the call.")


def _frame_row(position: dict, path: tuple[int, ...], call_type: str, frame_from, to, value, gas, gas_used,
               input_data: str, output: str, error, reverted: bool) -> dict:
    """One call frame's row; a bad value names the frame (its trace address) beside the field."""
    try:  # not a context manager: this runs once per frame, millions of times a day
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
            "gas_used": f.quantity(gas_used or "0x0", "gasUsed"),
            "input_selector": input_hex[:10] if len(input_hex) >= 10 else None,
            "input_size": (len(input_hex) - 2) // 2,
            "output_size": (len(f.data(output or "0x", "output")) - 2) // 2,
            "error": error,
            "reverted": int(reverted),
        }
    except BadField as bad:
        raise BadField(bad.field, f"{bad.detail} (call frame [{_path(path)}])") from None


def flatten_call_tracer(position: dict, frame: dict, path: tuple[int, ...] = (), failed: bool = False) -> list[dict]:
    """A transaction's call tree, depth first. A frame without addresses (old geth's JS callTracer emits bare
    {"type": "SELFDESTRUCT"} frames) is kept with null addresses; a bad value names its frame."""
    if not isinstance(frame, dict):
        raise BadField("calls", f"a call frame is not an object: {str(frame)[:80]!r} (call frame [{_path(path)}])")
    failed = failed or frame.get("error") is not None
    rows = [_frame_row(position, path, frame.get("type"), frame.get("from"), frame.get("to"), frame.get("value"),
                       frame.get("gas"), frame.get("gasUsed"), frame.get("input"), frame.get("output"),
                       frame.get("error"), failed)]
    for index, child in enumerate(frame.get("calls") or []):
        rows += flatten_call_tracer(position, child, (*path, index), failed)
    return rows


def _path(path: tuple[int, ...]) -> str:
    return ".".join(map(str, path)) or "top"


_PARITY_TYPES = {"create": "CREATE", "suicide": "SELFDESTRUCT", "selfdestruct": "SELFDESTRUCT"}


def flatten_parity(position: dict, traces: list[dict]) -> list[dict]:
    """Parity traces of one transaction, depth first; an error on a frame fails its whole subtree."""
    failed_paths: set[tuple[int, ...]] = set()
    rows = []
    for trace in traces:
        kind, action, result = f.required(trace, "type"), f.required(trace, "action"), trace.get("result") or {}
        if kind == "reward":
            continue
        path = tuple(f.required(trace, "traceAddress"))
        if trace.get("error") is not None:
            failed_paths.add(path)
        failed = any(path[:i] in failed_paths for i in range(len(path) + 1))
        call_type = action.get("callType") or _PARITY_TYPES.get(kind, kind)
        to = action.get("to") or result.get("address") or action.get("refundAddress")
        rows.append(_frame_row(position, path, call_type, action.get("from") or action.get("address"), to,
                               action.get("value") or action.get("balance"), action.get("gas"),
                               result.get("gasUsed"), action.get("input") or action.get("init"),
                               result.get("output") or result.get("code"), trace.get("error"), failed))
    return rows


def extract_internal_transactions(reader: ChainReader, blocks: range, scope: Scope) -> Proven:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="traces") as side:
        tracing = side.submit(fetch_traces, reader, blocks, reader.trace_method)  # the node's slowest call first
        headers = checked_blocks(reader.headers(blocks), blocks, scope)
        view = view_of_headers(scope, blocks, headers, reader.neighbours(blocks))
        prove_blocks(view)
        receipts = reader.receipts(headers)
        prove_receipts(scope, view, transactions_frame(view, headers), receipts)
        gas_used = {r["transactionHash"].lower(): r["gasUsed"] for r in receipts}
        style, traced = tracing.result()
    tx_hashes = [[h.lower() for h in header["transactions"]] for header in headers]
    prove_traces(scope, view, style, traced, tx_hashes)
    rows = []
    for header, block_traces, block_tx_hashes in zip(headers, traced, tx_hashes, strict=True):
        number = int(header["number"], 16)
        where = f"block {number}"
        try:
            per_tx = _per_transaction(style, block_traces, block_tx_hashes)
            for index, tx_hash in enumerate(block_tx_hashes):
                position = {"block_number": number, "block_timestamp": int(header["timestamp"], 16),
                            "block_hash": header["hash"].lower(), "transaction_hash": tx_hash,
                            "transaction_index": index}
                where = f"block {number} tx {tx_hash}"
                frames = flatten_call_tracer(position, per_tx[tx_hash]) if style == "debug" \
                    else flatten_parity(position, per_tx[tx_hash])
                if frames:
                    frames[0]["gas_used"] = f.quantity(gas_used[tx_hash], "receipt.gasUsed")
                rows += frames
        except BadField as bad:
            raise scope.error(bad, where) from None
    return Proven({scope.dataset.name: to_batch(scope, rows)}, view)


def _per_transaction(style: str, block_traces, tx_hashes: list[str]) -> dict:
    """Each transaction's traces (which are the block's, one to one, is proven before: prove_traces)."""
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
        if not isinstance(item, dict):
            raise BadField("traces", f"a trace is not an object: {str(item)[:80]!r}")
        if item.get("error") is not None or item.get("result") is None:
            raise BadField("result", f"tracing {tx_hash} failed: {item.get('error')}")
        per_tx[tx_hash] = item["result"]
    return per_tx

