"""ICM (Teleporter) messages for one UTC day. The list is newest first with no time filter: page back
until a whole page is older than the day, keep only the day's messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa

from avax_assets.datasets import BRIDGES
from avax_assets.errors import SourceDataError
from avax_assets.sources.avacloud import AvaCloudClient
from avax_assets.sources.network import item_row

ICM_PATH = "/v1/icm/messages"


def message_timestamp(row: dict, partition: str, where: str) -> int:
    timestamp = row["source_timestamp"] if row["source_timestamp"] is not None else row["destination_timestamp"]
    if timestamp is None:
        raise SourceDataError(BRIDGES.name, partition, "sourceTransaction.timestamp",
                              "and destinationTransaction.timestamp are both missing", where)
    return timestamp


def extract_bridges(client: AvaCloudClient, network: str, partition: str, fetched_at: int) -> Iterator[pa.RecordBatch]:
    start = int(dt.datetime.combine(dt.date.fromisoformat(partition), dt.time(), dt.timezone.utc).timestamp())
    end = start + 86_400
    for page_number, messages in enumerate(client.pages(ICM_PATH, "messages", query={"network": network})):
        rows, older = [], 0
        for position, message in enumerate(messages):
            where = f"page {page_number} item {position}"
            row = {**item_row(BRIDGES, partition, message, where), "fetched_at": fetched_at}
            row["message_timestamp"] = message_timestamp(row, partition, where)
            older += row["message_timestamp"] < start
            if start <= row["message_timestamp"] < end:
                rows.append(row)
        yield pa.RecordBatch.from_pylist(rows, schema=BRIDGES.arrow_schema)
        if messages and older == len(messages):  # the whole page predates the day: so does the rest
            return
