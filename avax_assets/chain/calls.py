"""Contract reads at a block: batched `eth_call`s of no-argument view functions, each call's outcome kept.

A revert or an empty return is an answer about the contract (no such method, a method that refuses),
so it becomes an outcome with its reason; any other JSON-RPC error, and answers that are not hex, fail
the read as the client's errors do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from eth_hash.auto import keccak

from avax_assets.chain.rpc import Call, CallError, JsonRpcClient
from avax_assets.core.errors import MalformedResponse, RpcError, SourceRefused, short

EXECUTION_REVERTED = 3  # the error code geth, coreth and anvil give a reverting eth_call
# what a node without the block's state says (a pruning, non-archive node asked about an old block)
NO_STATE = ("missing trie node", "header not found", "state not available", "historical state", "pruned")
ERROR_STRING = "08c379a0"  # selector of Error(string), Solidity's revert reason


@dataclass(frozen=True)
class ContractCall:
    address: str
    signature: str  # a no-argument function: "symbol()"

    @property
    def data(self) -> str:
        return "0x" + keccak(self.signature.encode())[:4].hex()


@dataclass(frozen=True)
class Outcome:
    """What a call returned (None when it returned nothing usable) and, then, why."""

    returned: bytes | None
    reason: str | None = None


def read_contracts(client: JsonRpcClient, calls: Sequence[ContractCall], block: int) -> list[Outcome]:
    """Each call's outcome at `block`, in order (batched by the client's batch size)."""
    answers = client.batch([Call("eth_call", [{"to": c.address, "data": c.data}, hex(block)]) for c in calls],
                           allow_null=True, keep_errors=True)
    return [_outcome(call, answer) for call, answer in zip(calls, answers, strict=True)]


def _outcome(call: ContractCall, answer) -> Outcome:
    if isinstance(answer, CallError):
        if any(marker in answer.message.lower() for marker in NO_STATE):
            raise SourceRefused(f"JSON-RPC eth_call {call.signature} on {call.address}: the node has no state at that "
                                f"block ({answer.message[:80]}): reading contracts on past days needs an archive "
                                "node (AVAX_RPC_URL)")
        if answer.code != EXECUTION_REVERTED and "revert" not in answer.message.lower():
            raise RpcError("eth_call", [call.address, call.signature], answer.code, answer.message)
        return Outcome(None, revert_reason(answer))
    if answer is None or answer in ("0x", ""):
        return Outcome(None, "no such method (empty return: not a contract, or no fallback answer)")
    if not isinstance(answer, str) or not answer.startswith("0x"):
        raise MalformedResponse(f"JSON-RPC eth_call {call.signature} on {call.address}: not hex: {short(answer)}")
    try:
        return Outcome(bytes.fromhex(answer[2:]))
    except ValueError:
        raise MalformedResponse(f"JSON-RPC eth_call {call.signature} on {call.address}: not hex: "
                                f"{short(answer)}") from None


def revert_reason(error: CallError) -> str:
    data = error.data if isinstance(error.data, str) else ""
    if data.startswith("0x" + ERROR_STRING):
        try:
            body = bytes.fromhex(data[10:])
            length = int.from_bytes(body[32:64], "big")
            return "reverted: " + body[64:64 + length].decode("utf-8", errors="replace")
        except ValueError:
            pass
    if data in ("", "0x"):
        return "reverted without a reason (no such method, or it refused)"
    return f"reverted with data {data[:74]}"


def uint_return(outcome: Outcome) -> tuple[int | None, str | None]:
    """A uint256 return (exactly one word), or None and why."""
    if outcome.returned is None:
        return None, outcome.reason
    if len(outcome.returned) != 32:
        return None, f"returned {len(outcome.returned)} bytes, not one 32-byte word"
    return int.from_bytes(outcome.returned, "big"), None


def address_return(outcome: Outcome) -> tuple[str | None, str | None]:
    """An address return, or None and why."""
    number, reason = uint_return(outcome)
    if number is None:
        return None, reason
    if number >> 160:
        return None, f"returned 0x{outcome.returned.hex()}, not an address"
    return "0x" + outcome.returned[12:].hex(), None


def text_return(outcome: Outcome) -> tuple[str | None, str | None]:
    """A `string` return, or a `bytes32` one (MKR's and old DAI's name and symbol: NUL-padded), as text.
    Trailing NULs are padding in either (a real token returns "ETH\\0\\0\\0" as a string): stripped, and the
    reason says so with the raw bytes. Bytes that are not UTF-8 are kept with U+FFFD, other control
    characters kept as they are; the reason flags both, with the raw bytes."""
    raw = outcome.returned
    if raw is None:
        return None, outcome.reason
    if len(raw) == 32:
        value, padded = raw.rstrip(b"\0"), False  # a bytes32 is padded by definition: nothing to say
    elif len(raw) >= 64 and int.from_bytes(raw[:32], "big") == 32:
        length = int.from_bytes(raw[32:64], "big")
        if 64 + length > len(raw):
            return None, f"string return of {len(raw)} bytes claims {length} bytes of text"
        value = raw[64:64 + length]
        padded = value.endswith(b"\0")
        value = value.rstrip(b"\0")
    else:
        return None, f"returned {len(raw)} bytes, neither a string nor a bytes32"
    notes = [f"trailing NULs stripped (raw 0x{raw[64:64 + length].hex()})"] if padded else []
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("utf-8", errors="replace")
        notes.append(f"not valid UTF-8, kept with U+FFFD (raw 0x{value.hex()})")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        notes.append(f"holds control characters, kept (raw 0x{value.hex()})")
    return text, "; ".join(notes) or None


def last_block_of(blocks: Iterable[pa.RecordBatch]) -> dict | None:
    """The position (number, timestamp, hash) of the day's last block, from its stored `blocks`; contract
    state is read there, so a day's reads are the same whenever they run."""
    last = None
    for batch in blocks:
        if batch.num_rows:
            i = pc.index(batch.column("block_number"), pc.max(batch.column("block_number"))).as_py()
            row = {name: batch.column(name)[i].as_py() for name in ("block_number", "block_timestamp", "block_hash")}
            if last is None or row["block_number"] > last["block_number"]:
                last = row
    return last


def distinct_values(batches: Iterable[pa.RecordBatch], column: str) -> set[str]:
    found: set[str] = set()
    for batch in batches:
        found.update(v for v in pc.unique(batch.column(column)).to_pylist() if v is not None)
    return found
