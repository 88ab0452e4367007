"""The model: how it is evaluated (the one evaluation that scoring, the cycle, the report and the
API use).

May import ``pipeline.core``, pandas, numpy and scikit-learn.
"""
