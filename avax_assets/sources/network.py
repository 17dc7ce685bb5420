"""AvaCloud list endpoints → rows of a snapshot dataset, driven by each column's `source` path."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa

from avax_assets.datasets import BLOCKCHAINS, CHAINS, DELEGATORS, SUBNETS, VALIDATORS, Dataset
from avax_assets.datasets.schema import BOOL, HEX, TEXT, TIMESTAMP, U8, U32, U64, U256, Column
from avax_assets.errors import BadField, SourceDataError
from avax_assets.sources.avacloud import AvaCloudClient

_MISSING = object()
_UINT_BITS = {id(U8): 8, id(U32): 32, id(U64): 64, id(U256): 256}


@dataclass(frozen=True)
class Endpoint:
    path: str
    items_key: str
    path_params: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    paged: bool = True
    # maps one API item onto the dataset's source paths, where a dataset gathers unlike lists
    adapt: Callable[[dict], dict] | None = None


def _lookup(item: dict, path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def convert(column: Column, value: Any) -> Any:
    """An API value as the column's declared type, or BadField."""
    name = column.source or column.name
    if value is _MISSING or value is None:
        if column.nullable:
            return None
        raise BadField(name, "is missing" if value is _MISSING else "is null")
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


def item_row(dataset: Dataset, partition: str, item: dict, where: str,
             adapt: Callable[[dict], dict] | None = None) -> dict:
    """The dataset's sourced columns of one API item, converted; computed columns are the caller's."""
    row = {}
    try:
        item = adapt(item) if adapt else item
        for column in dataset.columns:
            if column.source is not None:
                row[column.name] = convert(column, _lookup(item, column.source))
    except BadField as bad:
        raise SourceDataError(dataset.name, partition, bad.field, bad.detail, where) from None
    return row


def snapshot_rows(dataset: Dataset, partition: str, items: list[dict], fetched_at: int,
                  endpoint: Endpoint | None = None) -> list[dict]:
    day = dt.date.fromisoformat(partition)
    adapt = endpoint.adapt if endpoint else None
    where = f" of {endpoint.path.format(**endpoint.path_params)}" if endpoint else ""
    return [{"snapshot_date": day, "fetched_at": fetched_at,
             **item_row(dataset, partition, item, f"item {position}{where}", adapt)}
            for position, item in enumerate(items)]


def extract_snapshot(client: AvaCloudClient, dataset: Dataset, sources: tuple[Endpoint, ...], partition: str,
                     fetched_at: int) -> Iterator[pa.RecordBatch]:
    for endpoint in sources:
        pages = client.pages(endpoint.path, endpoint.items_key, endpoint.path_params, endpoint.query) \
            if endpoint.paged else iter([client.get(endpoint.path, endpoint.path_params, endpoint.query)
                                         .get(endpoint.items_key, [])])
        for items in pages:
            yield pa.RecordBatch.from_pylist(snapshot_rows(dataset, partition, items, fetched_at, endpoint),
                                             schema=dataset.arrow_schema)


STAKING_STATUSES = ("active", "pending", "completed")


def primary_network_validation(item: dict) -> dict:
    """A primary-network validation is identified by the hash of the tx that added it."""
    if "txHash" not in item:
        raise BadField("txHash", "is missing")
    return {**item, "validatorKind": "primary_network", "validationId": item["txHash"]}


def l1_validation(item: dict) -> dict:
    """An L1 validation (ACP-77) has no status in the API: it is removed at weight 0, inactive once its
    balance for the continuous fee runs out, active otherwise."""
    for required in ("weight", "remainingBalance", "creationTimestamp"):
        if item.get(required) is None:
            raise BadField(required, "is missing")
    weight = integer("weight", item["weight"])
    balance = integer("remainingBalance", item["remainingBalance"])
    status = "removed" if weight == 0 else "inactive" if balance == 0 else "active"
    return {**item, "validatorKind": "l1", "validationStatus": status, "startTimestamp": item["creationTimestamp"]}


def endpoints(network: str) -> dict[str, tuple[Endpoint, ...]]:
    """The requests that make up each snapshot dataset (lists discriminated by status: one per status)."""
    on = {"network": network}
    return {
        CHAINS.name: (Endpoint("/v1/chains", "chains", query=on, paged=False),),
        SUBNETS.name: (Endpoint("/v1/networks/{network}/subnets", "subnets", on),),
        BLOCKCHAINS.name: (Endpoint("/v1/networks/{network}/blockchains", "blockchains", on),),
        VALIDATORS.name: (
            *(Endpoint("/v1/networks/{network}/validators", "validators", on, {"validationStatus": status},
                       adapt=primary_network_validation) for status in STAKING_STATUSES),
            Endpoint("/v1/networks/{network}/l1Validators", "validators", on,
                     {"includeInactiveL1Validators": "true"}, adapt=l1_validation),
        ),
        DELEGATORS.name: tuple(Endpoint("/v1/networks/{network}/delegators", "delegators", on,
                                        {"delegationStatus": status}) for status in STAKING_STATUSES),
    }
