"""The AvaCloud family's resource: the Data and Metrics APIs, their settings declared in avacloud/settings.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from avax_assets.avacloud.client import AvaCloudClient
from avax_assets.avacloud.settings import AvaCloudSettings
from avax_assets.orchestration.configured import settings_resource


class AvaCloudResource(settings_resource(AvaCloudSettings, "avacloud")):
    def settings(self) -> AvaCloudSettings:
        return super().settings()

    @contextmanager
    def client(self) -> Iterator[AvaCloudClient]:
        with AvaCloudClient(self.settings()) as client:
            yield client
