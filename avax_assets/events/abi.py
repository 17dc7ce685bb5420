"""An ABI event as a dataset: its columns from the ABI types, its topic0, and the decoding of one log.

Types map exactly: unsigned and signed integers up to 64 bits to native integers, wider ones to
UInt256/Int256 (decimal strings in Parquet and Kafka); addresses and bytes to lower-case hex; bool;
string as text (invalid UTF-8 replaced by U+FFFD); arrays to canonical JSON (integers as decimal strings,
bytes and addresses as lower-case hex, tuples as objects in ABI order). A tuple argument (a struct) is
flattened: each component is a column of its own, `<argument>_<component>`, by the same rules (a nested
tuple flattened again, an array of tuples canonical JSON), so a struct's fields are typed and queryable.
An indexed argument of a dynamic type, a tuple or an array is only its keccak-256 hash in the topic: that
hash is the column.

A log is decoded only if it fits the ABI exactly: one topic per indexed argument after topic0, data of
exactly the static head's size (or a valid ABI encoding when the event has dynamic arguments), every
word's padding as its type requires. Anything else raises NotDecodable (counted, never mis-decoded).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import eth_abi
from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak

from avax_assets.chain.words import (
    FIXED_BYTES,
    HASHED,
    TOPICS,
    WORD,
    StaticField,
    StaticLayout,
    integer_type,
    is_static_elementary,
)
from avax_assets.core.errors import NotDecodable
from avax_assets.core.schema import BOOL, HEX, I32, I64, I256, TEXT, U8, U32, U64, U256, Column, ColumnType

# names that read badly (or are keywords) as ClickHouse columns
_RENAMED = {"from": "from_address", "to": "to_address"}


def snake_case(name: str) -> str:
    """amount0In → amount0_in, sqrtPriceX96 → sqrt_price_x96, amountsIn → amounts_in,
    BlockchainIDInitialized → blockchain_id_initialized."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return _RENAMED.get(name, name)


@dataclass(frozen=True)
class Param:
    """One event argument as the JSON ABI gives it."""

    name: str
    type: str  # as written: uint256, tuple[], address…
    indexed: bool
    components: tuple[Param, ...] = ()

    @staticmethod
    def of(entry: dict) -> Param:
        return Param(entry.get("name", ""), entry["type"], bool(entry.get("indexed", False)),
                     tuple(Param.of(c) for c in entry.get("components", ())))

    @property
    def canonical(self) -> str:
        """The type as the signature writes it: tuples expanded to (t1,t2…)."""
        if self.type.startswith("tuple"):
            return "(" + ",".join(c.canonical for c in self.components) + ")" + self.type[len("tuple"):]
        return self.type

    @property
    def is_dynamic(self) -> bool:
        if self.type in ("string", "bytes") or self.type.endswith("[]"):
            return True
        if self.type.startswith("tuple") and not self.type.endswith("]"):
            return any(c.is_dynamic for c in self.components)
        if self.type.endswith("]"):  # a fixed-size array of a dynamic element
            return Param(self.name, self.type[: self.type.rindex("[")], False, self.components).is_dynamic
        return False

    @property
    def is_elementary(self) -> bool:
        return not self.type.startswith("tuple") and not self.type.endswith("]")

    @property
    def is_hashed(self) -> bool:
        """Indexed, and so only keccak-256 of the value in the topic (Solidity hashes every indexed
        dynamic value, struct and array)."""
        return self.indexed and (self.is_dynamic or not self.is_elementary)

    def column_type(self) -> ColumnType:
        if self.is_hashed:
            return HEX
        if not self.is_elementary:
            return TEXT
        if self.type == "address" or self.type.startswith("bytes"):
            return HEX
        if self.type == "bool":
            return BOOL
        if self.type == "string":
            return TEXT
        unsigned, bits = _integer(self.type)
        if unsigned:
            return U8 if bits <= 8 else U32 if bits <= 32 else U64 if bits <= 64 else U256
        return I32 if bits <= 32 else I64 if bits <= 64 else I256


def _integer(type_: str) -> tuple[bool, int]:
    integer = integer_type(type_)
    if integer is None:
        raise ValueError(f"not an ABI type this decoder knows: {type_}")
    return integer


