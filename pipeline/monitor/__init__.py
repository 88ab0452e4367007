"""Watching the deployed model: what changed in the input folder since the last cycle
(``changes``), the drift tests (``drift``, with ``ecdf``: the data-drift figures from value
counts), the estimate of the scores before the labels come and its self-check (``estimate``)
and the cycle's decisions as pure functions of figures (``verdict``).

May import ``pipeline.core``, ``pipeline.ingest``, ``pipeline.model``, numpy and scipy.
``changes`` stays standard library only: the cycle uses it before deciding to do any work.
"""
