"""A lying or lagging provider against the whole daily path on the real local services: the devchain node
(anvil) behind a FAKE proxy that lies as load-balanced providers do (avax_assets_dev/local/lying_proxy.py;
no real node lies on demand), then Kafka (Tansu), the S3 lake (SeaweedFS) and ClickHouse (chDB). A lie
that does not stop fails the day in one line naming the block and the disagreement, and nothing of the day
is stored anywhere; a provider that recovers gives exactly the node's data. The live follower's step is
held to the same proof. A node newer than the declarations (fields no one declared) is warned of by a
check."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

import dagster as dg
import pytest

from avax_assets.catalogue import Catalogue, build_resources
from avax_assets.chain.assets import UNKNOWN_SOURCE_FIELDS
from avax_assets.chain.datasets import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.chain.proof import HashChain
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.rpc import JsonRpcClient
from avax_assets.core.days import day_block_range
from avax_assets.core.errors import ProviderInconsistency
from avax_assets.core.lake import Lake
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.lake import S3Settings
from avax_assets.live.follower import extract_step
from avax_assets.live.stream import LiveChain
from avax_assets.chain.resources import ChainRpcResource
from avax_assets.tokens.datasets import ERC20_TRANSFERS
from avax_assets.tokens.decode import TRANSFER
from avax_assets_dev.local.lying_proxy import NEW_FIELDS, LyingProxy
from avax_assets_tests.support import kafka_messages_of_run, materialization_of, rpc

DAY = "2024-06-02"
CHAIN = Catalogue().scope("chain")
STEP = ["blocks", "transactions", "logs", "clickhouse_blocks", "clickhouse_transactions", "clickhouse_logs"]
DATASETS = (BLOCKS, TRANSACTIONS, LOGS)
C_CHAIN = LiveChain(43114)  # the live path of the devchain's chain
KEY = "k3y-0f-the-provider"  # in the provider URL's path and query: never in a message


@dataclass(frozen=True)
class NodeDay:
    """The day as the node itself reports it, and the blocks the proxy lies about."""

    first: int
    last: int
    blocks: list[dict]
    logs: list[dict]
    target: int  # ≥ 2 transactions and logs, inside a chunk (not at its edges)
    foreign: int  # another block of the day with transactions and logs

    def rows(self, dataset) -> list[tuple]:
        if dataset is BLOCKS:
            return [(int(b["number"], 16), b["hash"]) for b in self.blocks]
        if dataset is TRANSACTIONS:
            return sorted((tx["hash"], int(tx["blockNumber"], 16), int(tx["transactionIndex"], 16))
                          for b in self.blocks for tx in b["transactions"])
        return sorted((int(log["blockNumber"], 16), int(log["logIndex"], 16), log["transactionHash"])
                      for log in self.logs)


COLUMNS = {BLOCKS.name: "block_number, block_hash", TRANSACTIONS.name: "transaction_hash, block_number, "
           "transaction_index", LOGS.name: "block_number, log_index, transaction_hash"}


@pytest.fixture(scope="module")
def node(stack, devchain, pipeline_env) -> NodeDay:
    first, last = devchain.blocks_by_day[DAY]
    url = stack.anvil.url
    blocks = [rpc(url, "eth_getBlockByNumber", [hex(n), True]) for n in range(first, last + 1)]
    logs = rpc(url, "eth_getLogs", [{"fromBlock": hex(first), "toBlock": hex(last)}])
    with_logs = {int(log["blockNumber"], 16) for log in logs}
    chunk = int(pipeline_env["AVAX_RPC_CHUNK_BLOCKS"])
    busy = [int(b["number"], 16) for b in blocks if len(b["transactions"]) >= 2 and int(b["number"], 16) in with_logs]
    target = next(n for n in busy if (n - first) % chunk not in (0, chunk - 1) and n not in (first, last))
    foreign = next(n for n in reversed(busy) if n != target)
    return NodeDay(first, last, blocks, logs, target, foreign)


@pytest.fixture
def proxy(stack):
    proxy = LyingProxy(stack.anvil.url)
    yield proxy
    proxy.close()


@dataclass
class Sinks:
    """A lake prefix and ClickHouse database of the test's own (the session's Kafka, read by run id), and
    resources whose provider is the proxy."""

    env: dict
    resources: dict

    def lake(self) -> Lake:
        return Lake(self.env["AVAX_LAKE_ROOT"], S3Settings(self.env["AVAX_S3_ENDPOINT_URL"],
                                                           self.env["AVAX_S3_ACCESS_KEY_ID"],
                                                           self.env["AVAX_S3_SECRET_ACCESS_KEY"]))

    def clickhouse(self, dataset, columns: str | None = None) -> list[tuple]:
        """The day's rows (`columns`, in their order; None: the count) in the test's database."""
        warehouse = self.resources["clickhouse"].warehouse()
        exists = warehouse.client.query("SELECT count() FROM system.tables WHERE database = {db:String} AND "
                                        "name = {table:String}", parameters={"db": warehouse.database,
                                                                             "table": dataset.table})
        if not exists.result_rows[0][0]:
            return []
        order = f" ORDER BY {columns}" if columns else ""
        rows = warehouse.client.query(f"SELECT {columns or 'count()'} FROM {warehouse.qualified(dataset.table)} "
                                      f"WHERE toDate(block_timestamp) = {{day:Date}}{order}",
                                      parameters={"day": DAY}).result_rows
        return [tuple(row) for row in rows]


@pytest.fixture
def sinks(pipeline_env, proxy) -> Sinks:
    tag = uuid.uuid4().hex[:8]
    env = {**pipeline_env, "AVAX_LAKE_ROOT": f"{pipeline_env['AVAX_LAKE_ROOT']}/lying-{tag}",
           "AVAX_CLICKHOUSE_DATABASE": f"lying_{tag}"}
    resources = build_resources(env)
    url = f"{proxy.url}/ext/bc/C/rpc?key={KEY}"
    resources["rpc"] = ChainRpcResource(**{**resources["rpc"].model_dump(), "url": url, "backoff_base_s": 0.01})
    with JsonRpcClient(RpcSettings(url=url)) as client:  # the day's range, found while the provider is honest
        day_block_range(ChainReader(client), dt.date.fromisoformat(DAY))
    return Sinks(env, resources)


def materialize(sinks: Sinks, selection: list[str] = STEP) -> dg.ExecuteInProcessResult:
    return dg.materialize(CHAIN, selection=selection, partition_key=DAY, resources=sinks.resources,
                          raise_on_error=False)


def failure(result: dg.ExecuteInProcessResult) -> str:
    """The message a person sees for the failed step: the innermost cause's, without its class name."""
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    error = event.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    return re.sub(r"^[\w.]+: ", "", error.message.strip())


