"""Subgraphs on The Graph over GraphQL (POST): a client with bounded retries, the `_meta` indexing guard,
and entity extraction by block range, paged by `id_gt` (never `skip`).

The API key goes in an `Authorization: Bearer` header, so it is never part of a URL, a log line or an
error message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pyarrow as pa

from avax_assets.core.days import BlockRange
from avax_assets.core.errors import MalformedResponse, PartitionNotReady, SettingError, SourceDataError, SourceRefused
from avax_assets.core.http import (asked_until_well_formed, bounded, http_client, redacted, refusal_hint,
                                   send_with_retries)
from avax_assets.core.items import item_row
from avax_assets.subgraphs.datasets import SubgraphEntity
from avax_assets.subgraphs.settings import PAGE_SIZE, SubgraphSettings

META_QUERY = "query Meta { _meta { block { number } hasIndexingErrors } }"


class SubgraphClient:
    def __init__(self, url: str, settings: SubgraphSettings | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        settings = settings or SubgraphSettings()
        if not 1 <= settings.page_size <= PAGE_SIZE:
            raise SettingError(f"the subgraph page_size must be within 1..{PAGE_SIZE}")
        self.settings, self.url = settings, url
        self._sleep = sleep
        headers = {"content-type": "application/json"}
        if settings.api_key:
            headers["authorization"] = f"Bearer {settings.api_key}"
        self._http = http_client(settings.patience, transport, headers=headers)
        self.queries = 0

    def __enter__(self) -> SubgraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def query(self, text: str, variables: dict | None = None) -> dict:
        """The `data` of one GraphQL query; GraphQL errors raise SubgraphError."""
        name = text.split("(")[0].split("{")[0].strip()

        def send() -> httpx.Response:
            self.queries += 1
            return bounded(self._http, "POST", self.url, json={"query": text, "variables": variables or {}},
                           patience=self.settings.patience, what=f"subgraph {name}")

        def ask() -> dict:
            response = send_with_retries(send, what=f"subgraph {name}", patience=self.settings.patience,
                                         sleep=self._sleep)
            if response.status_code != 200:
                raise SourceRefused(f"subgraph {name}: HTTP {response.status_code}: {redacted(response.text)}"
                                    + refusal_hint(response.status_code, self.settings.patience,
                                                   self.settings.variable("api_key")))
            return _data(name, response)

        return asked_until_well_formed(ask, self.settings.patience, self._sleep)

    def indexed_block(self) -> int:
        """The subgraph's latest indexed block; refuses a subgraph with indexing errors."""
        meta = self.query(META_QUERY).get("_meta") or {}
        if meta.get("hasIndexingErrors"):
            raise SourceRefused("the subgraph reports indexing errors (_meta.hasIndexingErrors): its data "
                                        "may be incomplete; fix or redeploy it before extracting")
        try:
            return int(meta["block"]["number"])
        except (KeyError, TypeError, ValueError):
            raise SourceRefused(f"subgraph _meta has no block number: {meta!r}") from None

    def pages(self, text: str, collection: str, variables: dict) -> Iterator[list[dict]]:
        """Pages of `collection` ordered by id: each asks for ids after the last one seen, until a short page."""
        last = ""
        for _ in range(self.settings.max_pages):
            items = self.query(text, {**variables, "first": self.settings.page_size, "lastId": last}).get(collection)
            if not isinstance(items, list):
                raise SourceRefused(f"subgraph answer has no '{collection}' list")
            if items:
                ids = [str(item.get("id")) for item in items]
                if ids[0] <= last or ids != sorted(ids):
                    raise SourceRefused(f"subgraph '{collection}' ids are not increasing after {last!r}: refusing to "
                                        "loop")
                last = ids[-1]
                yield items
            if len(items) < self.settings.page_size:
                return
        raise SourceRefused(f"subgraph '{collection}': more than {self.settings.max_pages} pages")


def _data(name: str, response: httpx.Response) -> dict:
    try:
        body = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise MalformedResponse(f"subgraph {name}: response is not JSON: {redacted(response.text, 120)!r}") from None
    if not isinstance(body, dict):
        raise MalformedResponse(f"subgraph {name}: expected a JSON object")
    if body.get("errors"):
        messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in body["errors"])
        raise SourceRefused(f"subgraph {name}: {redacted(messages, 500)}")
    if not isinstance(body.get("data"), dict):
        raise MalformedResponse(f"subgraph {name}: response has no data")
    return body["data"]


# --- queries from declarations ----------------------------------------------------------------------

def selection(paths: list[str]) -> str:
    """A GraphQL selection set for dotted field paths: ["a", "b.c", "b.d"] → "a b { c d }"."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})

    def render(node: dict) -> str:
        return " ".join(name + (f" {{ {render(child)} }}" if child else "") for name, child in node.items())

    return render(tree)


def entity_query(entity: SubgraphEntity) -> str:
    """The page query of an entity: its declared columns, within a block range, after an id."""
    *parents, leaf = entity.block_filter
    block_range = f"{leaf}_gte: $fromBlock, {leaf}_lte: $toBlock"
    for parent in reversed(parents):
        block_range = f"{parent}: {{ {block_range} }}"
    columns = [c.source for c in entity.dataset.columns if c.source]
    number = entity.block_type
    return (f"query {entity.dataset.name}($first: Int!, $lastId: ID!, $fromBlock: {number}!, $toBlock: {number}!) {{ "
            f"{entity.collection}(first: $first, orderBy: id, orderDirection: asc, "
            f"where: {{ id_gt: $lastId, {block_range} }}) {{ {selection(['id', *columns])} }} }}")


def extract_entity(client: SubgraphClient, entity: SubgraphEntity, partition: str,
                   blocks: BlockRange) -> Iterator[pa.RecordBatch]:
    """The entity's rows whose block is in the partition's range; refuses a range not indexed yet."""
    indexed = client.indexed_block()
    if indexed < blocks.last:
        raise PartitionNotReady(f"dataset '{entity.dataset.name}' partition {partition}: the subgraph has indexed "
                                f"up to block {indexed}, the partition ends at block {blocks.last}")
    variables = {"fromBlock": blocks.first, "toBlock": blocks.last}
    dataset = entity.dataset
    for items in client.pages(entity_query(entity), entity.collection, variables):
        rows = [item_row(dataset, partition, item, f"{entity.collection} id {item.get('id')}") for item in items]
        for row in rows:
            if not blocks.first <= row[dataset.block_column] <= blocks.last:
                raise SourceDataError(dataset.name, partition, entity.block_path,
                                      f"is {row[dataset.block_column]}, outside the partition's blocks "
                                      f"{blocks.first}..{blocks.last}", f"id {row[dataset.key_in_chain[0]]}")
        yield pa.RecordBatch.from_pylist(rows, schema=dataset.source_schema)
