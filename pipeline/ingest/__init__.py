"""Ingestion's internals: finding input files and what changed in them, reading and validating
one file (the general parser and the pyarrow fast path), reading many plain files at once, row
hashes, the row index of finaldata.csv, merging the files; one run (``update``): the append of
plain files (``append``), the general append (``incremental``), the rebuild (``rebuild``) and the
state between runs (``state``); what makes a file an unlabelled batch (``labels``) and where its
rows go (``unlabelled``).

May import ``pipeline.core``, numpy, pandas and pyarrow. ``inputs`` stays standard library only
(the cycle compares the folder with it before deciding to do any work); ``update``, ``append``,
``state``, ``loading``, ``outcome``, ``rowhash`` and ``rowindex`` import numpy and the standard
library only at import, so that an append of plain files imports neither pandas nor pyarrow.
"""