def assert_nothing_stored(sinks: Sinks, result: dg.ExecuteInProcessResult, datasets=DATASETS) -> None:
    lake = sinks.lake()
    for dataset in datasets:
        assert not lake.fs.exists(lake.partition_path(dataset.lake_folder, DAY)), dataset.name
        assert kafka_messages_of_run(sinks.env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], dataset.topic, result.run_id) == []
        assert sinks.clickhouse(dataset) in ([], [(0,)]), dataset.name
    assert result.get_asset_materialization_events() == []


def assert_the_nodes_day(sinks: Sinks, result: dg.ExecuteInProcessResult, node: NodeDay) -> None:
    assert result.success, failure(result)
    lake = sinks.lake()
    for dataset in DATASETS:
        expected = node.rows(dataset)
        assert sinks.clickhouse(dataset, COLUMNS[dataset.name]) == sorted(expected), dataset.name
        assert lake.open_partition(dataset, DAY).num_rows == len(expected)
        keys = [m.key() for m in kafka_messages_of_run(sinks.env["AVAX_KAFKA_BOOTSTRAP_SERVERS"], dataset.topic,
                                                       result.run_id)]
        assert len(keys) == len(set(keys)) == len(expected), dataset.name


def assert_one_line_about(message: str, dataset: str, block: int, proxy: LyingProxy) -> None:
    assert message.startswith(f"dataset '{dataset}' partition {DAY}: block {block}: "), message
    assert message.endswith(f"(in each of 3 fetches from {proxy.url}; nothing of the partition was stored)")
    assert "\n" not in message and KEY not in message and "/ext/bc" not in message


