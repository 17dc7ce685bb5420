"""The Dagster code location. Configuration comes from the environment (see docs/settings.md), read when
Dagster loads the location, not at import."""

import dagster as dg

from avax_assets.catalogue import Catalogue
from avax_assets.orchestration.environment import build_resources, executor, partition_settings
from avax_assets.orchestration.partitions import Partitions


@dg.definitions
def defs() -> dg.Definitions:
    return Catalogue(Partitions.from_settings(partition_settings())).definitions(build_resources(), executor())
