"""The live path's resource: its settings (live/settings.py) for the follower, the consumer and the sensor. There
is one per configured chain: `live` for the home chain, `live_<name>` for each chain of AVAX_CHAINS (its
variables AVAX_<NAME>_LIVE_…)."""

from __future__ import annotations

from typing import ClassVar, Optional

from avax_assets.live.settings import LiveSettings
from avax_assets.orchestration.configured import settings_resource


class LiveResource(settings_resource(LiveSettings, "live")):
    per_chain: ClassVar[bool] = True
    chain: Optional[str] = None  # the chain's name (its variables' scope); unset: the home chain

    def settings(self) -> LiveSettings:
        return super().settings().scoped_to(self.chain)
