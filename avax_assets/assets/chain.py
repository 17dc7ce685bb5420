"""C-Chain assets extracted over JSON-RPC, each extracted and loaded the same way; which source
function extracts which dataset is decided here (blocks and transactions may also come from the
AvaCloud Data API, by the `rpc` resource's `blocks_source`)."""

from avax_assets.assets.factory import chain_extract_asset, clickhouse_load_asset
from avax_assets.datasets import BLOCKS, INTERNAL_TRANSACTIONS, LOGS, TRANSACTIONS
from avax_assets.sources.chain import Extractor, extract_blocks, extract_logs, extract_transactions
from avax_assets.sources import data_api_chain
from avax_assets.sources.traces import extract_internal_transactions

EXTRACTORS: dict[str, Extractor] = {
    BLOCKS.name: extract_blocks,
    TRANSACTIONS.name: extract_transactions,
    LOGS.name: extract_logs,
    INTERNAL_TRANSACTIONS.name: extract_internal_transactions,
}
DATA_API_EXTRACTORS: dict[str, Extractor] = {
    BLOCKS.name: data_api_chain.extract_blocks,
    TRANSACTIONS.name: data_api_chain.extract_transactions,
}
RPC_DATASETS = (BLOCKS, TRANSACTIONS, LOGS, INTERNAL_TRANSACTIONS)

chain_extract_assets = [chain_extract_asset(ds, EXTRACTORS[ds.name], DATA_API_EXTRACTORS.get(ds.name))
                        for ds in RPC_DATASETS]
chain_load_assets = [clickhouse_load_asset(ds) for ds in RPC_DATASETS]
