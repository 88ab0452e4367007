"""What the system tells people: the risk list (ranking the current clients, reading it back),
what raises each client's risk (``explain``), the PDF report's pages (the estimate's:
``estimate_page``) and page layout, and every figure drawn, the pages' SVG charts included
(``figures``).

May import ``pipeline.core``, ``pipeline.model``, ``pipeline.data``, pandas, pyarrow and
matplotlib.
"""
