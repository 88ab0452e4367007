"""The data itself: reading finaldata.csv and describing it (summary statistics, missing
values), and the seeded generator of the shipped datasets and of benchmark data.

May import ``pipeline.core``, numpy and pandas.
"""
