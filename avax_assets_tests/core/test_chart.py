"""The views' chart reads at a glance: day ticks are dates, values are plain numbers (large ones in millions,
the unit in the axis label), never an offset such as `1e7`."""

import datetime as dt

from avax_assets.analytics.views import VIEWS
from avax_assets.core.chart import tick_label

ACTIVITY = next(view.chart for view in VIEWS if view.name == "daily_chain_activity")
DAYS = [dt.date(2024, 6, 1), dt.date(2024, 6, 2), dt.date(2024, 6, 3)]


def drawn(rows):
    figure = ACTIVITY.figure(rows)
    figure.canvas.draw()  # tick labels and offset texts are set while drawing, as when saving the PNG
    return figure.axes


def test_day_ticks_are_dates_and_large_values_read_in_millions():
    axes = drawn([(day, 43114, 183 + i, 41 + i, 34_512_345 + i * 3_000_000) for i, day in enumerate(DAYS)])
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == ["2024-06-01", "2024-06-02", "2024-06-03"]
    assert [axis.get_ylabel() for axis in axes] == ["transactions", "active addresses", "gas used (millions)"]
    assert all(axis.yaxis.get_offset_text().get_text() == "" for axis in axes)
    gas_ticks = [t.get_text() for t in axes[2].get_yticklabels()]
    assert "30" in gas_ticks and not any("e" in t for t in gas_ticks)
    assert ACTIVITY.png([(day, 43114, 1, 1, 1) for day in DAYS])[:4] == b"\x89PNG"


def test_many_days_keep_dates_readable_and_thousands_are_grouped():
    days = [dt.date(2024, 5, 1) + dt.timedelta(days=i) for i in range(60)]
    axes = drawn([(day, 43114, 20_000 + i, 5, 900_000) for i, day in enumerate(days)])
    labels = [t.get_text() for t in axes[-1].get_xticklabels()]
    assert 2 <= len(labels) <= 8 and all(dt.date.fromisoformat(label) in days for label in labels)
    assert "20,000" in [t.get_text() for t in axes[0].get_yticklabels()]
    assert axes[2].get_ylabel() == "gas used"


def test_tick_labels_never_use_exponents():
    assert [tick_label(v) for v in (0, 2.5, 25_000, 1_234_567, -0.0, 0.125)] == \
        ["0", "2.5", "25,000", "1,234,567", "0", "0.125"]


def test_each_chain_has_its_bars_side_by_side_named_in_a_legend():
    rows = [(day, chain, count, 3, 1_000) for day in DAYS for chain, count in ((43114, 100), (777001, 40))]
    axes = drawn(rows)
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["chain 43114", "chain 777001"]
    heights = sorted(round(bar.get_height()) for bar in axes[0].patches)
    assert heights == [40] * 3 + [100] * 3  # each chain's own transactions, every day
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == ["2024-06-01", "2024-06-02", "2024-06-03"]
