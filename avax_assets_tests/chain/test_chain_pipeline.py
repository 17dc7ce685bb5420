"""One devchain day end to end on the real services: JSON-RPC (anvil) → Kafka (Tansu) → Parquet on
S3 (SeaweedFS) → ClickHouse (chDB), checked against what the node itself reports."""

import hashlib
import json
from pathlib import Path

import dagster as dg
import pytest

from avax_assets.catalogue import Catalogue
from avax_assets.chain.datasets import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.core.schema import TIMESTAMP, U256
from avax_assets.core.errors import SinkUnavailable
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.resources import ChainRpcResource
from avax_assets.orchestration.resources import ParquetLakeIOManager
from avax_assets_tests.support import FaultyNodeProxy, kafka_messages_of_run, materialization_of, rpc

chain_assets = Catalogue().scope("chain")

DAY = "2024-06-02"


@pytest.fixture(scope="module")
def node_day(stack, devchain):
    """The day as the node reports it, read directly (not through the code under test)."""
    first, last = devchain.blocks_by_day[DAY]
    url = stack.anvil.url
    blocks = [rpc(url, "eth_getBlockByNumber", [hex(n), True]) for n in range(first, last + 1)]
    receipts = {r["transactionHash"]: r
                for n in range(first, last + 1) for r in rpc(url, "eth_getBlockReceipts", [hex(n)])}
    logs = rpc(url, "eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last)}])
    return {"blocks": blocks, "receipts": receipts, "logs": logs}


@pytest.fixture(scope="module")
def first_run(resources, pipeline_env, devchain):
    result = dg.materialize(chain_assets, partition_key=DAY, resources=resources)
    assert result.success
    return result


@pytest.fixture(scope="module")
def client(resources, first_run):
    return resources["clickhouse"].warehouse().client


def ch_rows(client, dataset, columns=None):
    """Partition rows as plain Python values: uint256 as decimal strings, timestamps as Unix seconds."""
    selected = []
    for column in [dataset.column(name) for name in columns] if columns else dataset.columns:
        if column.type is U256:
            selected.append(f"toString({column.name})" if not column.nullable else
                            f"if(isNull({column.name}), NULL, toString({column.name}))")
        elif column.type is TIMESTAMP:
            selected.append(f"toUnixTimestamp({column.name})")
        else:
            selected.append(column.name)
    order = ", ".join(dataset.key)
    sql = (f"SELECT {', '.join(selected)} FROM avax.{dataset.table} "
           f"WHERE toDate(block_timestamp) = {{day:Date}} ORDER BY {order}")
    return [tuple(r) for r in client.query(sql, parameters={"day": DAY}).result_rows]


def parquet_rows(lake, dataset):
    table = lake.open_partition(dataset, DAY).read()
    timestamps = [c.name for c in dataset.columns if c.type is TIMESTAMP]
    rows = table.to_pylist()
    for row in rows:
        for name in timestamps:
            row[name] = int(row[name].timestamp())
    rows.sort(key=lambda r: tuple(r[k] for k in dataset.key))
    return [tuple(r.values()) for r in rows]


def test_clickhouse_blocks_equal_the_node(client, node_day):
    expected = [(int(b["number"], 16), b["hash"], len(b["transactions"]), int(b["gasUsed"], 16))
                for b in node_day["blocks"]]
    assert ch_rows(client, BLOCKS, ["block_number", "block_hash", "transaction_count", "gas_used"]) == expected


def test_clickhouse_transactions_equal_the_node_with_exact_uint256(client, node_day):
    expected = []
    for block in node_day["blocks"]:
        for tx in block["transactions"]:
            receipt = node_day["receipts"][tx["hash"]]
            fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
            expected.append((tx["hash"], str(int(tx["value"], 16)), int(receipt["status"], 16), str(fee)))
    got = ch_rows(client, TRANSACTIONS, ["transaction_hash", "value", "status", "transaction_fee"])
    assert got == sorted(expected)
    assert any(int(value) > 2**64 for _, value, _, _ in got), "the devchain day should hold values above 2^64"
    assert {status for *_, status, _ in got} == {0, 1}, "the day should hold reverted and successful transactions"


def test_clickhouse_logs_equal_the_node(client, node_day):
    expected = sorted((int(log["blockNumber"], 16), int(log["logIndex"], 16), log["address"], log["topics"][0],
                       log["data"]) for log in node_day["logs"])
    assert len(expected) > 0
    assert ch_rows(client, LOGS, ["block_number", "log_index", "address", "topic0", "data"]) == expected


def test_kafka_holds_one_message_per_record_with_natural_keys(first_run, client, pipeline_env):
    bootstrap = pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"]
    for dataset in (BLOCKS, TRANSACTIONS, LOGS):
        messages = kafka_messages_of_run(bootstrap, dataset.topic, first_run.run_id)
        keys = [m.key().decode() for m in messages]
        expected_keys = [":".join(str(v) for v in row) for row in ch_rows(client, dataset, dataset.key)]
        assert sorted(keys) == sorted(expected_keys), dataset.name
        assert len(set(keys)) == len(keys)
        assert all(dict(m.headers()) == {"dataset": dataset.name.encode(), "partition": DAY.encode(),
                                         "run_id": first_run.run_id.encode()} for m in messages)
        record = json.loads(messages[0].value())
        assert set(record) == set(dataset.column_names)
    big = [json.loads(m.value()) for m in kafka_messages_of_run(bootstrap, TRANSACTIONS.topic, first_run.run_id)]
    assert any(isinstance(r["value"], str) and int(r["value"]) > 2**64 for r in big)


def test_parquet_objects_at_expected_paths_read_back_equal(first_run, lake, client, pipeline_env):
    bucket = pipeline_env["AVAX_LAKE_ROOT"]
    for dataset in (BLOCKS, TRANSACTIONS, LOGS):
        path = f"{bucket}/{dataset.name}/chain_id=43114/date={DAY}/{dataset.name}.parquet"
        assert materialization_of(first_run, dataset.name).metadata["parquet_path"].value == path
        assert lake.fs.exists(path)
        assert parquet_rows(lake, dataset) == ch_rows(client, dataset), dataset.name


def snapshot(lake, client):
    state = {}
    for dataset in (BLOCKS, TRANSACTIONS, LOGS):
        rows = client.query(f"SELECT count(), sum(cityHash64(tuple(*))), count() - uniqExact({', '.join(dataset.key)}) "
                            f"FROM avax.{dataset.table} WHERE toDate(block_timestamp) = {{day:Date}}",
                            parameters={"day": DAY}).result_rows[0]
        parquet = hashlib.sha256(lake.fs.cat(lake.partition_path(dataset.lake_folder, DAY))).hexdigest()
        state[dataset.name] = (tuple(rows), parquet)
    return state


def test_materializing_again_changes_nothing(first_run, resources, lake, client, pipeline_env):
    before = snapshot(lake, client)
    assert all(dups == 0 for (count, _, dups), _ in before.values())
    again = dg.materialize(chain_assets, partition_key=DAY, resources=resources)
    assert again.success
    assert snapshot(lake, client) == before
    for dataset in (BLOCKS, TRANSACTIONS, LOGS):  # Kafka already holds this content: nothing is republished
        metadata = materialization_of(again, dataset.name).metadata
        assert metadata["kafka_messages"].value == 0
        assert metadata["kafka_unchanged_since_run"].value == first_run.run_id
        assert kafka_messages_of_run(pipeline_env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], dataset.topic, again.run_id) == []


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return "\n".join(e.step_failure_data.error.to_string() for e in failures)


