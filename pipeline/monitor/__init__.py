"""Watching the deployed model: the drift tests (``drift``, with ``ecdf``: the data-drift
figures from value counts), the estimate of the scores before the labels come and its
self-check (``estimate``) and the cycle's decisions as pure functions of figures (``verdict``).

May import ``pipeline.core``, ``pipeline.model``, numpy and scipy. What the input folder
holds that no cycle handled is the cycle's own bookkeeping (cycle.changes).
"""
