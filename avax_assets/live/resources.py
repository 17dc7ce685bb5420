"""The live path's resource: its settings (live/settings.py) for the follower, the consumer and the sensor."""

from __future__ import annotations

from avax_assets.live.settings import LiveSettings
from avax_assets.orchestration.configured import settings_resource


class LiveResource(settings_resource(LiveSettings, "live")):
    def settings(self) -> LiveSettings:
        return super().settings()
