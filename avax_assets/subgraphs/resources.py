"""The subgraphs family's resource: The Graph's gateway, its settings declared in subgraphs/settings.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from avax_assets.core.errors import SettingError
from avax_assets.orchestration.configured import settings_resource
from avax_assets.subgraphs.client import SubgraphClient
from avax_assets.subgraphs.settings import SubgraphSettings


class SubgraphResource(settings_resource(SubgraphSettings, "subgraph")):
    def settings(self) -> SubgraphSettings:
        return super().settings()

    @contextmanager
    def client(self, subgraph: str) -> Iterator[SubgraphClient]:
        settings = self.settings()
        subgraph_id = settings.subgraph_ids.get(subgraph)
        if not subgraph_id:
            raise SettingError(f"no subgraph id for '{subgraph}': set AVAX_SUBGRAPH_IDS={subgraph}=<subgraph id>")
        with SubgraphClient(settings.url_of(subgraph_id), settings) as client:
            yield client
