"""Ingestion's internals: finding input files and what changed in them, reading and validating
one file (the general parser and the pyarrow fast path), reading many plain files at once, row
hashes, the row index of finaldata.csv, merging the files and the incremental append; what
makes a file an unlabelled batch (``labels``) and where its rows go (``unlabelled``).

May import ``pipeline.core``, numpy, pandas and pyarrow. ``inputs`` stays standard library only
(the cycle compares the folder with it before deciding to do any work).
"""
