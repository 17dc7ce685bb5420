"""The live path's services (the follower and the consumer), built from the same resources as the assets so
the same settings reach them; and where they are (`live_status`, for the CLI and the sensor)."""

from __future__ import annotations

import logging
import threading
import time

from avax_assets.core.errors import TransientError
from avax_assets.live.consumer import LiveConsumer
from avax_assets.live.follower import Follower
from avax_assets.live.rerequests import Requests
from avax_assets.live.stream import live_datasets, next_pause

log = logging.getLogger(__name__)


def follow(resources: dict, stop: threading.Event, until_block: int | None = None) -> None:
    """The follower, until `stop` (or `until_block`): built from the same resources as the assets."""
    settings = resources["live"].settings()
    kafka = resources["kafka"].settings()
    publisher = kafka.publisher()
    stream = publisher.stream(f"avax-assets.live-follower.{settings.group_id}")
    requests = Requests(publisher)
    listening = threading.Event()  # the newHeads listener ends with the follower
    try:
        with resources["rpc"].reader() as reader:
            follower = Follower(reader, stream, kafka.client_config(), settings, requests=requests)
            follower.listen_for_heads(settings.websocket_url, listening)
            follower.run(stop, until_block)
    finally:
        listening.set()
        requests.close()
        stream.close()


def consumer(resources: dict) -> LiveConsumer:
    settings = resources["live"].settings()
    warehouse = resources["clickhouse"].warehouse()
    return LiveConsumer(resources["kafka"].publisher(), warehouse, live_datasets(settings.traces), settings)


def consume(resources: dict, stop: threading.Event) -> None:
    """The consumer, until `stop`; transient failures (broker, engine busy) are waited out, and a consumer
    Kafka declared unusable is replaced by a new one."""
    live, pause = None, 0.0
    try:
        while not stop.is_set():
            try:
                live = live or started(resources)
                live.step()
                pause = 0.0
            except TransientError as exc:
                pause = next_pause(pause)
                log.warning("live consumer: %s; trying again in %.0f s", exc, pause)
                if live is not None and live.broken:
                    live.close()
                    live = None
                stop.wait(pause)
    finally:
        if live is not None:
            live.close()


def started(resources: dict) -> LiveConsumer:
    live = consumer(resources)
    try:
        live.start()
    except BaseException:
        live.close()
        raise
    return live


def live_status(warehouse, datasets, head: int | None) -> dict[str, dict]:
    """Per live dataset: the last block loaded, when, and how far behind the head it is."""
    rows = warehouse.loads_status()
    known = {d.name for d in datasets}
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
