"""The data itself: reading finaldata.csv (with pyarrow) and describing it (summary statistics,
missing values, each client's latest record), once per refresh; the current book across
finaldata.csv and the unlabelled batches (``book``); and the seeded generator of the shipped
datasets and of benchmark data.

May import ``pipeline.core``, numpy, pandas and pyarrow.
"""
