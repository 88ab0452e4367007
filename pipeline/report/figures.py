"""Every matplotlib figure of the system is made here: the PDF report's pages and the confusion
matrix (pipeline.report.pdf, reporting.py), and the pages' SVG charts (pipeline.web.charts).

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
