"""Strict converters from JSON-RPC values to declared column values: per value, and over whole columns.

Each per-value converter raises BadField naming the field, so a malformed payload is reported, never
mis-decoded; the column converters apply the same rules in bulk and leave the naming to them.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from avax_assets.core.errors import BadField

_QUANTITY = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
_DATA = re.compile(r"^0x(?:[0-9a-fA-F]{2})*$")
_HASH_LEN = 66
_ADDRESS_LEN = 42
MAX_UINT256 = 2**256 - 1


def required(obj: dict, key: str, field: str | None = None) -> Any:
    try:
        value = obj[key]
    except (KeyError, TypeError):
        raise BadField(field or key, "is missing") from None
    if value is None:
        raise BadField(field or key, "is null")
    return value


def quantity(value: Any, field: str) -> int:
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise BadField(field, f"is not a hex quantity: {str(value)[:80]!r}")
    return int(value, 16)


def uint256(value: Any, field: str) -> str:
    """A hex quantity as an exact base-10 string."""
    number = quantity(value, field)
    if number > MAX_UINT256:
        raise BadField(field, "exceeds uint256")
    return str(number)


def data(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _DATA.match(value):
        raise BadField(field, f"is not 0x-prefixed hex bytes: {str(value)[:80]!r}")
    return value.lower()


def hash32(value: Any, field: str) -> str:
    text = data(value, field)
    if len(text) != _HASH_LEN:
        raise BadField(field, f"is not a 32-byte hash: {text[:80]!r}")
    return text


def address(value: Any, field: str) -> str:
    text = data(value, field)
    if len(text) != _ADDRESS_LEN:
        raise BadField(field, f"is not a 20-byte address: {text[:80]!r}")
    return text


def optional(converter, obj: dict, key: str, field: str):
    value = obj.get(key) if isinstance(obj, dict) else None
    return None if value is None else converter(value, field)


# --- whole columns at once ------------------------------------------------------------------------
# The same rules as the converters above, applied to a column of values by polars' kernels instead of
# value by value in Python. Each takes a list, a polars Series or an Arrow array and returns an Arrow array,
# or None when any value breaks a rule: the caller then runs the per-value converters, which name the field
# and value.

_QUANTITY_DIGITS = "^0x[0-9a-fA-F]{1,64}$"
_SHORT_QUANTITY = "^0x[0-9a-fA-F]{1,16}$"  # fits in 64 bits
_UINT128_DIGITS = "^0x[0-9a-fA-F]{1,32}$"


Values = list | pl.Series | pa.Array  # what the column converters take


def text_column(values: Values, nullable: bool = False) -> pa.Array | None:
    """Text over a column, as Arrow strings; None if any value is not text (or is null, unless `nullable`)."""
    if isinstance(values, pa.Array):
        is_text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type) or \
            pa.types.is_string_view(values.type)
        return values if is_text and (nullable or not values.null_count) else None
    if not isinstance(values, pl.Series):
        try:  # polars builds it faster than pa.array, which also imports pandas (~2 s) on first use
            values = pl.Series(values, dtype=pl.String, strict=True)
        except TypeError:
            return None
    if values.dtype != pl.String or (values.null_count() and not nullable):
        return None
    return values.to_arrow()


def all_true(mask: pa.Array) -> bool:
    """Every non-null entry is true."""
    return pc.all(mask, skip_nulls=True).as_py() is not False


def all_match(array: pa.Array, pattern: str) -> bool:
    """Every non-null string matches (polars' regex engine: measured faster here than Arrow's RE2 kernel)."""
    return pl.from_arrow(array).str.contains(pattern).all()


def hex_column(values: Values, byte_length: int | None = None, nullable: bool = False) -> pa.Array | None:
    """`data`, `hash32` (32) or `address` (20) over a column: lower-case, or None if any value is not."""
    array = text_column(values, nullable)
    if array is None:
        return None
    repeat = "*" if byte_length is None else f"{{{byte_length}}}"
    if all_match(array, f"^0x(?:[0-9a-f]{{2}}){repeat}$"):  # what nodes send: no copy
        return array.cast(pa.string())
    if not all_match(array, f"^0x(?:[0-9a-fA-F]{{2}}){repeat}$"):
        return None
    return pc.utf8_lower(array).cast(pa.string())


UINT64 = pa.uint64()


def quantity_column(values: Values, arrow_type: pa.DataType = UINT64,
                    nullable: bool = False) -> pa.Array | None:
    """`quantity` over a column that fits 64 bits, as `arrow_type`; None if any value does not."""
    array = text_column(values, nullable)
    if array is None or not all_match(array, _SHORT_QUANTITY):
        return None
    numbers = pl.from_arrow(array).str.slice(2).str.to_integer(base=16, dtype=pl.UInt64).to_arrow()
    try:
        return numbers.cast(arrow_type)  # safe cast: a value over uint8/uint32 raises
    except pa.ArrowInvalid:
        return None


def uint256_column(values: Values, nullable: bool = False) -> pa.Array | None:
    """`uint256` over a column: exact base-10 strings; None if any value is not a hex quantity."""
    array = text_column(values, nullable)
    if array is None or not all_match(array, _QUANTITY_DIGITS):
        return None
    if all_match(array, _UINT128_DIGITS):  # nearly every value: done in polars, exact
        return _text(pl.from_arrow(array).str.slice(2).str.to_integer(base=16, dtype=pl.UInt128))
    return _text([None if v is None else str(int(v, 16)) for v in array.to_pylist()])


def product_column(numbers: pa.Array, quantities: Values) -> pa.Array:
    """numbers (uint64) × hex quantities, exact, as base-10 strings (a fee: gas used × price per gas)."""
    short = quantity_column(quantities)
    if short is not None:  # both under 2^64: the product fits in 128 bits
        return _text(pl.from_arrow(numbers).cast(pl.UInt128) * pl.from_arrow(short).cast(pl.UInt128))
    if not isinstance(quantities, list):
        quantities = quantities.to_list() if isinstance(quantities, pl.Series) else quantities.to_pylist()
    return _text([str(n * int(q, 16)) for n, q in zip(numbers.to_pylist(), quantities, strict=True)])


def _text(values: pl.Series | list) -> pa.Array:
    """Numbers (or their decimal strings) as an Arrow string column, the one type every text column has."""
    series = values.cast(pl.String) if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String)
    return series.to_arrow().cast(pa.string())
