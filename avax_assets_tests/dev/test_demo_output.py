"""The demo's rows per table fit a screen: two columns of every dataset's table, each count in its place."""

from avax_assets.catalogue import SCOPES
from avax_assets_dev.demo import folded, side_by_side


def test_the_rows_per_table_are_two_columns_within_80_characters():
    tables = [spec.dataset.table for specs in SCOPES.values() for spec in specs]
    counts = folded({table: [i, 10 * i, 30 * i] for i, table in enumerate(tables)})  # under 10,000 rows a day
    assert "teleporter_*" in counts and not any(t.startswith("teleporter_") and t != "teleporter_*" for t in counts)
    lines = side_by_side(counts, ["06-01", "06-02", "06-03"])
    assert len(lines) == 1 + (len(counts) + 1) // 2 and max(map(len, lines)) <= 80, lines
    assert lines[0].split() == ["table", "06-01", "06-02", "06-03"] * 2
    shown = {words[0]: words[1:4] for line in lines[1:] for words in (line.split()[:4], line.split()[4:]) if words}
    assert shown == {table: [f"{c:,}" for c in row] for table, row in counts.items()}
