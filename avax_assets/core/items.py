"""API items (AvaCloud, The Graph) → rows of a dataset, driven by each column's `source` path.

A value is converted strictly to its column's declared type or refused with BadField; integers stay
exact (JSON numbers with a fraction arrive as Decimal, big numbers as decimal strings), never through
float.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from avax_assets.core.errors import BadField, SourceDataError
from avax_assets.core.schema import BOOL, HEX, TEXT, TIMESTAMP, U8, U32, U64, U256, Column, Dataset

MISSING = object()
_UINT_BITS = {id(U8): 8, id(U32): 32, id(U64): 64, id(U256): 256}


def lookup(item: dict, path: str) -> Any:
    """The value at a dotted path, or MISSING."""
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def convert(column: Column, value: Any) -> Any:
    """An API value as the column's declared type, or BadField."""
    name = column.source or column.name
    if value is MISSING or value is None:
        if column.nullable:
            return None
        raise BadField(name, "is missing" if value is MISSING else "is null")
    kind = column.type
    if kind is BOOL:
        if not isinstance(value, bool):
            raise BadField(name, f"is not a boolean: {value!r}")
        return value
    if kind is U256 and isinstance(value, str) and not value.isdigit():
        raise BadField(name, f"is not a base-10 amount: {value!r}")
    if id(kind) in _UINT_BITS or kind is TIMESTAMP:
        number = integer(name, value)
        bits = 64 if kind is TIMESTAMP else _UINT_BITS[id(kind)]
        if not 0 <= number < 2**bits:
            raise BadField(name, f"{number} does not fit uint{bits}")
        return str(number) if kind is U256 else number
    if kind in (TEXT, HEX):
        if isinstance(value, Decimal):
            return format(value, "f")  # an exact decimal, never through float
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                                default=lambda d: format(d, "f"))
        return text.lower() if kind is HEX else text
    raise BadField(name, f"has no converter for {kind.clickhouse}")


def integer(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise BadField(name, f"is not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)  # the API sends big numbers as decimal strings
    raise BadField(name, f"is not an integer: {value!r}")


def exact(value: Any) -> str:
    """A JSON number (int or Decimal) as a plain decimal string."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError(f"not a number: {value!r}")
    return str(value) if isinstance(value, int) else format(value, "f")


def item_row(dataset: Dataset, partition: str, item: dict, where: str,
             adapt: Callable[[dict], dict] | None = None) -> dict:
    """The dataset's sourced columns of one API item, converted; computed columns are the caller's."""
    row = {}
    try:
        item = adapt(item) if adapt else item
        for column in dataset.columns:
            if column.source is not None:
                row[column.name] = convert(column, lookup(item, column.source))
    except BadField as bad:
        raise SourceDataError(dataset.name, partition, bad.field, bad.detail, where) from None
    return row
