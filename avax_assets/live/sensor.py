"""The live path in the Dagster UI: a sensor observing each live dataset's ClickHouse table (`live/last_block`,
`live/head`, `live/lag_blocks`, `live/lag_s`)."""

from __future__ import annotations

import dagster as dg

from avax_assets.chain.resources import ChainRpcResource
from avax_assets.core.clickhouse import LOADS_TABLE
from avax_assets.core.errors import TransientError
from avax_assets.live.resources import LiveResource
from avax_assets.live.services import live_status
from avax_assets.live.stream import live_datasets
from avax_assets.orchestration.factory import load_key
from avax_assets.orchestration.resources import ClickHouseResource

LIVE_SENSOR = "live_progress"
SENSOR_LOCK_WAIT_S = 2.0  # the sensor skips a tick rather than wait long for the embedded engine


@dg.sensor(name=LIVE_SENSOR, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
           description="The live path's progress (follower and consumer, avax_assets/live/): for each live dataset, "
                       "the last block loaded into ClickHouse, the node's accepted head and the lag in blocks and "
                       "seconds, as observations of its ClickHouse table. Off until turned on where the live path "
                       "runs.")
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
            status = live_status(warehouse, datasets, head) if LOADS_TABLE in warehouse.tables() else {}
    except TransientError as exc:
        return dg.SkipReason(f"ClickHouse did not answer: {exc}")
    if not status:
        return dg.SkipReason("the live path has loaded nothing yet (start it: deployments/local/services.sh up "
                             "--with-live, or avax-assets live follow / consume)")
    return dg.SensorResult(asset_events=[dg.AssetObservation(asset_key=load_key(d), metadata=status[d.name])
                                         for d in datasets if d.name in status])


SENSORS = (live_progress,)
