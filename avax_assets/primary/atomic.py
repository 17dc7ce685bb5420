"""The C-Chain's atomic transactions, decoded from a block's `blockExtraData` (coreth plugin/evm/atomic).

Avalanche's linear codec: big-endian integers, a uint16 codec version (0) before the value, every slice a
uint32 length and its elements, every interface a uint32 type id and its fields. The C-Chain's atomic codec
registers ImportTx 0, ExportTx 1, SECP256K1 TransferInput 5, TransferOutput 7 and Credential 9; nothing
else can stand where those do. Before Apricot Phase 5 a block holds one signed transaction; from it on, a
batch: one codec version, then a slice of transactions. A transaction's id is SHA-256 of its signed bytes
with the codec version in front (a batch member's bytes are its slice of the batch).

Strict, as coreth's codec is: a wrong codec version or type id, a length that overruns the payload, a
payload over 256 KiB, an empty batch or trailing bytes refuse the whole payload (`NotAtomic`, naming what
and where); nothing is half-decoded.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass

from avax_assets.core.errors import PermanentError
from avax_assets.primary import ids

CODEC_VERSION = 0
IMPORT_TX, EXPORT_TX, TRANSFER_INPUT, TRANSFER_OUTPUT, CREDENTIAL = 0, 1, 5, 7, 9
MAX_PAYLOAD = 256 * 1024  # avalanchego codec.NewDefaultManager: the largest payload coreth unmarshals
SIGNATURE = 65
# Apricot Phase 5 (avalanchego upgrade.Mainnet / Fuji): from this block time on, blockExtraData is a batch
APRICOT_PHASE_5 = {43114: dt.datetime(2021, 12, 2, 18, tzinfo=dt.timezone.utc),
                   43113: dt.datetime(2021, 11, 24, 15, tzinfo=dt.timezone.utc)}


class NotAtomic(PermanentError, ValueError):
    """A blockExtraData payload that is not exactly an atomic transaction (or batch) of the C-Chain's codec."""


@dataclass(frozen=True)
class EvmInput:
    address: str  # 0x-prefixed, lower case
    amount: int  # nAVAX for AVAX, the asset's base units otherwise
    asset_id: str
    nonce: int


@dataclass(frozen=True)
class EvmOutput:
    address: str
    amount: int
    asset_id: str


@dataclass(frozen=True)
class UtxoInput:
    """A UTXO of another chain that an ImportTx spends."""

    transaction_id: str  # the transaction that created the UTXO
    output_index: int
    asset_id: str
    amount: int
    signature_indices: tuple[int, ...]

    @property
    def utxo_id(self) -> str:
        return ids.utxo_id_of(self.transaction_id, self.output_index)


@dataclass(frozen=True)
class UtxoOutput:
    """A UTXO an ExportTx puts in the destination chain's shared memory."""

    asset_id: str
    amount: int
    locktime: int
    threshold: int
    addresses: tuple[bytes, ...]  # 20-byte short ids


@dataclass(frozen=True)
class AtomicTx:
    kind: str  # import | export
    network_id: int
    blockchain_id: str  # the C-Chain
    other_chain: str  # the source chain of an import, the destination of an export
    evm_inputs: tuple[EvmInput, ...]
    evm_outputs: tuple[EvmOutput, ...]
    utxo_inputs: tuple[UtxoInput, ...]
    utxo_outputs: tuple[UtxoOutput, ...]
    signatures: tuple[tuple[bytes, ...], ...]  # per credential
    id: str
    size: int  # signed bytes, codec version included

    def output_utxo_id(self, index: int) -> str:
        """The id of the UTXO this export created at `index` (coreth: the exported output's position)."""
        return ids.utxo_id_of(self.id, index)

    def burned(self, asset_id: str) -> int:
        """What the transaction consumes of an asset beyond what it produces: its fee, for AVAX."""
        spent = sum(i.amount for i in (*self.evm_inputs, *self.utxo_inputs) if i.asset_id == asset_id)
        made = sum(o.amount for o in (*self.evm_outputs, *self.utxo_outputs) if o.asset_id == asset_id)
        return spent - made


