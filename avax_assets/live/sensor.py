"""The live path in the Dagster UI: a sensor per configured chain observing each of its live datasets'
ClickHouse tables (`live/last_block`, `live/head`, `live/lag_blocks`, `live/lag_s`)."""

from __future__ import annotations

import dagster as dg

from avax_assets.chain.resources import ChainRpcResource
from avax_assets.chain.settings import RpcSettings
from avax_assets.core.clickhouse import LOADS_TABLE
from avax_assets.core.errors import TransientError
from avax_assets.live.resources import LiveResource
from avax_assets.live.services import live_status
from avax_assets.live.stream import LiveChain
from avax_assets.orchestration.factory import load_key

LIVE_SENSOR = "live_progress"
SENSOR_LOCK_WAIT_S = 2.0  # the sensor skips a tick rather than wait long for the embedded engine


def live_sensor(chain: RpcSettings) -> dg.SensorDefinition:
    """The live progress sensor of a configured chain: `live_progress`, `<name>_live_progress` for another."""
    rpc_key, live_key = ChainRpcResource.key_of(chain.scope), LiveResource.key_of(chain.scope)

    @dg.sensor(name=f"{chain.scope}_{LIVE_SENSOR}" if chain.scope else LIVE_SENSOR, minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.STOPPED, required_resource_keys={"clickhouse", rpc_key, live_key},
               description=f"The live path's progress on chain {chain.chain_id} (follower and consumer, "
                           "avax_assets/live/): for each live dataset, the last block loaded into ClickHouse, the "
                           "node's accepted head and the lag in blocks and seconds, as observations of its "
                           "ClickHouse table. Off until turned on where the live path runs.")
    def live_progress(context: dg.SensorEvaluationContext, **_resources):  # called directly, Dagster passes them too
        live: LiveResource = getattr(context.resources, live_key)
        rpc: ChainRpcResource = getattr(context.resources, rpc_key)
        datasets = LiveChain.of(chain, live.traces).datasets
        clickhouse = context.resources.clickhouse.model_copy(update={"chdb_lock_wait_s": SENSOR_LOCK_WAIT_S})
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
        return dg.SensorResult(asset_events=[
            dg.AssetObservation(asset_key=load_key(d), metadata=status[d.qualified_name])
            for d in datasets if d.qualified_name in status])

    return live_progress
