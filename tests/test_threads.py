"""What the threads of one API worker share (gunicorn's gthread workers run four requests at
once in a process): caches computed once, charts drawn with their own settings."""

from __future__ import annotations

import threading
import time

import matplotlib

from pipeline.api.state import FileCache
from pipeline.core.decisions import Decision
from pipeline.web.charts import score_history_svg

THREADS = 4


def at_once(task, threads: int = THREADS) -> list:
    """task() run by several threads released together; their results."""
    start = threading.Barrier(threads)
    results: list = [None] * threads

    def run(i):
        start.wait()
        results[i] = task()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return results


def test_a_missing_value_is_computed_once_while_the_other_threads_wait():
    cache = FileCache()
    calls = []

    def compute():  # slow, like reading finaldata.csv
        calls.append(threading.get_ident())
        time.sleep(0.2)
        return object()

    values = at_once(lambda: cache.get("final", ("v1",), compute))
    assert len(calls) == 1
    assert all(value is values[0] for value in values)
    assert cache.get("final", ("v2",), compute) is not values[0] and len(calls) == 2


def test_charts_drawn_at_once_each_keep_their_settings():
    deployments = [{"version": v, "f1": 0.5 + v / 20, "time": f"2026-11-0{v}T10:00:00"}
                   for v in range(1, 4)]
    decisions = [Decision(run_id=i, time=f"2026-11-0{i}T09:00:00", drift=i % 2 == 0,
                          new_score=0.5, threshold=0.55) for i in range(1, 4)]
    alone = score_history_svg(deployments, decisions)
    before = dict(matplotlib.rcParams)
    for _ in range(5):
        drawn = at_once(lambda: score_history_svg(deployments, decisions))
        assert all(svg == alone for svg in drawn)
    assert b"<text" in alone  # text stays text (svg.fonttype "none"), as drawn alone
    assert dict(matplotlib.rcParams) == before
