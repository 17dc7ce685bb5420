"""A view's chart: a few series of a view over its first column (days), one panel each, as a PNG that the
view's asset shows in its metadata and the demo writes beside its summary. Days read as dates (2024-06-01),
values in plain numbers with thousands separators, large ones in millions or billions named in the axis label."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_DAY_TICKS = 7  # dates that fit side by side across the figure's width
SCALES = ((10**9, "billions"), (10**6, "millions"))


@dataclass(frozen=True)
class Chart:
    """`series`: (column, label) pairs of the view, plotted over its `x` column, one panel each; with `by`, a bar
    per value of that column side by side (e.g. one per chain), named in a legend as `by_label` and the value."""

    title: str
    x: str
    series: tuple[tuple[str, str], ...]
    by: str | None = None
    by_label: str = ""

    def query(self, qualified_view: str) -> str:
        columns = ", ".join([self.x, *([self.by] if self.by else []), *(column for column, _ in self.series)])
        return f"SELECT {columns} FROM {qualified_view} ORDER BY {self.x}"

    def figure(self, rows: Sequence[Sequence]) -> Figure:
        import matplotlib

        matplotlib.use("Agg")  # no display: render to memory
        from matplotlib import pyplot as plt, ticker

        first = 2 if self.by else 1
        groups = sorted({row[1] for row in rows}) if self.by else [None]
        figure, axes = plt.subplots(len(self.series), 1, sharex=True, figsize=(8, 2.2 * len(self.series)),
                                    constrained_layout=True, squeeze=False)
        axes = axes[:, 0]
        for index, (axis, (_, label)) in enumerate(zip(axes, self.series, strict=True), start=first):
            divisor, unit = scale([float(row[index]) for row in rows])
            for position, group in enumerate(groups):
                mine = [row for row in rows if not self.by or row[1] == group]
                axis.bar(_shifted([row[0] for row in mine], position, len(groups)),
                         [float(row[index]) / divisor for row in mine], width=0.8 / len(groups),
                         color=COLOURS[position % len(COLOURS)],
                         label=f"{self.by_label} {group}".strip() if self.by else None)
            axis.set_ylabel(f"{label} ({unit})" if unit else label)
            axis.yaxis.set_major_formatter(ticker.FuncFormatter(tick_label))
            axis.grid(axis="y", alpha=0.3)
        axes[0].set_title(self.title)
        if self.by and len(groups) > 1:
            axes[0].legend(fontsize="small")
        if rows:
            day_ticks(axes[-1], [row[0] for row in rows])
        return figure

    def png(self, rows: Sequence[Sequence]) -> bytes:
        from matplotlib import pyplot as plt

        figure = self.figure(rows)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=110)
        plt.close(figure)
        return out.getvalue()


COLOURS = ("#e84142", "#3b3b3b", "#f5a623", "#4a90d9")  # Avalanche red first


def _shifted(days: Sequence, position: int, groups: int) -> list:
    """Each group's bars beside the others' within the day's slot."""
    import datetime as dt

    width = 0.8 / groups
    offset = (position - (groups - 1) / 2) * width
    return [dt.datetime.combine(day, dt.time()) + dt.timedelta(days=offset) if groups > 1 else day for day in days]


def scale(values: Sequence[float]) -> tuple[int, str | None]:
    """The unit the largest value reads in: 34,000,000 gas → (10**6, "millions"); below a million, as is."""
    top = max((abs(v) for v in values), default=0)
    return next(((divisor, unit) for divisor, unit in SCALES if top >= divisor), (1, None))


def tick_label(value: float, _position: int | None = None) -> str:
    """2.5 → "2.5", 25000 → "25,000": never an offset or an exponent."""
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def day_ticks(axis, days: Sequence) -> None:
    """A tick per day, or per few days when there are many, each labelled with its date."""
    from matplotlib import dates

    span = (max(days) - min(days)).days + 1
    axis.xaxis.set_major_locator(dates.DayLocator(interval=math.ceil(span / MAX_DAY_TICKS)))
    axis.xaxis.set_major_formatter(dates.DateFormatter("%Y-%m-%d"))


def markdown_image(png: bytes, alt: str) -> str:
    """The PNG inline in Markdown (a data URI), which the Dagster UI renders in an asset's metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
