"""Transfer decoding: exact values, batch explosion, and malformed logs counted, never mis-decoded."""

import datetime as dt

import dagster as dg
import pyarrow as pa
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.chain.datasets import LOGS
from avax_assets.core.spool import PartitionSpool
from avax_assets.tokens.decode import EVENTS, TRANSFER, TRANSFER_BATCH, TRANSFER_SINGLE

DECODERS = {event.dataset.name: event for event in EVENTS}

ALICE = "0x" + "a" * 40
BOB = "0x" + "b" * 40
TOKEN = "0x" + "c" * 40


def topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def word(n: int) -> str:
    return format(n, "064x")


def log(index: int, topics: list[str], data: str = "0x") -> dict:
    padded = topics + [None] * (4 - len(topics))
    return {"block_number": 7, "block_timestamp": 1717300000, "block_hash": "0x" + "1" * 64,
            "transaction_hash": "0x" + "2" * 64, "transaction_index": 0, "log_index": index, "address": TOKEN,
            "topic0": padded[0], "topic1": padded[1], "topic2": padded[2], "topic3": padded[3], "data": data}


def batch(*logs: dict) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(list(logs), schema=LOGS.arrow_schema)


def test_erc20_amount_is_exact_above_2_to_the_64():
    decoded = DECODERS["erc20_transfers"](batch(log(0, [TRANSFER, topic(ALICE), topic(BOB)], "0x" + word(2**200 + 1))))
    assert decoded.malformed == []
    row = decoded.batch.to_pylist()[0]
    assert (row["from_address"], row["to_address"], row["value"]) == (ALICE, BOB, str(2**200 + 1))


def test_erc721_token_id_comes_from_topic3():
    token_id = "0x" + word(2**250)
    decoded = DECODERS["erc721_transfers"](batch(log(0, [TRANSFER, topic(ALICE), topic(BOB), token_id])))
    assert decoded.batch.column("token_id").to_pylist() == [str(2**250)]
    as_erc20 = DECODERS["erc20_transfers"](batch(log(0, [TRANSFER, topic(ALICE), topic(BOB), token_id])))
    assert as_erc20.batch.num_rows == 0


def test_erc1155_batch_is_exploded_with_positions_and_operator():
    ids, values = [1, 2**200, 3], [10, 20, 2**255]
    data = ("0x" + word(64) + word(64 + 32 * 4) + word(3) + "".join(map(word, ids))
            + word(3) + "".join(map(word, values)))
    single = "0x" + word(5) + word(6)
    decoded = DECODERS["erc1155_transfers"](batch(
        log(0, [TRANSFER_BATCH, topic(ALICE), topic(ALICE), topic(BOB)], data),
        log(1, [TRANSFER_SINGLE, topic(BOB), topic(ALICE), topic(BOB)], single)))
    rows = decoded.batch.to_pylist()
    assert [(r["log_index"], r["batch_index"], r["token_id"], r["value"], r["is_batch"]) for r in rows] == [
        (0, 0, "1", "10", 1), (0, 1, str(2**200), "20", 1), (0, 2, "3", str(2**255), 1), (1, 0, "5", "6", 0)]
    assert rows[3]["operator"] == BOB


@pytest.mark.parametrize("dataset, bad, reason", [
    ("erc20_transfers", log(3, [TRANSFER, topic(ALICE), topic(BOB)], "0x" + "00" * 16), "not whole 32-byte words"),
    ("erc20_transfers", log(3, [TRANSFER, topic(ALICE)], "0x" + word(1)), "fits neither"),
    ("erc20_transfers", log(3, [TRANSFER, "0x" + "f" * 64, topic(BOB)], "0x" + word(1)), "not an address"),
    ("erc721_transfers", log(3, [TRANSFER, topic(ALICE), topic(BOB), "0x" + word(1)], "0x" + word(9)),
     "ERC-20/721 clash"),
    ("erc1155_transfers", log(3, [TRANSFER_SINGLE, topic(ALICE), topic(ALICE), topic(BOB)], "0x" + word(1)), "2 words"),
    ("erc1155_transfers", log(3, [TRANSFER_BATCH, topic(ALICE), topic(ALICE), topic(BOB)],
                                "0x" + word(64) + word(9999) + word(0)), "out of range"),
    ("erc1155_transfers", log(3, [TRANSFER_BATCH, topic(ALICE), topic(ALICE), topic(BOB)],
                                "0x" + word(64) + word(128) + word(1) + word(1) + word(2) + word(1) + word(1)),
     "1 ids but 2 values"),
])
def test_malformed_logs_are_counted_not_decoded(dataset, bad, reason):
    good = log(1, [TRANSFER, topic(ALICE), topic(BOB)], "0x" + word(1)) if dataset == "erc20_transfers" else \
        log(1, [TRANSFER, topic(ALICE), topic(BOB), "0x" + word(4)]) if dataset == "erc721_transfers" else \
        log(1, [TRANSFER_SINGLE, topic(ALICE), topic(ALICE), topic(BOB)], "0x" + word(1) + word(1))
    decoded = DECODERS[dataset](batch(good, bad, log(2, ["0x" + "9" * 64], "0x")))
    assert decoded.batch.column("log_index").to_pylist() == [1]
    assert [(m.log_index, reason in m.reason) for m in decoded.malformed] == [(3, True)]


def test_malformed_logs_fail_the_check_and_show_in_metadata(resources, lake):
    """A crafted logs partition in the lake (a day the devchain does not have) decoded by the real asset."""
    day = "2024-05-15"
    stamp = int(dt.datetime(2024, 5, 15, 12, tzinfo=dt.timezone.utc).timestamp())
    rows = [log(1, [TRANSFER, topic(ALICE), topic(BOB)], "0x" + word(5)),
            log(2, [TRANSFER, topic(ALICE), topic(BOB)], "0x" + "00" * 31)]
    with PartitionSpool(LOGS, day) as spool:
        spool.write(pa.RecordBatch.from_pylist([r | {"block_timestamp": stamp} for r in rows],
                                               schema=LOGS.arrow_schema))
    lake.put_atomic(spool.result.path, LOGS.lake_folder, day)
    spool.result.discard()
    result = dg.materialize(Catalogue().scope("chain"), selection=["erc20_transfers"], partition_key=day,
                            resources=resources)
    materialization = result.asset_materializations_for_node("erc20_transfers")[0]
    metadata = materialization.metadata
    assert metadata["malformed_logs"].value == 1 and metadata["dagster/row_count"].value == 1
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "no_malformed_logs" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert "not whole 32-byte words (31 bytes)" in check.metadata["samples"].value