@dataclass(frozen=True)
class Field:
    """One column of an event: an argument, or a component of a flattened tuple argument."""

    column: str
    param: Param  # the value's own type: the argument's, or the component's
    path: tuple[int, ...]  # the argument's position, then the component's position in each tuple on the way
    origin: str  # the argument, or `argument.component`, as the ABI names it

    @property
    def indexed(self) -> bool:
        return self.param.indexed


def _fields(param: Param, column: str, path: tuple[int, ...], origin: str) -> list[Field]:
    if param.type == "tuple" and not param.indexed:
        return [field for j, component in enumerate(param.components)
                for field in _fields(component, f"{column}_{snake_case(component.name) if component.name else j}",
                                     (*path, j), f"{origin}.{component.name or j}")]
    return [Field(column, param, path, origin)]


@dataclass(frozen=True)
class AbiEvent:
    """One event of a JSON ABI file, with the columns its arguments become."""

    name: str
    params: tuple[Param, ...]
    fields: tuple[Field, ...]  # one per column, in ABI order (a flattened tuple's components in its place)

    @staticmethod
    def load(path: Path, event: str, taken: frozenset[str] = frozenset()) -> AbiEvent:
        """The event `event` of the ABI at `path`; column names in `taken` (position columns) get an
        `arg_` prefix."""
        entries = [e for e in json.loads(path.read_text()) if e.get("type") == "event" and e.get("name") == event]
        if len(entries) != 1:
            raise ValueError(f"{path.name}: {len(entries)} events named {event!r} (need exactly one)")
        if entries[0].get("anonymous"):
            raise ValueError(f"{path.name}: {event} is anonymous (no topic0 to find it by)")
        params = tuple(Param.of(p) for p in entries[0]["inputs"])
        if sum(p.indexed for p in params) > len(TOPICS):
            raise ValueError(f"{path.name}: {event} has more than {len(TOPICS)} indexed arguments")
        fields = []
        for i, param in enumerate(params):
            name = snake_case(param.name) if param.name else f"arg{i}"
            for field in _fields(param, name, (i,), param.name or str(i)):
                column = f"arg_{field.column}" if field.column in taken else field.column
                fields.append(Field(column, field.param, field.path, field.origin))
        columns = [f.column for f in fields]
        if len(set(columns)) != len(columns):
            raise ValueError(f"{path.name}: {event} gives two columns one name: "
                             f"{sorted({c for c in columns if columns.count(c) > 1})}")
        return AbiEvent(event, params, tuple(fields))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.fields)

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(p.canonical for p in self.params)})"

    @property
    def topic0(self) -> str:
        return "0x" + keccak(self.signature.encode()).hex()

    @property
    def layout(self) -> StaticLayout | None:
        """The event as a StaticLayout, to decode in bulk, when each of its arguments is one word (an
        elementary static type, or an indexed argument's hash); None: its logs are decoded one by one."""
        if not all(f.param.is_hashed or is_static_elementary(f.param.type) for f in self.fields) or \
                any(not p.indexed and not p.is_elementary for p in self.params):
            return None
        indexed = [f for f in self.fields if f.indexed]
        data = [f for f in self.fields if not f.indexed]
        return StaticLayout(len(indexed), len(data), (
            *(StaticField(f.column, HASHED if f.param.is_hashed else f.param.type, topic=topic)
              for f, topic in zip(indexed, TOPICS, strict=False)),
            *(StaticField(f.column, f.param.type, data_word=i) for i, f in enumerate(data))))

    def column_declarations(self, descriptions: dict[str, str]) -> tuple[Column, ...]:
        return tuple(Column(f.column, f.param.column_type(), description=descriptions.get(f.column, _described(f)))
                     for f in self.fields)

    def decode(self, log: dict) -> dict[str, Any]:
        """The argument columns of one log (position columns are the caller's); NotDecodable if it does
        not fit the ABI exactly."""
        indexed = [f for f in self.fields if f.indexed]
        topics = [log[t] for t in TOPICS if log[t] is not None]
        if len(topics) != len(indexed) or any(log[t] is None for t in TOPICS[: len(topics)]):
            raise NotDecodable(f"{len(topics) + 1} topics, but {self.signature} has {len(indexed)} indexed "
                               f"arguments (needs {len(indexed) + 1} topics)")
        row = {f.column: (topic if f.param.is_hashed else static_value(f.param.type, topic[2:], f.origin))
               for f, topic in zip(indexed, topics, strict=True)}
        row.update(self._decode_data(log["data"]))
        return row

    def _decode_data(self, data: str) -> dict[str, Any]:
        body = data[2:]
        params = {i: p for i, p in enumerate(self.params) if not p.indexed}
        fields = [f for f in self.fields if not f.indexed]
        if any(p.is_dynamic or not p.is_elementary for p in params.values()):
            values = dict(zip(params, _decoded(list(params.values()), body), strict=True))
            return {f.column: _cell(f.param, _component(values[f.path[0]], f.path[1:])) for f in fields}
        if len(body) != WORD * len(fields):
            raise NotDecodable(f"data is {len(body) // 2} bytes, {self.signature} needs {32 * len(fields)}")
        return {f.column: static_value(f.param.type, body[i * WORD:(i + 1) * WORD], f.origin)
                for i, f in enumerate(fields)}


