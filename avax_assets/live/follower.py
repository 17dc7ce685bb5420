"""The follower: one chain's accepted head, followed block by block into Kafka (one follower per chain).

It resumes after the last step Kafka holds (the manifest topic is its checkpoint, read with
read_committed, so a step whose transaction did not commit is published again), catches up in steps of
at most `step_blocks`, then waits for the next block: a newHeads notice over WebSocket when the node
offers it, else a poll of `eth_blockNumber` every `poll_s`. Each step is extracted with the chain
family's own extractors and decoders (the same rows as the daily batch) and published in one
transaction: its rows on the datasets' topics, then its manifest (stream.py).

Errors: a source or broker that fails after its bounded retries (TransientError, or the broker's own
KafkaException: restarting, no coordinator, fenced) is retried, the same step, after a growing pause (at
most `stream.MAX_PAUSE_S`); so is a step whose source contradicts itself (ProviderInconsistency: nothing of it
is published); bad data (PermanentError) stops the follower with the dataset, blocks and field named. A step
the consumer asks again for (rerequests.py) is published again, from the node.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from avax_assets.chain.datasets import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.chain.extractors import Scope, extract_together
from avax_assets.chain.proof import HashChain, together
from avax_assets.chain.reader import ChainReader
from avax_assets.chain.traces import extract_internal_transactions
from avax_assets.core.errors import SettingError, SinkUnavailable, TransientError
from avax_assets.core.kafka import StreamPublisher
from avax_assets.core.schema import Dataset
from avax_assets.live.rerequests import Requests
from avax_assets.live.settings import LiveSettings
from avax_assets.live.stream import (
    ORIGIN,
    TRACED,
    TRANSFER_EVENTS,
    LiveChain,
    Manifest,
    decode_manifest,
    encode_manifest,
    manifest_of,
    next_pause,
)
from avax_assets.live.topics import ensure_live_topics

log = logging.getLogger(__name__)
MANIFESTS_LOOKED_BACK = 200  # offsets read back from the end of the manifest topic (aborted ones among them)


def extract_step(reader: ChainReader, blocks: range, live: LiveChain,
                 chain: HashChain | None = None) -> list[tuple[Dataset, pa.RecordBatch]]:
    """Every live dataset's rows for `blocks` (its chain's: `live`), by the chain and tokens families' own code,
    proven as the daily batch's chunks are (chain/proof.py) and, with `chain`, linked to the last step
    published: an inconsistent step raises ProviderInconsistency (transient: the follower tries it again)."""
    where = f"live blocks {blocks.start}..{blocks.stop - 1} of {live.label}"
    bound = {d.name: d for d in live.datasets}
    scopes = {d.name: Scope(bound[d.name], where) for d in (BLOCKS, TRANSACTIONS, LOGS)}
    proven = extract_together(reader, blocks, scopes)
    say_unknown_fields(scopes.values(), where)
    if live.traces:
        proven = together([proven, *(extract_internal_transactions(reader, blocks, Scope(bound[dataset.name], where))
                                     for dataset in TRACED)])
    if chain is not None:
        chain.check(proven)
    batches = proven.batches
    # one fetch of full blocks and receipts
    parts = [(bound[d.name], batches[d.name]) for d in (BLOCKS, TRANSACTIONS, LOGS)]
    logs = batches[LOGS.name]
    for event in TRANSFER_EVENTS:
        decoded = event(logs)
        if decoded.malformed:
            log.warning("%s %s: %d malformed logs, e.g. %s", event.dataset.name, where, len(decoded.malformed),
                        decoded.malformed[0])
        parts.append((bound[event.dataset.name], decoded.batch))
    if live.traces:
        parts += [(bound[dataset.name], batches[dataset.name]) for dataset in TRACED]
    return parts


_SAID_UNKNOWN: set[str] = set()  # the unknown fields this process has warned of (once each, not every step)


def say_unknown_fields(scopes, where: str) -> None:
    """A field the node sends that no declaration knows is kept out of the rows, never silently: warned of the
    first time it is seen (the daily run's unknown_source_fields check fails on it too)."""
    unknown = {key: count for scope in scopes for key, count in scope.unknown.items() if key not in _SAID_UNKNOWN}
    if unknown:
        _SAID_UNKNOWN.update(unknown)
        log.warning("%s: the node sends fields no declaration knows (objects carrying each): %s; add them to the "
                    "declarations to keep them", where, dict(sorted(unknown.items())))


class Follower:
    def __init__(self, reader: ChainReader, stream: StreamPublisher, kafka_config: dict, settings: LiveSettings,
                 live: LiveChain, on_step: Callable[[Manifest], None] | None = None,
                 requests: Requests | None = None) -> None:
        self.reader, self.stream, self.settings, self.live = reader, stream, settings, live
        self.requests = requests  # steps the consumer asks again for
        self.kafka_config = kafka_config
        self.on_step = on_step or (lambda manifest: None)
        self.heads = threading.Event()  # set by the newHeads listener when a block is accepted
        self._unchecked: Manifest | None = None  # Kafka's last step, until the node is seen to have its block
        self._last: tuple[int, str] | None = None  # the last published block and its hash: the next step's parent

    def resume_from(self) -> int:
        """The block after the last step Kafka holds; with none, AVAX_LIVE_START_BLOCK or the head. Kafka's
        last step must be of this node's chain (its last block's hash; checked once the node has that block),
        or nothing is published. The live topics are made first, if this is the first service to start."""
        ensure_live_topics(self.stream.publisher, self.live)
        last = last_manifest(self.kafka_config, self.stream.publisher.timeout_s, self.live.manifest_topic)
        if last is not None:
            self._unchecked = last if last.last_hash else None
            self._last = (last.last_block, last.last_hash) if last.last_hash else None
            return last.last_block + 1
        if self.settings.start_block is not None:
            return self.settings.start_block
        return self.reader.latest_block()

    def _check_same_chain(self, last: Manifest) -> None:
        ours = self.reader.headers(range(last.last_block, last.last_block + 1))[0]["hash"].lower()
        if ours != last.last_hash:
            raise SettingError(
                f"live follower: Kafka at {self.stream.publisher.servers} holds live steps up to block "
                f"{last.last_block} with hash {last.last_hash} on {self.live.manifest_topic}, but the node "
                f"({self.live.node_variable}) has {ours} there: those steps are of another chain. Point the follower "
                "at that chain's node, or this chain at a broker of its own (or delete the live topics)")

    def run(self, stop: threading.Event, until_block: int | None = None) -> None:
        """Follow until `stop` is set (or `until_block` is published)."""
        next_block, pause = None, 0.0
        while not stop.is_set() and (until_block is None or next_block is None or next_block <= until_block):
            try:
                if next_block is None:
                    next_block = self.resume_from()
                    log.info("live follower: %s: starting at block %d", self.live.label, next_block)
                self.heads.clear()  # before asking: a notice that comes while asking is not lost
                head = self.reader.latest_block()
                if self._unchecked is not None and head >= self._unchecked.last_block:
                    self._check_same_chain(self._unchecked)
                    self._unchecked = None
                self.publish_asked(next_block, head)
                if next_block > head:
                    self.heads.wait(self.settings.poll_s)
                    continue
                last = min(head, next_block + self.settings.step_blocks - 1)
                self.publish_step(range(next_block, last + 1), head)
                next_block, pause = last + 1, 0.0
            except (TransientError, KafkaException) as exc:
                pause = next_pause(pause)
                log.warning("live follower: %s: block %d: %s; trying again in %.0f s", self.live.label, next_block,
                            exc, pause)
                stop.wait(pause)

    def publish_asked(self, next_block: int, head: int) -> None:
        """Publish again the steps the consumer asked for, as far as this follower has published them."""
        for request in self.requests.taken() if self.requests else ():
            blocks = range(request.first_block, min(request.last_block + 1, next_block))
            log.warning("live follower: %s: the consumer asks again for blocks %d..%d (%s); publishing %s again",
                        self.live.label, request.first_block, request.last_block, request.reason,
                        f"{blocks.start}..{blocks.stop - 1}" if blocks else "nothing (not published yet)")
            for start in range(blocks.start, blocks.stop, self.settings.step_blocks):
                self.publish_step(range(start, min(start + self.settings.step_blocks, blocks.stop)), head)

    def publish_step(self, blocks: range, head: int) -> Manifest:
        follows = self._last is not None and self._last[0] == blocks.start - 1
        parts = extract_step(self.reader, blocks, self.live, HashChain(last_hash=self._last[1]) if follows else None)
        manifest = manifest_of(parts, blocks, head, time.time())
        where = f"live blocks {blocks.start}..{blocks.stop - 1}"
        headers = [ORIGIN, ("partition", where.encode())]
        manifest_message = (self.live.manifest_topic, manifest.key, encode_manifest(manifest))
        self.stream.publish(parts, headers, manifest_message, f"{where} of {self.live.label}")
        self._last = (manifest.last_block, manifest.last_hash) if manifest.last_hash else None
        self.on_step(manifest)
        return manifest

    def listen_for_heads(self, url: str | None, stop: threading.Event) -> threading.Thread | None:
        """Wake the loop on each newHeads notice, in a thread; None when the node does not offer it."""
        url = url or websocket_twin(self.reader.endpoint)
        subscribed, failure = threading.Event(), []

        def listen() -> None:
            from websockets.sync.client import connect

            try:
                with connect(url, open_timeout=5) as socket:
                    socket.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                                            "params": ["newHeads"]}))
                    if "result" not in json.loads(socket.recv(timeout=5)):
                        raise ValueError("eth_subscribe refused")
                    subscribed.set()
                    while not stop.is_set():
                        try:
                            socket.recv(timeout=1)
                            self.heads.set()
                        except TimeoutError:
                            continue
            except Exception as exc:  # noqa: BLE001 - any failure means: poll instead
                failure.append(type(exc).__name__)
                if subscribed.is_set():
                    log.info("live follower: the newHeads subscription ended (%s); polling", failure[-1])
                subscribed.set()

        thread = threading.Thread(target=listen, name="newHeads", daemon=True)
        thread.start()
        subscribed.wait(12)
        if failure or not subscribed.is_set():
            log.info("live follower: no newHeads subscription (%s); polling every %g s",
                     failure[0] if failure else "no answer", self.settings.poll_s)
            return None
        return thread


