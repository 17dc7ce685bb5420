"""Logs decoded in bulk, column by column: an event whose arguments are all elementary static ABI types (address,
bool, bytesN, uintN, intN, or an indexed argument's keccak-256 hash) is a `StaticLayout`, one 32-byte word per
argument in a topic or the data. `fits` finds, over a whole batch, the logs that have exactly the layout's shape
and padding; `decode` turns those into columns with Arrow's string kernels (and Python's int only for the
numbers), instead of a dict per log. A log that does not fit is left to the event's one-by-one decoder, which
names what is wrong with it: the checks are the same, so a log that fits is one the one-by-one decoder would
have decoded to the same values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc

WORD = 64  # hex characters in a 32-byte ABI word
TOPICS = ("topic1", "topic2", "topic3")
HASHED = "hashed"  # an indexed dynamic value, tuple or array: only its keccak-256 in the topic, kept as it is
_INTEGER = re.compile(r"^(u?)int(\d*)$")
FIXED_BYTES = re.compile(r"^bytes(\d+)$")
_HEX = "^0x[0-9a-f]*$"  # what extraction stores; anything else is left to the one-by-one decoder, which says so


def integer_type(type_: str) -> tuple[bool, int] | None:
    """(unsigned, bits) of an ABI integer type (`uint` is uint256), None for any other type."""
    match = _INTEGER.match(type_)
    return (match.group(1) == "u", int(match.group(2) or 256)) if match else None


def is_static_elementary(type_: str) -> bool:
    fixed = FIXED_BYTES.match(type_)
    return type_ in ("address", "bool") or bool(fixed and 1 <= int(fixed.group(1)) <= 32) or \
        integer_type(type_) is not None


@dataclass(frozen=True)
class StaticField:
    """One column: its ABI type (or HASHED) and its word, a topic (`topic1`…) or the data's word `data_word`."""

    column: str
    type: str
    topic: str | None = None
    data_word: int | None = None


@dataclass(frozen=True)
class StaticLayout:
    """An event's shape: `topics` topics after topic0 (no more), data of exactly `words` words, and its columns."""

    topics: int
    words: int
    fields: tuple[StaticField, ...]

    def fits(self, logs: pa.RecordBatch) -> pa.Array:
        """The logs with exactly this shape, each word padded as its type requires."""
        checks = [pc.is_valid(logs.column(t)) for t in TOPICS[: self.topics]]
        checks += [pc.is_null(logs.column(t)) for t in TOPICS[self.topics:]]
        checks.append(pc.equal(pc.utf8_length(logs.column("data")), 2 + WORD * self.words))
        checks += [pc.match_substring_regex(logs.column(c), _HEX) for c in ("data", *TOPICS[: self.topics])]
        checks += [_padded(f.type, self._word(logs, f)) for f in self.fields if f.type != HASHED]
        return pc.fill_null(reduce(pc.and_, checks), False)

    def decode(self, logs: pa.RecordBatch, schema: pa.Schema) -> dict[str, pa.Array]:
        """The columns of logs that fit, typed as `schema` declares them."""
        return {f.column: _value(f.type, self._word(logs, f), logs.column(f.topic) if f.topic else None,
                                 schema.field(f.column).type) for f in self.fields}

    @staticmethod
    def _word(logs: pa.RecordBatch, field: StaticField) -> pa.Array:
        if field.topic:
            return pc.utf8_slice_codeunits(logs.column(field.topic), 2, 2 + WORD)
        start = 2 + WORD * field.data_word
        return pc.utf8_slice_codeunits(logs.column("data"), start, start + WORD)


def _padded(type_: str, words: pa.Array) -> pa.Array:
    if type_ == "address":
        return pc.starts_with(words, "0" * 24)
    if type_ == "bool":
        return pc.is_in(words, value_set=pa.array(["0" * WORD, "0" * (WORD - 1) + "1"]))
    fixed = FIXED_BYTES.match(type_)
    if fixed:
        return pc.ends_with(words, "0" * (WORD - 2 * int(fixed.group(1))))
    unsigned, bits = integer_type(type_)
    pad = (256 - bits) // 4
    if unsigned:
        return pc.starts_with(words, "0" * pad)
    # sign-extended: the padding and the value's top bit all 0, or all 1
    return pc.match_substring_regex(words, f"^(0{{{pad}}}[0-7]|f{{{pad}}}[89a-f])")


def _value(type_: str, words: pa.Array, topic: pa.Array | None, arrow_type: pa.DataType) -> pa.Array:
    if type_ == HASHED:
        return topic
    if type_ == "address":
        return _hex(pc.utf8_slice_codeunits(words, 24, WORD))
    if type_ == "bool":
        return pc.equal(words, "0" * (WORD - 1) + "1")
    fixed = FIXED_BYTES.match(type_)
    if fixed:
        return _hex(pc.utf8_slice_codeunits(words, 0, 2 * int(fixed.group(1))))
    unsigned, bits = integer_type(type_)
    numbers = [int(word, 16) for word in words.to_pylist()]
    if not unsigned:
        numbers = [n - (1 << 256) if n >> 255 else n for n in numbers]
    return pa.array([str(n) for n in numbers] if bits > 64 else numbers, type=arrow_type)


def _hex(digits: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("0x", digits, "")
