"""Bridges: ICM (Teleporter) messages, declared and extracted for one UTC day. The list is newest first with
no time filter: page back until a whole page is older than the day, keep only the day's messages."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from avax_assets.avacloud.client import ApiPath, AvaCloudClient
from avax_assets.core.days import day_bounds
from avax_assets.core.errors import SourceDataError
from avax_assets.core.items import item_row
from avax_assets.core.schema import BOOL, TEXT, TIMESTAMP, U256, Column, Dataset

ICM_PATH = ApiPath("/v1/icm/messages", cost=20)

BRIDGES = Dataset(
    name="bridges",
    topic="avalanche.bridges",
    description="ICM (Teleporter) messages by the UTC day of their source transaction (or of their delivery "
                "when the source is not indexed).",
    key=("message_id",),
    partition_column="message_timestamp",
    block_column=None,
    columns=(
        Column("message_timestamp", TIMESTAMP, description="source tx time, else destination tx time"),
        Column("message_id", TEXT, source="messageId"),
        Column("status", TEXT, source="status"),
        Column("icm_contract_address", TEXT, source="icmContractAddress"),
        Column("source_blockchain_id", TEXT, source="sourceBlockchainId"),
        Column("destination_blockchain_id", TEXT, source="destinationBlockchainId"),
        Column("source_evm_chain_id", TEXT, source="sourceEvmChainId"),
        Column("destination_evm_chain_id", TEXT, source="destinationEvmChainId"),
        Column("message_nonce", U256, source="messageNonce"),
        Column("from_address", TEXT, source="from"),
        Column("to_address", TEXT, source="to"),
        Column("message_executed", BOOL, source="messageExecuted"),
        Column("receipt_delivered", BOOL, source="receiptDelivered"),
        Column("source_tx_hash", TEXT, nullable=True, source="sourceTransaction.txHash"),
        Column("source_timestamp", TIMESTAMP, nullable=True, source="sourceTransaction.timestamp"),
        Column("source_gas_spent", U256, nullable=True, source="sourceTransaction.gasSpent"),
        Column("destination_tx_hash", TEXT, nullable=True, source="destinationTransaction.txHash"),
        Column("destination_timestamp", TIMESTAMP, nullable=True, source="destinationTransaction.timestamp"),
        Column("destination_gas_spent", U256, nullable=True, source="destinationTransaction.gasSpent"),
        Column("reward_token_address", TEXT, source="rewardDetails.address"),
        Column("reward_value", U256, source="rewardDetails.value"),
        Column("fetched_at", TIMESTAMP),
    ),
)


def message_timestamp(row: dict, partition: str, where: str) -> int:
    timestamp = row["source_timestamp"] if row["source_timestamp"] is not None else row["destination_timestamp"]
    if timestamp is None:
        raise SourceDataError(BRIDGES.name, partition, "sourceTransaction.timestamp",
                              "and destinationTransaction.timestamp are both missing", where)
    return timestamp


def extract_bridges(client: AvaCloudClient, network: str, partition: str, fetched_at: int) -> Iterator[pa.RecordBatch]:
    start, end = day_bounds(partition)
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
