"""A load into the embedded engine waits for its table's merges: the engine merges only while a process holds
it open, so parts a load left unmerged would be merged in whichever later load opens it, beside that load's
own work (and memory)."""

from avax_assets.chain.datasets import BLOCKS
from avax_assets.core import clickhouse
from avax_assets.core.chdb import chdb_client
from avax_assets.core.clickhouse import ClickHouseWarehouse
from avax_assets_tests.core.test_checks import DAY, batch

INSERTS = 40  # each batch is one insert, so one part


def loaded_parts(chdb_path, database: str, inserts: int) -> tuple[int, int]:
    """(active parts, merges running) of the table right after a load of `inserts` parts, the engine still open."""
    warehouse = ClickHouseWarehouse(chdb_client(str(chdb_path)), database)
    batches = [batch(range(n * 10 + 1, n * 10 + 11)) for n in range(inserts)]
    with warehouse.session():
        assert warehouse.replace_partition(BLOCKS, DAY, batches) == 10 * inserts
        return warehouse._active_parts(BLOCKS.table), warehouse._count("system.merges",
                                                                       *warehouse._of_table(BLOCKS.table))


def test_a_load_of_many_parts_leaves_its_table_merged(chdb_path):
    parts, merging = loaded_parts(chdb_path, "merged_load", INSERTS)
    assert merging == 0 and parts < INSERTS // 4


def test_a_load_of_few_parts_is_not_waited_for(chdb_path, monkeypatch):
    waited = []
    monkeypatch.setattr(ClickHouseWarehouse, "_wait_for_merges", lambda self, table: waited.append(table))
    loaded_parts(chdb_path, "few_parts_load", clickhouse.MERGES_FEW_PARTS)
    assert waited == []
    loaded_parts(chdb_path, "few_parts_load", clickhouse.MERGES_FEW_PARTS + 1)
    assert waited == [BLOCKS.table]