@pytest.fixture
def proxy(stack):
    proxy = FaultyNodeProxy(stack.anvil.url)
    yield proxy
    proxy.close()


def test_malformed_rpc_payload_fails_clearly_and_keeps_stored_data(first_run, resources, lake, client, proxy):
    before = snapshot(lake, client)
    proxy.mode = "corrupt"
    faulty = {**resources, "rpc": ChainRpcResource(url=proxy.url, chunk_blocks=7)}
    result = dg.materialize(chain_assets, partition_key=DAY, resources=faulty, raise_on_error=False)
    assert not result.success
    assert ("dataset 'transactions' partition 2024-06-02: field 'value' is not a hex quantity: '12 AVAX'"
            in failure_text(result))
    assert snapshot(lake, client) == before


def test_an_rpc_that_keeps_failing_ends_in_a_clear_error_and_keeps_stored_data(first_run, resources, lake, client,
                                                                             proxy):
    before = snapshot(lake, client)
    proxy.mode = "fail"
    faulty = {**resources, "rpc": ChainRpcResource(url=proxy.url, max_attempts=3, backoff_base_s=0.01)}
    result = dg.materialize(chain_assets, selection=["blocks", "clickhouse_blocks"], partition_key=DAY,
                            resources=faulty, raise_on_error=False)
    assert not result.success
    assert "eth_chainId at http://127.0.0.1" in failure_text(result)
    assert "gave up after 3 attempts (last: HTTP 503)" in failure_text(result)
    assert proxy.requests == 3
    assert snapshot(lake, client) == before


def test_blocks_transactions_and_logs_come_from_one_pass_and_equal_each_alone(first_run, resources, lake, client,
                                                                             proxy):
    """One step reads full blocks and receipts once for all three datasets (no eth_getLogs pass); each
    dataset materialized on its own, by its own calls, stores the very same objects and rows."""
    before = snapshot(lake, client)
    through = {**resources, "rpc": ChainRpcResource(**{**resources["rpc"].model_dump(), "url": proxy.url})}
    together = ["blocks", "transactions", "logs", "clickhouse_blocks", "clickhouse_transactions", "clickhouse_logs"]
    assert dg.materialize(chain_assets, selection=together, partition_key=DAY, resources=through).success
    assert proxy.methods["eth_getBlockReceipts"] > 0 and proxy.methods["eth_getLogs"] == 0
    assert snapshot(lake, client) == before
    proxy.methods.clear()
    assert dg.materialize(chain_assets, selection=["logs", "clickhouse_logs"], partition_key=DAY,
                          resources=through).success
    assert proxy.methods["eth_getLogs"] > 0 and proxy.methods["eth_getBlockReceipts"] == 0
    assert snapshot(lake, client) == before


