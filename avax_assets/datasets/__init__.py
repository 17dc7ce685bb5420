"""Dataset declarations: the single source of truth for schema, key, topic and table."""

from avax_assets.datasets.chain import BLOCKS, LOGS, TRANSACTIONS
from avax_assets.datasets.schema import Column, ColumnType, Dataset

CHAIN_DATASETS = (BLOCKS, TRANSACTIONS, LOGS)
ALL_DATASETS = {ds.name: ds for ds in CHAIN_DATASETS}

__all__ = ["ALL_DATASETS", "BLOCKS", "CHAIN_DATASETS", "LOGS", "TRANSACTIONS", "Column", "ColumnType", "Dataset"]
