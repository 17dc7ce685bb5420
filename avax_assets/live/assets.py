"""The live path's Dagster side: its services built from the same resources as the assets (so the
same settings reach them), and a sensor that shows its progress in the UI as observations of each live
dataset's ClickHouse table (`live/last_block`, `live/lag_blocks`, `live/lag_s`)."""

from __future__ import annotations

import logging
import threading
import time

import dagster as dg

from avax_assets.core.errors import TransientError
from avax_assets.live.consumer import LOADS_TABLE, LiveConsumer
from avax_assets.live.follower import Follower
from avax_assets.live.stream import live_datasets, next_pause
from avax_assets.orchestration.environment import resolved
from avax_assets.orchestration.factory import load_key
from avax_assets.orchestration.resources import ChainRpcResource, ClickHouseResource, LiveResource

log = logging.getLogger(__name__)
LIVE_SENSOR = "live_progress"
SENSOR_LOCK_WAIT_S = 2.0  # the sensor skips a tick rather than wait long for the embedded engine


def follow(resources: dict, stop: threading.Event, until_block: int | None = None) -> None:
    """The follower, until `stop` (or `until_block`): built from the same resources as the assets."""
    settings = resources["live"].settings()
    kafka = resolved(resources["kafka"])
    stream = kafka.publisher().stream(f"avax-assets.live-follower.{settings.group_id}")
    listening = threading.Event()  # the newHeads listener ends with the follower
    try:
        with resolved(resources["rpc"]).reader() as reader:
            follower = Follower(reader, stream, kafka.client_config(), settings)
            follower.listen_for_heads(settings.websocket_url, listening)
            follower.run(stop, until_block)
    finally:
        listening.set()
        stream.close()


def consumer(resources: dict) -> LiveConsumer:
    settings = resources["live"].settings()
    warehouse = resolved(resources["clickhouse"]).warehouse()
    return LiveConsumer(resolved(resources["kafka"]).client_config(), warehouse, live_datasets(settings.traces),
                        settings)


def consume(resources: dict, stop: threading.Event) -> None:
    """The consumer, until `stop`; transient failures (broker, engine busy) are waited out."""
    live = consumer(resources)
    live.start()
    pause = 0.0
    try:
        while not stop.is_set():
            try:
                live.step()
                pause = 0.0
            except TransientError as exc:
                pause = next_pause(pause)
                log.warning("live consumer: %s; trying again in %.0f s", exc, pause)
                stop.wait(pause)
    finally:
        live.close()


def live_status(warehouse, datasets, head: int | None) -> dict[str, dict]:
    """Per live dataset: the last block loaded, when, and how far behind the head it is."""
    rows = warehouse.client.query(
        f"SELECT dataset, max(last_block), argMax(newest_block_timestamp, last_block), max(loaded_at), "
        f"argMax(head, last_block) FROM {warehouse.database}.{LOADS_TABLE} GROUP BY dataset").result_rows
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


@dg.sensor(name=LIVE_SENSOR, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="The live path's progress (follower and consumer, avax_assets/live/): for each live dataset, "
                       "the last block loaded into ClickHouse, the node's accepted head and the lag in blocks and "
                       "seconds, as observations of its ClickHouse table.")
def live_progress(context: dg.SensorEvaluationContext, clickhouse: ClickHouseResource, rpc: ChainRpcResource,
                  live: LiveResource):
    datasets = live_datasets(live.traces)
    clickhouse = clickhouse.model_copy(update={"chdb_lock_wait_s": SENSOR_LOCK_WAIT_S})
    try:
        with rpc.reader() as reader:
            head = reader.latest_block()
    except TransientError:
        head = None
    try:
        warehouse = clickhouse.warehouse()
        with warehouse.session():
            tables = {r[0] for r in warehouse.client.query(
                "SELECT name FROM system.tables WHERE database = {db:String}",
                parameters={"db": warehouse.database}).result_rows}
            status = live_status(warehouse, datasets, head) if LOADS_TABLE in tables else {}
    except TransientError as exc:
        return dg.SkipReason(f"ClickHouse did not answer: {exc}")
    if not status:
        return dg.SkipReason("the live path has loaded nothing yet (start it: deployments/local/services.sh up "
                             "--with-live, or avax-assets live follow / consume)")
    return dg.SensorResult(asset_events=[dg.AssetObservation(asset_key=load_key(d), metadata=status[d.name])
                                         for d in datasets if d.name in status])


SENSORS = (live_progress,)
