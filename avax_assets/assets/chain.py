"""C-Chain assets extracted over JSON-RPC (blocks, transactions, logs, internal transactions), each
extracted and loaded the same way."""

from avax_assets.assets.factory import chain_extract_asset, clickhouse_load_asset
from avax_assets.datasets import CHAIN_DATASETS, TRACE_DATASETS
from avax_assets.sources.chain import EXTRACTORS

chain_extract_assets = [chain_extract_asset(ds, EXTRACTORS[ds.name]) for ds in (*CHAIN_DATASETS, *TRACE_DATASETS)]
chain_load_assets = [clickhouse_load_asset(ds) for ds in (*CHAIN_DATASETS, *TRACE_DATASETS)]
