"""Every matplotlib figure of the system is made here: the PDF report's pages and the confusion
matrix (pipeline.report.pdf, reporting.py), and the pages' SVG charts (pipeline.web.charts,
pipeline.web.estimates); the PDF's pages are saved here too, in the PDF's standard fonts where
their text allows (save_pdf_page).

matplotlib is imported inside the functions (Agg backend, no pyplot state), so importing this
module costs nothing.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

# matplotlib's settings are one per process, and rc_context restores them on leaving: two
# threads of a worker drawing at once would each draw with the other's (or the defaults).
_DRAWING = threading.Lock()
# Text kept as text (searchable, smaller), and the same drawing gives the same file.
SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "risk", "font.size": 10}


def new_figure(size: tuple[float, float]):
    """A matplotlib Figure drawn by the Agg backend, outside pyplot's global state."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def svg_figure(size: tuple[float, float], draw: Callable[[object], None]) -> bytes:
    """A figure of size (inches) drawn by ``draw(fig)``, laid out tightly, as SVG: one drawing
    at a time in this process, under SVG_STYLE, with no date in the file."""
    import matplotlib

    with _DRAWING, matplotlib.rc_context(SVG_STYLE):
        fig = new_figure(size)
        draw(fig)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


# The PDF's standard fonts: Helvetica, named in the file and neither embedded nor drawn glyph by
# glyph, so a page of text is written in about half the time. They hold Windows-1252 only; a page
# with any other character (a client's name in another script) keeps the embedded DejaVu Sans.
# Helvetica's regular face is "Medium" in its metrics, so regular text asks for that weight (else
# matplotlib warns that it found no "normal" Helvetica); negative ticks get "-", which it holds.
PDF_CORE_STYLE = {"pdf.use14corefonts": True, "font.weight": "medium", "axes.unicode_minus": False}
_REGULAR = {"normal", "regular", "book", 400}


def save_pdf_page(pdf, fig) -> bool:
    """Add a figure to a PdfPages file, in the standard fonts when all its text is Windows-1252
    (True), else with embedded fonts (False). Its text is every Text of the figure, its tables'
    cells and its axes' tick labels as their formatters will write them; text that matplotlib
    would read as mathematics is drawn in its own fonts, so it keeps the embedded ones too."""
    import matplotlib

    with _DRAWING:
        with matplotlib.rc_context(PDF_CORE_STYLE):  # tick labels are formatted under it
            texts = _texts(fig)
            standard = all(_standard(text) for text in texts) and \
                all(_windows_1252(label) for label in _tick_labels(fig))
            if standard:
                for text in texts:
                    if text.get_fontweight() in _REGULAR:
                        text.set_fontweight("medium")
                pdf.savefig(fig)
        if not standard:
            pdf.savefig(fig)
    return standard


def _texts(fig) -> list:
    from matplotlib.table import Table
    from matplotlib.text import Text

    # A table's cells hold their text outside the artists findobj walks.
    return fig.findobj(Text) + [cell.get_text() for table in fig.findobj(Table)
                                for cell in table.get_celld().values()]


def _tick_labels(fig) -> list[str]:
    """The tick labels each axis will draw (they are made only when the figure is drawn)."""
    labels = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for formatter, locs in ((axis.get_major_formatter(), axis.get_majorticklocs()),
                                    (axis.get_minor_formatter(), axis.get_minorticklocs())):
                labels += [*formatter.format_ticks(locs), formatter.get_offset()]
    return labels


def _standard(text) -> bool:
    from matplotlib import cbook

    string = text.get_text()
    return _windows_1252(string) and not (text.get_parse_math() and cbook.is_math_text(string))


def _windows_1252(string: str) -> bool:
    try:
        string.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True