def test_each_receipt_twice_fails_the_day_in_one_line_and_stores_nothing(node, proxy, sinks):
    proxy.lie("duplicate-receipts", node.target)
    failed = materialize(sinks)
    assert not failed.success
    message = failure(failed)
    assert_one_line_about(message, "transactions", node.target, proxy)
    assert "receipts for the" in message and "the receipt there is of" in message
    assert_nothing_stored(sinks, failed)
    proxy.honest()
    assert_the_nodes_day(sinks, materialize(sinks), node)


def test_a_foreign_blocks_receipts_fail_the_day_and_store_nothing(node, proxy, sinks):
    proxy.lie("foreign-receipts", node.target, foreign=node.foreign)
    failed = materialize(sinks)
    message = failure(failed)
    assert_one_line_about(message, "transactions", node.target, proxy)
    foreign_tx = next(b for b in node.blocks if int(b["number"], 16) == node.foreign)["transactions"][0]["hash"]
    assert f"transactionHash is {foreign_tx}, the block's transaction there is " in message
    assert_nothing_stored(sinks, failed)
    proxy.honest()
    assert_the_nodes_day(sinks, materialize(sinks), node)


def test_another_block_for_a_height_fails_the_day_and_stores_nothing(node, proxy, sinks):
    proxy.lie("other-block", node.target, foreign=node.foreign)
    failed = materialize(sinks)
    message = failure(failed)
    assert_one_line_about(message, "blocks", node.target, proxy)
    previous = node.blocks[node.target - node.first - 1]["hash"]
    assert f"but block {node.target - 1}'s hash is {previous}" in message
    assert_nothing_stored(sinks, failed)
    proxy.honest()
    assert_the_nodes_day(sinks, materialize(sinks), node)


def test_a_flapping_provider_is_fetched_again_and_the_day_equals_the_node(node, proxy, sinks):
    proxy.lie("other-block", node.target, foreign=node.foreign, times=2)
    result = materialize(sinks)
    assert_the_nodes_day(sinks, result, node)
    assert proxy.lies == 2
    for dataset in DATASETS:
        assert materialization_of(result, dataset.name).metadata["refetched_chunks"].value == 2


def test_a_lagging_backend_is_waited_out_and_the_day_equals_the_node(node, proxy, sinks):
    proxy.lie("lagging", node.target - 1, times=2)  # two answers from a backend whose receipts reach target-1
    result = materialize(sinks)
    assert_the_nodes_day(sinks, result, node)
    assert proxy.lies == 2
    assert materialization_of(result, BLOCKS.name).metadata["refetched_chunks"].value >= 1


def test_fields_no_declaration_knows_are_named_by_a_warning_check_and_the_day_is_stored(node, proxy, sinks):
    """A node newer than the declarations: a key in a header, a transaction, a receipt and a log that no
    column or declared key covers. The day is stored as the node's, and each dataset's `unknown_source_fields`
    check warns, naming its keys with how many objects carried each; the next day without them passes."""
    proxy.lie("new-fields", node.target)
    result = materialize(sinks)
    assert_the_nodes_day(sinks, result, node)
    expected = {BLOCKS.name: {f"block.{NEW_FIELDS['block']}": 1},
                TRANSACTIONS.name: {f"transaction.{NEW_FIELDS['transaction']}": 1,
                                    f"receipt.{NEW_FIELDS['receipt']}": 1},
                LOGS.name: {f"log.{NEW_FIELDS['log']}": 1}}
    assert unknown_field_checks(result) == {name: (False, unknown) for name, unknown in expected.items()}
    assert all(e.severity == dg.AssetCheckSeverity.WARN for e in result.get_asset_check_evaluations()
               if e.check_name == UNKNOWN_SOURCE_FIELDS)
    proxy.honest()
    assert unknown_field_checks(materialize(sinks)) == {name: (True, {}) for name in expected}