class FailsStoringTransactions(ParquetLakeIOManager):
    """FAKE, on purpose: the lake refuses the step's second output, a fault no real S3 gives on cue."""

    def handle_output(self, context, obj):
        if context.asset_key.path[-1] == TRANSACTIONS.name:
            for spooled in obj.values():
                spooled.discard()
            raise SinkUnavailable("the lake went away while storing transactions")
        super().handle_output(context, obj)


def test_a_step_failing_to_store_one_dataset_leaves_no_spool_of_the_others(first_run, resources, lake, client):
    before = snapshot(lake, client)
    lake_io = resources["lake_io_manager"]
    failing = FailsStoringTransactions(**{name: getattr(lake_io, name) for name in ParquetLakeIOManager.model_fields})
    result = dg.materialize(chain_assets, selection=["blocks", "transactions", "logs"], partition_key=DAY,
                            resources={**resources, "lake_io_manager": failing}, raise_on_error=False)
    assert not result.success and "the lake went away while storing transactions" in failure_text(result)
    assert [e.asset_key.path[-1] for e in result.get_asset_materialization_events()] == ["blocks"]
    assert list(Path(lake_io.spool_dir).glob("*.parquet")) == []
    assert snapshot(lake, client) == before


def serving_a_transaction_twice(full_blocks_with_receipts, number: int):
    """FAKE, on purpose: a node that serves block `number`'s first transaction twice, with its receipt (the
    duplicate receipts a provider once served); no real node does it on demand."""
    def lying(self, blocks):
        full, receipts = full_blocks_with_receipts(self, blocks)
        if number in blocks:
            before = sum(len(block["transactions"]) for block in full[:number - blocks.start])
            full[number - blocks.start]["transactions"].insert(1, full[number - blocks.start]["transactions"][0])
            receipts.insert(before + 1, receipts[before])
        return full, receipts

    return lying


def test_a_wrong_day_over_a_good_one_is_refused_before_the_swap(first_run, resources, lake, client, node_day,
                                                               monkeypatch):
    """The day loaded well before; a node now serves one transaction twice. The load audits the staged day,
    refuses it in one line naming the audits and the keys, and the table and the lake object keep the good day.
    FAKE, on purpose: the earlier lines of defence (the chunk's proof, the spool's key check) are switched off,
    so that the last one, the load's audits, is seen to hold on its own."""
    from avax_assets.chain import extractors
    from avax_assets.core import spool

    before = snapshot(lake, client)
    block = next(b for b in node_day["blocks"] if b["transactions"])
    number, twice = int(block["number"], 16), block["transactions"][0]["hash"]
    monkeypatch.setattr(ChainReader, "full_blocks_with_receipts",
                        serving_a_transaction_twice(ChainReader.full_blocks_with_receipts, number))
    monkeypatch.setattr(extractors, "prove_receipts", lambda *args: None)
    monkeypatch.setattr(spool.PartitionKeys, "prove", lambda self, path: None)
    wrong = dg.materialize(chain_assets, selection=["transactions", "clickhouse_transactions"], partition_key=DAY,
                           resources=resources, raise_on_error=False)
    assert not wrong.success
    message = failure_text(wrong).splitlines()[0]
    count = len(block["transactions"])
    assert (f"avax.transactions refused before the swap (the table and the lake object keep the partition they had): "
            f"{DAY}: unique_keys (keys repeated (1 extra rows), e.g. transaction_hash {twice}); parent_counts_match "
            f"(1 blocks rows whose transaction_count differs from their transactions rows, e.g. block_number {number}: "
            f"{count} counted, {count + 1} found); the refused object stays at ") in message
    checks = {e.check_name: e for e in wrong.get_asset_check_evaluations()}
    assert not checks["unique_keys"].passed and checks["rows_match_parquet"].passed
    assert checks["unique_keys"].metadata["duplicate_keys"].value == 1
    assert snapshot(lake, client) == before  # the good rows still queried, the object byte for byte
    assert not [t for t in client.query("SHOW TABLES FROM avax").result_rows if "__staging_" in t[0]]
    refused = message.split("the refused object stays at ")[1].strip()
    assert lake.fs.exists(refused)

    monkeypatch.undo()
    assert dg.materialize(chain_assets, selection=["transactions", "clickhouse_transactions"], partition_key=DAY,
                          resources=resources).success
    assert snapshot(lake, client) == before
    folder = lake.partition_path(TRANSACTIONS.lake_folder, DAY).rsplit("/", 1)[0]
    stored = sorted(p.rsplit("/", 1)[1] for p in lake.fs.ls(folder, refresh=True))
    assert stored == ["_published.json", "transactions.parquet"]
