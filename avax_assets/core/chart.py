"""A view's chart: a few series of a view over its first column (days), one panel each, as a PNG that the
view's asset shows in its metadata and the demo writes beside its summary."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """`series`: (column, label) pairs of the view, plotted over its `x` column, one panel each."""

    title: str
    x: str
    series: tuple[tuple[str, str], ...]

    def query(self, qualified_view: str) -> str:
        columns = ", ".join([self.x, *(column for column, _ in self.series)])
        return f"SELECT {columns} FROM {qualified_view} ORDER BY {self.x}"

    def png(self, rows: Sequence[Sequence]) -> bytes:
        import matplotlib

        matplotlib.use("Agg")  # no display: render to memory
        from matplotlib import dates, pyplot as plt

        xs = [row[0] for row in rows]
        figure, axes = plt.subplots(len(self.series), 1, sharex=True, figsize=(8, 2.2 * len(self.series)),
                                    constrained_layout=True)
        for index, (axis, (_, label)) in enumerate(zip(axes, self.series, strict=True), start=1):
            axis.bar(xs, [float(row[index]) for row in rows], color="#e84142", width=0.8)  # Avalanche red
            axis.set_ylabel(label)
            axis.grid(axis="y", alpha=0.3)
        axes[0].set_title(self.title)
        locator = dates.AutoDateLocator(minticks=2, maxticks=10)
        axes[-1].xaxis.set_major_locator(locator)
        axes[-1].xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=110)
        plt.close(figure)
        return out.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """The PNG inline in Markdown (a data URI), which the Dagster UI renders in an asset's metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