def websocket_twin(rpc_url: str) -> str:
    """The WebSocket URL of a JSON-RPC URL: ws(s):// on the same host; avalanchego's /rpc path is /ws."""
    parts = urlsplit(rpc_url.split("#")[0])
    path = parts.path[: -len("/rpc")] + "/ws" if parts.path.endswith("/rpc") else parts.path
    return urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, path, parts.query, ""))


def last_published_block(kafka_config: dict, timeout_s: float, manifest_topic: str) -> int | None:
    last = last_manifest(kafka_config, timeout_s, manifest_topic)
    return None if last is None else last.last_block


def last_manifest(kafka_config: dict, timeout_s: float, manifest_topic: str) -> Manifest | None:
    """The newest committed manifest (of the highest block), reading the manifest topic's tail."""
    consumer = Consumer({**kafka_config, "group.id": f"avax-assets-live-probe-{uuid.uuid4().hex[:8]}",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    try:
        topic = consumer.list_topics(manifest_topic, timeout=timeout_s).topics.get(manifest_topic)
        if topic is None or (topic.error is not None and topic.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
            return None
        if topic.error is not None:
            raise SinkUnavailable(f"live follower: the topic {manifest_topic} cannot be read ({topic.error.str()})")
        assigned = []
        for partition in topic.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(manifest_topic, partition), timeout_s)
            if high > low:
                assigned.append(TopicPartition(manifest_topic, partition, max(low, high - MANIFESTS_LOOKED_BACK)))
        if not assigned:
            return None
        consumer.assign(assigned)
        last, ended, deadline = None, set(), time.monotonic() + timeout_s
        while len(ended) < len(assigned) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    ended.add(message.partition())
                continue
            if dict(message.headers() or []).get(ORIGIN[0]) == ORIGIN[1]:
                manifest = decode_manifest(message.value())
                if last is None or manifest.last_block > last.last_block:
                    last = manifest
        if len(ended) < len(assigned):  # a partial answer would restart at the wrong block
            raise SinkUnavailable(f"live follower: the end of {manifest_topic} was not reached within {timeout_s:g} s "
                                  "(AVAX_KAFKA_TIMEOUT_S)")
        return last
    finally:
        consumer.close()
