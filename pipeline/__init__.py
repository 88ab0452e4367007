"""Code shared by the stage scripts: configuration, schema, safe file writes, model files, history.

Every module here imports only the standard library at import time, so that the quiet path of
fullprocess.py (nothing new to do) never pays for pandas, numpy or scikit-learn.
"""
