"""Helpers for tests: a direct JSON-RPC reader (independent of the code under test), Kafka reading,
and a proxy in front of the node that injects faults a real node will not produce on demand."""

from __future__ import annotations

import json
from collections import Counter

import httpx
from confluent_kafka import Consumer, TopicPartition

from avax_assets_dev.local.http import BackgroundServer, JsonHandler


def materialization_of(result, asset: str):
    """The run's materialization of one asset (by key: a step may materialize several)."""
    return next(m for m in result.get_asset_materialization_events()
                if m.asset_key.to_user_string() == asset).step_materialization_data.materialization


def rpc(url: str, method: str, params: list):
    response = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30)
    return response.json()["result"]


def kafka_messages_of_run(bootstrap: str, topic: str, run_id: str) -> list:
    """Messages of one Dagster run, read from the whole topic until it stays quiet. (Tansu's
    reported high watermark lags behind the log, so it cannot bound the read.)"""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "avax-tests", "enable.auto.commit": False,
                         "session.timeout.ms": 6000})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        messages = []
        while batch := consumer.consume(num_messages=10_000, timeout=2):
            messages += [m for m in batch
                         if m.error() is None and dict(m.headers() or []).get("run_id") == run_id.encode()]
        return messages
    finally:
        consumer.close()


def committed_messages_per_key(bootstrap: str, topic: str, partition: str) -> Counter:
    """What a read_committed consumer of the whole topic receives for one dataset partition (by the
    `partition` header): messages per key."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "avax-tests", "enable.auto.commit": False,
                         "isolation.level": "read_committed", "session.timeout.ms": 6000})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        per_key: Counter = Counter()
        while batch := consumer.consume(num_messages=10_000, timeout=2):
            per_key.update(m.key() for m in batch
                           if m.error() is None and dict(m.headers() or []).get("partition") == partition.encode())
        return per_key
    finally:
        consumer.close()


class FaultyNodeProxy:
    """FAKE, on purpose: forwards JSON-RPC to the real node but can corrupt payloads, fail every request,
    refuse tracing like a public endpoint, trickle its answer or pad it with junk — what a real node cannot
    be made to do on demand. Modes: 'pass', 'corrupt', 'fail', 'no-tracing', 'trickle' (the node's answer,
    one byte every 50 ms), 'huge' (the node's answer with a field of `junk_mib` MiB added)."""

    junk_mib = 60

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.requests = 0
        self.methods: Counter = Counter()  # JSON-RPC method → calls forwarded
        proxy = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                proxy.requests += 1
                calls = json.loads(body)
                proxy.methods.update(c.get("method") for c in (calls if isinstance(calls, list) else [calls]))
                if proxy.mode == "fail":
                    self.reply(503, b"upstream unavailable")
                    return
                if proxy.mode == "no-tracing" and (b'"debug_' in body or b'"trace_' in body):
                    calls = json.loads(body)
                    error = {"code": -32601, "message": "the method does not exist/is not available"}
                    self.reply(200, [{"jsonrpc": "2.0", "id": c["id"], "error": error} for c in calls])
                    return
                answer = httpx.post(proxy.upstream, content=body, headers={"content-type": "application/json"},
                                    timeout=30).json()
                if proxy.mode == "corrupt":
                    answer = _corrupt(answer)
                if proxy.mode == "trickle":
                    self.trickle(json.dumps(answer).encode(), pause_s=0.05)
                    return
                if proxy.mode == "huge":
                    junk = b'{"junk": "' + b"f" * (proxy.junk_mib * 2**20) + b'", "answer": '
                    self.reply(200, junk + json.dumps(answer).encode() + b"}")
                    return
                self.reply(200, answer)

        self._serving = BackgroundServer(Handler).__enter__()
        self.url = self._serving.base_url

    def close(self) -> None:
        self._serving.__exit__()


def _corrupt(answer):
    """Break the `value` of the first transaction in any full block (a non-hex quantity)."""
    items = answer if isinstance(answer, list) else [answer]
    for item in items:
        result = item.get("result") if isinstance(item, dict) else None
        if isinstance(result, dict) and result.get("transactions") and isinstance(result["transactions"][0], dict):
            result["transactions"][0]["value"] = "12 AVAX"
            break
    return answer


def client_settings(kind, **options):
    """A client's settings model; `max_response_bytes` given in bytes (the setting is in MiB)."""
    if "max_response_bytes" in options:
        options["max_response_mb"] = options.pop("max_response_bytes") / 2**20
    return kind(**options)