def _component(value: Any, path: tuple[int, ...]) -> Any:
    for position in path:
        value = value[position]
    return value


def _described(field: Field) -> str:
    what = "component" if len(field.path) > 1 else "argument"
    return f"ABI `{field.param.canonical}` {what} `{field.origin}`" + (
        " (indexed: keccak-256 of the value, lower-case hex)" if field.param.is_hashed else "")


def static_value(type_: str, word: str, name: str) -> Any:
    """One 32-byte word (64 hex characters) as the column value of an elementary static type, checking
    that its padding is what the type allows."""
    try:
        number = int(word, 16)
    except ValueError:
        raise NotDecodable(f"{name}: not hex: {word[:20]}") from None
    if type_ == "address":
        if number >> 160:
            raise NotDecodable(f"{name}: not an address (high bytes set): 0x{word}")
        return "0x" + word[24:]
    if type_ == "bool":
        if number > 1:
            raise NotDecodable(f"{name}: bool word is {number}")
        return number == 1
    fixed = FIXED_BYTES.match(type_)
    if fixed:
        size = int(fixed.group(1))
        if number & ((1 << (256 - 8 * size)) - 1):
            raise NotDecodable(f"{name}: bytes{size} with non-zero padding: 0x{word}")
        return "0x" + word[: 2 * size]
    unsigned, bits = _integer(type_)
    if unsigned:
        if number >> bits:
            raise NotDecodable(f"{name}: {number} does not fit uint{bits}")
        return str(number) if bits > 64 else number
    value = number - (1 << 256) if number >> 255 else number
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise NotDecodable(f"{name}: word 0x{word} is not a sign-extended int{bits}")
    return str(value) if bits > 64 else value


def _decoded(params: list[Param], body: str) -> tuple:
    """Data with dynamic arguments or tuples, by eth_abi (strict: padding and offsets checked). Strings
    are decoded as bytes first, so invalid UTF-8 is replaced rather than refused."""
    types = [_as_bytes(p) for p in params]
    try:
        raw = bytes.fromhex(body)
        values = eth_abi.decode(types, raw, strict=True)
    except (DecodingError, ValueError, OverflowError) as exc:
        raise NotDecodable(f"data does not decode as ({','.join(p.canonical for p in params)}): {exc}"[:300]) \
            from None
    if len(eth_abi.encode(types, values)) != len(raw):
        raise NotDecodable(f"data is {len(raw)} bytes, more than its ABI encoding")
    return values


def _as_bytes(param: Param) -> str:
    """The canonical type with every `string` read as `bytes`."""
    return re.sub(r"\bstring\b", "bytes", param.canonical)


def _cell(param: Param, value: Any) -> Any:
    plain = _plain(param, value)
    if param.is_elementary:
        if param.type.startswith(("int", "uint")):
            return plain if param.column_type() in (U256, I256) else int(plain)
        return plain
    return json.dumps(plain, separators=(",", ":"), ensure_ascii=False)


def _plain(param: Param, value: Any) -> Any:
    """A decoded value as canonical JSON data (and, for elementary types, as its column value)."""
    if param.type.endswith("]"):
        element = Param(param.name, param.type[: param.type.rindex("[")], False, param.components)
        return [_plain(element, v) for v in value]
    if param.type == "tuple":
        return {c.name or str(i): _plain(c, v) for i, (c, v) in enumerate(zip(param.components, value, strict=True))}
    if param.type == "string":
        return value.decode("utf-8", errors="replace")
    if param.type == "address":
        return value.lower()
    if param.type.startswith("bytes"):
        return "0x" + value.hex()
    if param.type == "bool":
        return value
    return str(value)
