"""The primary family's resource: the P-Chain node, its settings declared in primary/settings.py (the Data API
source uses the avacloud resource)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from avax_assets.orchestration.configured import settings_resource
from avax_assets.primary.node import PlatformClient
from avax_assets.primary.settings import PChainSettings


class PChainResource(settings_resource(PChainSettings, "p_chain")):
    def settings(self) -> PChainSettings:
        return super().settings()

    def uses_node(self) -> bool:
        return bool(self.settings().rpc_url)

    @contextmanager
    def client(self) -> Iterator[PlatformClient]:
        with PlatformClient(self.settings()) as client:
            yield client
