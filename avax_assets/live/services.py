"""The live path's services (the follower and the consumer), built from the same resources as the assets so
the same settings reach them; and where they are (`live_status`, for the CLI and the sensor)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

from avax_assets.chain.resources import ChainRpcResource
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.errors import TransientError
from avax_assets.live.consumer import LiveConsumer
from avax_assets.live.follower import Follower
from avax_assets.live.resources import LiveResource
from avax_assets.live.rerequests import Requests
from avax_assets.live.settings import LiveSettings
from avax_assets.live.stream import LiveChain, next_pause

log = logging.getLogger(__name__)


class ChainLive(NamedTuple):
    """A chain's settings, its live settings and its live path, from the resources."""

    chain: RpcSettings
    settings: LiveSettings
    live: LiveChain


def chain_live(resources: dict, chain: RpcSettings | None = None) -> ChainLive:
    """A chain's (the home chain's when `chain` is None) live settings and live path."""
    if chain is None:
        chain = resources[ChainRpcResource.key].settings()
    settings = resources[LiveResource.key_of(chain.scope)].settings()
    return ChainLive(chain, settings, LiveChain.of(chain, settings.traces))


def live_chain(resources: dict, chain: RpcSettings | None = None) -> LiveChain:
    """A chain's live path (the home chain's when `chain` is None)."""
    return chain_live(resources, chain).live


def follow(resources: dict, stop: threading.Event, until_block: int | None = None,
           chain: RpcSettings | None = None) -> None:
    """A chain's follower (the home chain's when `chain` is None), until `stop` (or `until_block`): built from
    the same resources as the assets."""
    chain, settings, live = chain_live(resources, chain)
    kafka = resources["kafka"].settings()
    publisher = kafka.publisher()
    stream = publisher.stream(f"avax-assets.live-follower.{live.named(settings.group_id)}")
    requests = Requests(publisher, live.request_topic)
    listening = threading.Event()  # the newHeads listener ends with the follower
    pause = 0.0
    try:
        while not stop.is_set():
            try:  # a node down when the follower starts is waited for (it starts in any order)
                with resources[ChainRpcResource.key_of(chain.scope)].reader() as reader:
                    follower = Follower(reader, stream, kafka.client_config(), settings, live, requests=requests)
                    follower.listen_for_heads(settings.websocket_url, listening)
                    follower.run(stop, until_block)
                return
            except TransientError as exc:
                pause = next_pause(pause)
                log.warning("live follower: %s: %s; trying again in %.0f s", live.label, exc, pause)
                stop.wait(pause)
    finally:
        listening.set()
        requests.close()
        stream.close()


def consumer(resources: dict, chain: RpcSettings | None = None) -> LiveConsumer:
    """A chain's consumer (the home chain's when `chain` is None)."""
    of_chain = chain_live(resources, chain)
    return LiveConsumer(resources["kafka"].publisher(), resources["clickhouse"].warehouse(), of_chain.live,
                        of_chain.settings)


@dataclass
class _Turn:
    """One chain's consumer in `consume`: made when first needed, again after Kafka declared it unusable."""

    chain: RpcSettings | None
    label: str
    consumer: LiveConsumer | None = None
    pause: float = 0.0
    until: float = 0.0  # no step before (monotonic seconds)


def consume(resources: dict, stop: threading.Event, chains: tuple[RpcSettings | None, ...] = (None,)) -> None:
    """The consumers of `chains` (the home chain's by default), in turns in this thread, until `stop`;
    transient failures (broker, engine busy) are waited out per chain, and a consumer Kafka declared unusable
    is replaced by a new one."""
    turns = [_Turn(chain, live_chain(resources, chain).label) for chain in chains]
    try:
        while not stop.is_set():
            due = [turn for turn in turns if turn.until <= time.monotonic()]
            if not due:
                stop.wait(min(turn.until for turn in turns) - time.monotonic())
            for turn in due:
                try:
                    turn.consumer = turn.consumer or started(resources, turn.chain)
                    turn.consumer.step()
                    turn.pause = turn.until = 0.0
                except TransientError as exc:
                    turn.pause = next_pause(turn.pause)
                    turn.until = time.monotonic() + turn.pause
                    log.warning("live consumer: %s: %s; trying again in %.0f s", turn.label, exc, turn.pause)
                    if turn.consumer is not None and turn.consumer.broken:
                        turn.consumer.close()
                        turn.consumer = None
    finally:
        for turn in turns:
            if turn.consumer is not None:
                turn.consumer.close()


def started(resources: dict, chain: RpcSettings | None = None) -> LiveConsumer:
    live = consumer(resources, chain)
    try:
        live.start()
    except BaseException:
        live.close()
        raise
    return live


def follow_chains(resources: dict, stop: threading.Event, chains: tuple[RpcSettings, ...]) -> None:
    """A follower per chain, each in a thread of its own (a slow or unreachable chain holds no other), until
    `stop`; the first permanent failure stops them all and is raised, its chain named."""
    failures: list[BaseException] = []

    def follow_one(chain: RpcSettings) -> None:
        try:
            follow(resources, stop, chain=chain)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            failures.append(exc)
            stop.set()

    threads = [threading.Thread(target=follow_one, args=(chain,), name=f"follower-{chain.scope or 'home'}",
                                daemon=True) for chain in chains]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def live_status(warehouse, datasets, head: int | None) -> dict[str, dict]:
    """Per live dataset of one chain (by its name unique across chains): the last block loaded, when, and how far
    behind the head it is."""
    rows = warehouse.loads_status()
    known = {d.qualified_name for d in datasets}
    status = {}
    for name, last, newest, loaded_at, head_then in rows:
        if name not in known:
            continue
        head_now = head if head is not None else int(head_then)
        status[name] = {"live/last_block": int(last), "live/head": head_now, "live/lag_blocks": head_now - int(last),
                        "live/newest_block_timestamp": newest.isoformat(),
                        "live/loaded_at": loaded_at.isoformat(),
                        "live/lag_s": round(time.time() - newest.timestamp(), 1)}
    return status
