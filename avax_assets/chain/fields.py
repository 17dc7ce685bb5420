"""Strict converters from JSON-RPC values to declared column values.

Each raises BadField naming the field, so a malformed payload is reported, never mis-decoded.
"""

from __future__ import annotations

import re
from typing import Any

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
