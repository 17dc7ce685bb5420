"""Dataset declarations: the single source of truth for schema, key, topic and table."""

from avax_assets.datasets.chain import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.datasets.metrics import METRICS, METRICS_BY_GROUP
from avax_assets.datasets.network import BLOCKCHAINS, BRIDGES, CHAINS, DELEGATORS, SUBNETS, VALIDATORS
from avax_assets.datasets.schema import Column, ColumnType, Dataset, ParentLink
from avax_assets.datasets.subgraphs import DEX_SWAPS, SUBGRAPH_ENTITIES, SubgraphEntity
from avax_assets.datasets.tokens import ERC20_TRANSFERS, ERC721_TRANSFERS, ERC1155_TRANSFERS
from avax_assets.datasets.traces import INTERNAL_TRANSACTIONS

CHAIN_DATASETS = (BLOCKS, TRANSACTIONS, LOGS)  # extracted over plain JSON-RPC
TRACE_DATASETS = (INTERNAL_TRANSACTIONS,)  # extracted from call traces (needs a tracing node)
TOKEN_DATASETS = (ERC20_TRANSFERS, ERC721_TRANSFERS, ERC1155_TRANSFERS)  # decoded from logs
NETWORK_DATASETS = (CHAINS, SUBNETS, BLOCKCHAINS, VALIDATORS, DELEGATORS)  # AvaCloud Data API, daily snapshots
BRIDGE_DATASETS = (BRIDGES,)  # AvaCloud Data API ICM messages, by day
METRICS_DATASETS = (*METRICS_BY_GROUP.values(), METRICS)  # AvaCloud Metrics API, by day
SUBGRAPH_DATASETS = tuple(entity.dataset for entity in SUBGRAPH_ENTITIES)  # The Graph, by block range of a day
ALL_DATASETS = {ds.name: ds for ds in (*CHAIN_DATASETS, *TRACE_DATASETS, *TOKEN_DATASETS, *NETWORK_DATASETS,
                                       *BRIDGE_DATASETS, *METRICS_DATASETS, *SUBGRAPH_DATASETS)}

__all__ = ["ALL_DATASETS", "DEX_SWAPS", "SUBGRAPH_DATASETS", "SUBGRAPH_ENTITIES", "SubgraphEntity", "BRIDGES", "BRIDGE_DATASETS", "METRICS", "METRICS_BY_GROUP", "METRICS_DATASETS", "BLOCKCHAINS", "BLOCKS", "CHAINS", "NETWORK_DATASETS", "SUBNETS", "CHAIN_DATASETS", "ERC20_TRANSFERS", "ERC721_TRANSFERS", "ERC1155_TRANSFERS",
           "INTERNAL_TRANSACTIONS", "LOGS", "TRACE_DATASETS", "TOKEN_DATASETS", "TRANSACTIONS", "Column", "ColumnType", "Dataset", "ParentLink"]
