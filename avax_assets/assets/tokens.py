"""Token transfer assets, decoded from the stored `logs` partition (no second trip to the node)."""

from avax_assets.assets.factory import clickhouse_load_asset, decoded_asset
from avax_assets.datasets import LOGS, TOKEN_DATASETS
from avax_assets.sources.tokens import DECODERS

token_decode_assets = [decoded_asset(ds, LOGS, DECODERS[ds.name]) for ds in TOKEN_DATASETS]
token_load_assets = [clickhouse_load_asset(ds) for ds in TOKEN_DATASETS]
