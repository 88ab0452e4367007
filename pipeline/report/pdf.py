"""Laying out report pages: A4 figures filled from top to bottom with text, tables and plots.

Its figures come from pipeline.report.figures (Agg backend, no pyplot state, matplotlib imported
only when one is made). A page keeps the text it draws, which makes a PDF report testable.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta

from pipeline.report.figures import new_figure

A4 = (8.27, 11.69)
LEFT, RIGHT, TOP, BOTTOM = 0.08, 0.92, 0.95, 0.06
LINE, ROW = 0.0165, 0.0185
_CHAR = 4.7 / 72  # inches per character of 8-point table text, generously
_WRAP = 104  # characters per line of 9-point text across the page


class Page:
    """One A4 page filled from top to bottom; ``lines`` holds every text it drew."""

    def __init__(self, title: str):
        self.fig = new_figure(A4)
        self.title = title
        self.lines: list[str] = []
        self.y = TOP
        self.lines.append(title)
        self._put(title, 16, "bold", 0.034)

    def _put(self, text: str, size: float, weight: str, step: float, color: str = "black"):
        # parse_math off: text between two $ (a file's or a client's name) is printed as it is,
        # never read as mathematics (an unknown command there failed the whole report).
        self.fig.text(LEFT, self.y, text, fontsize=size, weight=weight, va="top", color=color,
                      parse_math=False)
        self.y -= step

    def heading(self, text: str) -> None:
        """A section heading."""
        self.y -= 0.008
        self.lines.append(text)
        self._put(text, 12, "bold", 0.025)

    def text(self, *lines: str, color: str = "black") -> None:
        """Paragraphs, each wrapped to the page width (and kept whole in ``lines``)."""
        for line in lines:
            self.lines.append(line)
            for part in textwrap.wrap(line, _WRAP, subsequent_indent="    ") or [""]:
                self._put(part, 9, "normal", LINE, color)
        self.y -= 0.006

    def table(self, header: list[str], rows: list[list], widths: list[float],
              span: float = 1.0) -> None:
        """A table of text cells; column widths are relative, span is the share of the page."""
        room = int((self.y - BOTTOM) / ROW) - 1
        if len(rows) > room:  # never run off the page: say how much is left out
            rows = [*rows[: room - 1], [f"... and {len(rows) - room + 1} more",
                                       *[""] * (len(header) - 1)]]
        height = ROW * (len(rows) + 1)
        width = (RIGHT - LEFT) * span
        fractions = [w / sum(widths) for w in widths]
        cells = [[fit(value, f * width) for value, f in zip(row, fractions, strict=True)]
                 for row in rows]
        ax = self.fig.add_axes((LEFT, self.y - height, width, height))
        ax.axis("off")
        table = ax.table(cellText=cells, colLabels=header, colWidths=fractions, cellLoc="left",
                         bbox=(0, 0, 1, 1))
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        for (row, _), cell in table.get_celld().items():
            cell.PAD = 0.03  # of the cell's width; the default 0.1 indents wide columns far
            cell.set_edgecolor("#c0c0c0")
            cell.get_text().set_parse_math(False)
            if row == 0:
                cell.set_facecolor("#e3ebf5")
                cell.set_text_props(weight="bold")
        self.lines += [" | ".join(header), *(" | ".join(row) for row in cells)]
        self.y -= height + 0.014

    def axes(self, height: float):
        """Axes for a plot taking ``height`` of the page, room for its title and labels kept."""
        ax = self.fig.add_axes((LEFT + 0.07, self.y - height + 0.045, RIGHT - LEFT - 0.07,
                                height - 0.075))
        self.y -= height
        return ax

    def footer(self, text: str) -> None:
        """A small centred line at the bottom of the page."""
        self.fig.text(0.5, 0.025, text, ha="center", fontsize=7.5, color="grey", parse_math=False)


def fit(value: object, width: float) -> str:
    """Text cut with an ellipsis to fit a table column ``width`` (a share of the page)."""
    text = "" if value is None else str(value)
    chars = max(4, int(width * A4[0] / _CHAR) - 2)
    return text if len(text) <= chars else text[: chars - 1] + "…"


def when(iso: str | None) -> str:
    """An ISO-8601 UTC time as 'YYYY-MM-DD HH:MM UTC'."""
    if not iso:
        return "unknown"
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def number(value: float | None) -> str:
    """A figure for a table: whole numbers with separators, others to three decimals."""
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3f}"


def time_axis(ax, moments: list[datetime]) -> None:
    """Concise date ticks, a light grid and limits a little wider than the moments plotted."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)
    if moments:
        # matplotlib widens a single moment to years; a few percent (at least a minute) reads well
        pad = max((max(moments) - min(moments)) * 0.05, timedelta(minutes=1))
        ax.set_xlim(min(moments) - pad, max(moments) + pad)


def times(rows: list[dict], key: str = "time") -> list[datetime]:
    """The ISO-8601 times of history rows as datetimes."""
    return [datetime.fromisoformat(row[key]) for row in rows]
