"""Benchmark the chain pipeline stage by stage against raw baselines, on a larger devchain.

Each stage runs our code and a raw baseline doing the same work on the same data, side by side in
one run, so the ratio (ours / baseline) is meaningful on any machine:

  extract     ours: batched JSON-RPC + strict decoding + Parquet spool   baseline: the same RPC calls, raw
  kafka       ours: KafkaPublisher (JSON encode + idempotent produce)    baseline: plain idempotent producer, values
                                                                         pre-encoded (ratio = our encoding cost)
  parquet     ours: spool → atomic put to S3                             baseline: pq.write_table straight to S3
  clickhouse  ours: staging table + REPLACE PARTITION, streamed batches  baseline: INSERT … SELECT FROM s3()

  decode      ours: token transfers decoded from the stored logs partition (no raw baseline)

With --ethereum-etl BIN (an `ethereumetl` executable, e.g. in a Python 3.10 venv: ethereum-etl 2.4
does not import on 3.11), ethereum-etl exports the same blocks in the same run: blocks+transactions,
receipts+logs and geth traces, compared with our extraction of the same data.

    uv run python benchmarks/chain_pipeline.py [--blocks-per-day 1000 --max-txs 8] [--ethereum-etl BIN]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from confluent_kafka import Producer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avax_assets.chain.datasets import LOGS  # noqa: E402
from avax_assets.chain.extract import EXTRACTIONS, block_batches  # noqa: E402
from avax_assets.chain.reader import ChainReader  # noqa: E402
from avax_assets.chain.rpc import JsonRpcClient  # noqa: E402
from avax_assets.core.clickhouse import ClickHouseWarehouse, chdb_client, create_table_sql  # noqa: E402
from avax_assets.core.days import BlockRange, day_block_range  # noqa: E402
from avax_assets.core.kafka import KafkaPublisher, encode_batch  # noqa: E402
from avax_assets.core.lake import Lake  # noqa: E402
from avax_assets.core.settings import RpcSettings, S3Settings  # noqa: E402
from avax_assets.core.spool import spool_batches  # noqa: E402
from avax_assets.tokens.decode import EVENTS  # noqa: E402
from avax_assets_dev.devchain.generator import DevchainSpec  # noqa: E402
from avax_assets_dev.local.services import LocalStack  # noqa: E402


def spool_chain_partition(reader, extraction, day, blocks, chunk_blocks):
    return spool_batches(extraction.dataset, day, block_batches(reader, extraction.dataset, day, blocks,
                                                                extraction.rpc, chunk_blocks))

HOME = REPO / ".avax-assets" / "bench"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def raw_rpc(url: str, dataset: str, first: int, last: int, batch: int, concurrency: int, chunk: int) -> int:
    """The RPC traffic of one extraction, with no decoding: what the node and the wire cost."""
    def post(calls):
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        return http.post(url, json=body).json()

    def calls_for(blocks: range) -> list:
        if dataset == "blocks":
            return [("eth_getBlockByNumber", [hex(n), False]) for n in blocks]
        if dataset == "transactions":
            return [("eth_getBlockByNumber", [hex(n), True]) for n in blocks] + \
                   [("eth_getBlockReceipts", [hex(n)]) for n in blocks]
        if dataset == "internal_transactions":
            return [("eth_getBlockByNumber", [hex(n), False]) for n in blocks] + \
                   [("debug_traceBlockByNumber", [hex(n), {"tracer": "callTracer"}]) for n in blocks] + \
                   [("eth_getBlockReceipts", [hex(n)]) for n in blocks]
        return [("eth_getBlockByNumber", [hex(n), False]) for n in blocks] + \
               [("eth_getLogs", [{"fromBlock": hex(blocks.start), "toBlock": hex(blocks.stop - 1)}])]

    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(concurrency) as pool:
        requests = []
        for start in range(first, last + 1, chunk):
            calls = calls_for(range(start, min(start + chunk, last + 1)))
            requests += [calls[i:i + batch] for i in range(0, len(calls), batch)]
        return sum(len(r) for r in pool.map(post, requests))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks-per-day", type=int, default=1000)
    parser.add_argument("--max-txs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--chunk-blocks", type=int, default=200)
    parser.add_argument("--ethereum-etl", help="path to an ethereumetl executable to compare extraction with")
    args = parser.parse_args()

    stack = LocalStack(HOME, kafka_port=29092, s3_port=38333, anvil_port=28545)
    stack.up()
    spec = DevchainSpec(seed=3, days=1, blocks_per_day=args.blocks_per_day, max_txs_per_block=args.max_txs)
    (summary, generate_s) = timed(lambda: stack.devchain(spec))
    day = spec.start.isoformat()
    print(f"devchain: {summary.latest_block + 1} blocks, {summary.transactions} txs (ready in {generate_s:.1f}s)")

    creds = stack.s3.credentials()
    s3 = S3Settings(stack.s3.endpoint, creds["access_key_id"], creds["secret_access_key"])
    lake = Lake("s3://avax-bench", s3)
    kafka = KafkaPublisher({"bootstrap.servers": f"127.0.0.1:{stack.kafka.port}"})
    warehouse = ClickHouseWarehouse(chdb_client(str(HOME / "chdb")), "bench")
    settings = RpcSettings(stack.anvil.url, batch_size=args.batch_size, concurrency=args.concurrency)
    results = []

    with JsonRpcClient(settings) as client:
        reader = ChainReader(client)
        blocks = day_block_range(reader, spec.start)
        warm_up(reader, lake, kafka, warehouse, day, blocks)
        for extraction in EXTRACTIONS:
            dataset = extraction.dataset
            spooled, extract_s = timed(lambda: spool_chain_partition(reader, extraction, day, blocks,
                                                                     args.chunk_blocks))
            rows = spooled.rows
            _, raw_extract_s = timed(lambda: raw_rpc(stack.anvil.url, dataset.name, blocks.first, blocks.last,
                                                     args.batch_size, args.concurrency, args.chunk_blocks))
            mem_extract = peak_rss_mb()

            _, kafka_s = timed(lambda: kafka.publish(dataset, day, spooled.iter_batches(), "bench"))
            encoded = [encode_batch(dataset, b) for b in spooled.iter_batches()]
            _, raw_kafka_s = timed(lambda: plain_produce(stack.kafka.port, dataset.topic + ".raw", encoded))

            table = pa.Table.from_batches(list(spooled.iter_batches()), schema=dataset.arrow_schema)
            _, parquet_s = timed(lambda: lake.put_atomic(spooled.path, dataset.name, day))
            raw_path = f"avax-bench/raw/{dataset.name}.parquet"
            _, raw_parquet_s = timed(lambda: pq.write_table(table, raw_path, filesystem=lake.fs, compression="zstd"))
            size_mb = spooled.path.stat().st_size / 1e6
            spooled.discard()

            stored = lake.open_partition(dataset, day)
            _, ch_s = timed(lambda: warehouse.replace_partition(dataset, spec.start, stored.iter_batches()))
            _, raw_ch_s = timed(lambda: raw_clickhouse(warehouse, dataset, stack.s3.endpoint, raw_path, creds))
            results.append({
                "dataset": dataset.name, "blocks": blocks.count, "rows": rows, "parquet_mb": round(size_mb, 2),
                "stages": {
                    "extract": (extract_s, raw_extract_s), "kafka": (kafka_s, raw_kafka_s),
                    "parquet": (parquet_s, raw_parquet_s), "clickhouse": (ch_s, raw_ch_s),
                },
                "peak_rss_mb_after_extract": round(mem_extract, 1),
            })
        for decode in EVENTS:
            dataset = decode.dataset
            logs = lake.open_partition(LOGS, day)
            spooled, decode_s = timed(lambda: spool_batches(dataset, day, (decode(b).batch for b in logs.iter_batches())))
            _, kafka_s = timed(lambda: kafka.publish(dataset, day, spooled.iter_batches(), "bench"))
            _, parquet_s = timed(lambda: lake.put_atomic(spooled.path, dataset.name, day))
            _, ch_s = timed(lambda: warehouse.replace_partition(dataset, spec.start,
                                                                lake.open_partition(dataset, day).iter_batches()))
            results.append({"dataset": dataset.name, "blocks": blocks.count, "rows": spooled.rows,
                            "stages": {"decode": (decode_s, None), "kafka": (kafka_s, None),
                                       "parquet": (parquet_s, None), "clickhouse": (ch_s, None)}})
            spooled.discard()
    report(results, peak_rss_mb())
    if args.ethereum_etl:
        compare_ethereum_etl(args, stack.anvil.url, blocks, results)


def compare_ethereum_etl(args, url: str, blocks, results: list[dict]) -> None:
    """ethereum-etl over the same blocks, same batch size and workers, next to our extract stage."""
    import subprocess
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="etl-"))
    common = ["--provider-uri", url, "--batch-size", str(args.batch_size), "--max-workers", str(args.concurrency)]
    span = ["--start-block", str(blocks.first), "--end-block", str(blocks.last)]

    def run(*argv: str) -> float:
        started = time.perf_counter()
        subprocess.run([args.ethereum_etl, *argv], check=True, capture_output=True)
        return time.perf_counter() - started

    blocks_txs = run("export_blocks_and_transactions", *span, *common,
                     "--blocks-output", str(out / "blocks.csv"), "--transactions-output", str(out / "txs.csv"))
    run("extract_csv_column", "--input", str(out / "txs.csv"), "--column", "hash", "--output", str(out / "hashes.txt"))
    receipts_logs = run("export_receipts_and_logs", "--transaction-hashes", str(out / "hashes.txt"), *common,
                        "--receipts-output", str(out / "receipts.csv"), "--logs-output", str(out / "logs.json"))
    traces = run("export_geth_traces", *span, *common, "--output", str(out / "geth_traces.json"))
    ours = {r["dataset"]: r["stages"]["extract"][0] for r in results if "extract" in r["stages"]}
    print(f"\nethereum-etl vs ours over the same {blocks.count} blocks (blocks/s; ethereum-etl includes its ~1 s start-up)")
    rows = [("blocks + transactions + receipts + logs", blocks_txs + receipts_logs,
             ours["blocks"] + ours["transactions"] + ours["logs"]),
            ("call traces", traces, ours["internal_transactions"])]
    for label, etl_s, our_s in rows:
        print(f"  {label:42}ethereum-etl {blocks.count / etl_s:8.0f}   ours {blocks.count / our_s:8.0f}   "
              f"ours/etl time {our_s / etl_s:5.2f}")


def warm_up(reader, lake, kafka, warehouse, day, blocks) -> None:
    """One tiny pass through every stage first, so imports, connections and bucket/table creation
    are not charged to whichever dataset happens to run first."""
    tiny = BlockRange(blocks.first, min(blocks.first + 2, blocks.last))
    for extraction in EXTRACTIONS[:3]:  # blocks, transactions, logs
        dataset = extraction.dataset
        spooled = spool_chain_partition(reader, extraction, day, tiny, 200)
        kafka.publish(dataset, day, spooled.iter_batches(), "warm-up")
        lake.put_atomic(spooled.path, dataset.name, day)
        warehouse.replace_partition(dataset, dt.date.fromisoformat(day), lake.open_partition(dataset, day).iter_batches())
        spooled.discard()


def plain_produce(port: int, topic: str, encoded: list) -> None:
    producer = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "linger.ms": 20, "compression.type": "lz4",
                         "enable.idempotence": True, "acks": "all"})
    for keys, values in encoded:
        for key, value in zip(keys, values):
            while True:
                try:
                    producer.produce(topic, value=value, key=key)
                    break
                except BufferError:
                    producer.poll(0.2)
        producer.poll(0)
    assert producer.flush(60) == 0


def raw_clickhouse(warehouse: ClickHouseWarehouse, dataset, endpoint: str, path: str, creds: dict) -> None:
    raw = f"{dataset.table}_raw"
    warehouse.client.command(f"DROP TABLE IF EXISTS {warehouse.database}.{raw}")
    warehouse.client.command(create_table_sql(dataset, warehouse.database, raw))
    warehouse.client.command(
        f"INSERT INTO {warehouse.database}.{raw} SELECT * FROM s3({{url:String}}, {{key:String}}, {{secret:String}}, 'Parquet')",
        parameters={"url": f"{endpoint}/{path}", "key": creds["access_key_id"], "secret": creds["secret_access_key"]})


def report(results: list[dict], peak_mb: float) -> None:
    print(f"\n{'dataset':13}{'stage':11}{'ours s':>8}{'base s':>8}{'ratio':>7}{'blocks/s':>10}{'rows/s':>10}{'base rows/s':>12}")
    for r in results:
        for stage, (ours, base) in r["stages"].items():
            baseline = f"{base:8.2f}{ours / base:7.2f}" if base else f"{'-':>8}{'-':>7}"
            print(f"{r['dataset'][:12]:13}{stage:11}{ours:8.2f}{baseline}"
                  f"{r['blocks'] / ours:10.0f}{r['rows'] / ours:10.0f}{(r['rows'] / base) if base else 0:12.0f}")
    print(f"\npeak RSS of the whole run: {peak_mb:.0f} MB")
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (out / f"chain_pipeline-{stamp}.json").write_text(json.dumps({"results": results, "peak_rss_mb": peak_mb}, indent=1))


if __name__ == "__main__":
    main()