class _Reader:
    def __init__(self, payload: bytes) -> None:
        self.payload, self.offset = payload, 0

    def fail(self, what: str) -> NotAtomic:
        return NotAtomic(f"{what} at byte {self.offset} of {len(self.payload)}")

    def take(self, size: int, what: str) -> bytes:
        if self.offset + size > len(self.payload):
            raise self.fail(f"{what} ({size} bytes) runs past the end")
        chunk = self.payload[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def u16(self, what: str) -> int:
        return struct.unpack(">H", self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack(">I", self.take(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack(">Q", self.take(8, what))[0]

    def id(self, what: str) -> str:
        return ids.cb58(self.take(32, what))

    def count(self, what: str, smallest: int) -> int:
        """A slice's length, refused when its elements cannot fit the bytes left (or past int32, as Go's)."""
        number = self.u32(f"{what} length")
        if number > 0x7FFFFFFF or number * smallest > len(self.payload) - self.offset:
            self.offset -= 4
            raise self.fail(f"{what} length {number} exceeds the bytes left")
        return number

    def type_id(self, what: str, expected: int) -> None:
        found = self.u32(f"{what} type id")
        if found != expected:
            self.offset -= 4
            raise self.fail(f"{what} has type id {found}, not {expected}")


def _evm_input(r: _Reader) -> EvmInput:
    return EvmInput("0x" + r.take(20, "EVM input address").hex(), r.u64("EVM input amount"), r.id("EVM input asset"),
                    r.u64("EVM input nonce"))


def _evm_output(r: _Reader) -> EvmOutput:
    return EvmOutput("0x" + r.take(20, "EVM output address").hex(), r.u64("EVM output amount"),
                     r.id("EVM output asset"))


def _utxo_input(r: _Reader) -> UtxoInput:
    transaction, index, asset = r.id("input UTXO transaction"), r.u32("input UTXO index"), r.id("input asset")
    r.type_id("transferable input", TRANSFER_INPUT)
    amount = r.u64("input amount")
    indices = tuple(r.u32("signature index") for _ in range(r.count("signature indices", 4)))
    return UtxoInput(transaction, index, asset, amount, indices)


def _utxo_output(r: _Reader) -> UtxoOutput:
    asset = r.id("output asset")
    r.type_id("transferable output", TRANSFER_OUTPUT)
    amount, locktime, threshold = r.u64("output amount"), r.u64("output locktime"), r.u32("output threshold")
    addresses = tuple(r.take(20, "output address") for _ in range(r.count("output addresses", 20)))
    return UtxoOutput(asset, amount, locktime, threshold, addresses)


def _list(r: _Reader, what: str, smallest: int, element) -> tuple:
    return tuple(element(r) for _ in range(r.count(what, smallest)))


def _credentials(r: _Reader) -> tuple[tuple[bytes, ...], ...]:
    def credential(reader: _Reader) -> tuple[bytes, ...]:
        reader.type_id("credential", CREDENTIAL)
        return tuple(reader.take(SIGNATURE, "signature") for _ in range(reader.count("signatures", SIGNATURE)))

    return _list(r, "credentials", 8, credential)


def _transaction(r: _Reader, codec: bytes) -> AtomicTx:
    """One signed transaction from the reader's position; `codec` is the version bytes its id is taken with."""
    start = r.offset
    kind = r.u32("transaction type id")
    if kind not in (IMPORT_TX, EXPORT_TX):
        r.offset -= 4
        raise r.fail(f"transaction has type id {kind}, not {IMPORT_TX} (import) or {EXPORT_TX} (export)")
    network, chain, other = r.u32("network id"), r.id("blockchain id"), r.id("source or destination chain")
    evm_inputs, evm_outputs, utxo_inputs, utxo_outputs = (), (), (), ()
    if kind == IMPORT_TX:
        utxo_inputs = _list(r, "imported inputs", 84, _utxo_input)
        evm_outputs = _list(r, "EVM outputs", 60, _evm_output)
    else:
        evm_inputs = _list(r, "EVM inputs", 68, _evm_input)
        utxo_outputs = _list(r, "exported outputs", 60, _utxo_output)
    signatures = _credentials(r)
    signed = codec + r.payload[start:r.offset]
    return AtomicTx("import" if kind == IMPORT_TX else "export", network, chain, other, evm_inputs, evm_outputs,
                    utxo_inputs, utxo_outputs, signatures, ids.transaction_id(signed), len(signed))


def decode_atomic(payload: bytes, batch: bool) -> list[AtomicTx]:
    """Every atomic transaction of a block's extra data (none when it is empty); `batch` from Apricot Phase 5."""
    if not payload:
        return []
    r = _Reader(payload)
    if len(payload) > MAX_PAYLOAD:
        raise NotAtomic(f"{len(payload)} bytes, over the codec's {MAX_PAYLOAD}")
    codec = r.take(2, "codec version")
    if int.from_bytes(codec, "big") != CODEC_VERSION:
        r.offset = 0
        raise r.fail(f"codec version {int.from_bytes(codec, 'big')}, not {CODEC_VERSION}")
    if batch:
        txs = [_transaction(r, codec) for _ in range(r.count("batch", 84))]
        if not txs:
            raise NotAtomic("an empty batch (coreth refuses extra data without atomic transactions)")
    else:
        txs = [_transaction(r, codec)]
    if r.offset != len(payload):
        raise r.fail(f"{len(payload) - r.offset} trailing bytes")
    return txs


def is_batch(chain_id: int, block_time: dt.datetime) -> bool:
    """Whether a block of this chain holds a batch (Apricot Phase 5 and later); chains not listed always do."""
    fork = APRICOT_PHASE_5.get(chain_id)
    return fork is None or block_time >= fork