def unknown_field_checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, dict]]:
    """Per dataset, whether its `unknown_source_fields` check passed, and the keys it named."""
    return {e.asset_key.path[-1]: (e.passed, e.metadata["unknown_fields"].value)
            for e in result.get_asset_check_evaluations() if e.check_name == UNKNOWN_SOURCE_FIELDS}


def test_logs_and_their_erc20_transfers_refuse_a_foreign_blocks_logs(node, proxy, sinks):
    """`logs` alone (eth_getLogs) with another block's logs mixed in: the logs fail, so the transfers
    decoded from them are never made; after the provider recovers both are the node's. (Not loaded: their
    ClickHouse audits join the transactions, which this test does not extract.)"""
    selection = ["logs", "erc20_transfers"]
    proxy.lie("foreign-receipts", node.target, foreign=node.foreign)
    failed = materialize(sinks, selection)
    message = failure(failed)
    assert message.startswith(f"dataset 'logs' partition {DAY}: block ") and "(in each of 3 fetches" in message
    assert_nothing_stored(sinks, failed, (LOGS, ERC20_TRANSFERS))
    proxy.honest()
    result = materialize(sinks, selection)
    assert result.success, failure(result)
    transfers = sorted((int(log["blockNumber"], 16), int(log["logIndex"], 16)) for log in node.logs
                       if log["topics"][:1] == [TRANSFER] and len(log["topics"]) == 3)
    lake = sinks.lake()
    stored = lake.open_partition(ERC20_TRANSFERS, DAY).read().to_pylist()
    assert transfers and sorted((r["block_number"], r["log_index"]) for r in stored) == transfers
    stored = lake.open_partition(LOGS, DAY).read().to_pylist()
    assert sorted((r["block_number"], r["log_index"], r["transaction_hash"]) for r in stored) == node.rows(LOGS)


def test_the_live_followers_step_is_refused_while_the_provider_lies(node, proxy, stack):
    step = range(node.target - 2, node.target + 3)
    with JsonRpcClient(RpcSettings(url=proxy.url)) as client:
        reader = ChainReader(client)
        proxy.lie("duplicate-receipts", node.target)
        with pytest.raises(ProviderInconsistency, match=f"partition live blocks {step.start}..{step.stop - 1} of "
                                                        f"{C_CHAIN.label}: block {node.target}: .* receipts for the"):
            extract_step(reader, step, C_CHAIN)
        proxy.honest()
        elsewhere = HashChain(last_hash="0x" + "ee" * 32)  # the last step Kafka holds ended on another hash
        with pytest.raises(ProviderInconsistency, match=f"block {step.start}: parentHash is .*, but block "
                                                        f"{step.start - 1}'s hash was 0x(ee){{32}}"):
            extract_step(reader, step, C_CHAIN, chain=elsewhere)
        before = rpc(stack.anvil.url, "eth_getBlockByNumber", [hex(step.start - 1), False])["hash"]
        got = extract_step(reader, step, C_CHAIN, chain=HashChain(last_hash=before))
    with JsonRpcClient(RpcSettings(url=stack.anvil.url)) as client:
        direct = extract_step(ChainReader(client), step, C_CHAIN)
    assert [(d.name, b.to_pylist()) for d, b in got] == [(d.name, b.to_pylist()) for d, b in direct]
