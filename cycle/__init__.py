"""The monitoring cycle that fullprocess.py runs: above the stage scripts, which it chains.

- ``quick``: is there anything to do at all? Standard library only, no stage imported.
- ``run``: what is new by checksum, then the right steps; still light until there is work.
- ``changes``: what the input folder holds that no finished cycle handled (seenfiles.json);
  standard library only, as ``errors`` (``CycleError``, the light and heavy halves' one error).
- ``steps``: the driver: runs the stage scripts, gathers evidence, asks
  pipeline.monitor.verdict, records and logs the decision, refreshes the reports.
- ``estimating``: the estimate of the deployed model before the labels come, its self-check
  when they do, and the one place its findings are raised (``raise_finding``).
- ``in_process``: the API's answers for the cycle when no API of its deployment serves: the app
  (made by the factory fullprocess.py hands down) called in the cycle's own process.
- ``local_server``: ``gunicorn wsgi:app`` on a free loopback port for a while, for tools/,
  bench/ and the tests (the cycle starts none).

May import the stage scripts and ``pipeline``; only the entry points (fullprocess.py, tools/,
bench/, the Makefile's ``serve``) import it.
"""
