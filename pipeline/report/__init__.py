"""What the system tells people: the risk list (ranking the current clients, reading it back),
and the PDF report's pages and page layout.

May import ``pipeline.core``, ``pipeline.model``, ``pipeline.data``, pandas and matplotlib.
"""
