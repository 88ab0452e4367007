"""Run one fullprocess.py cycle with a timer around each stage; print the times as JSON.

    python -m bench.cycle_stages --config PATH [--no-api]

The stages are wrapped where cycle.steps calls them, so the product's code is what runs.
The last line printed is {"seconds": {stage: s}, "total": s, "peak_rss_mb": ...}; peak_rss_mb is
the cycle's own peak plus its largest child's (diagnostics times the stage scripts in children
while the cycle holds its memory): a bound on the memory the cycle ever needs at once.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from functools import wraps

SECONDS: dict[str, float] = {}
PEAK_AFTER: dict[str, int] = {}  # the process's peak memory (MiB) after each stage


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited at exec)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(name: str, func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            SECONDS[name] = SECONDS.get(name, 0.0) + time.perf_counter() - started
            PEAK_AFTER[name] = round(peak_mib())
    return wrapper


def instrument() -> None:
    """Wrap each stage of cycle.steps (and of its report refresh) in a timer."""
    import diagnostics
    import reporting
    from cycle import estimating, steps

    for attr, name in [("run_ingestion", "ingest"), ("evaluate_rows", "drift check"),
                       ("_record_data_drift", "drift check"), ("run_training", "train"),
                       ("run_scoring", "score"), ("deploy", "deploy")]:
        setattr(steps, attr, _timed(name, getattr(steps, attr)))
    for attr in ("run_estimate", "self_check"):  # the estimate and the check of it (issue 20)
        setattr(estimating, attr, _timed("estimate", getattr(estimating, attr)))
    diagnostics.run_diagnostics = _timed("diagnostics", diagnostics.run_diagnostics)
    for attr in ("plot_confusion_matrix", "build_risk_list", "build_report"):
        setattr(reporting, attr, _timed("report", getattr(reporting, attr)))
    if hasattr(reporting, "load_evaluated"):  # the refresh's one load and scoring (issue 21)
        reporting.load_evaluated = _timed("report", reporting.load_evaluated)
    steps.call_api_endpoints = _timed("api calls", steps.call_api_endpoints)


def main(argv: list[str]) -> int:
    """Run the cycle on argv's config and print the stage times."""
    started = time.perf_counter()
    instrument()
    from cycle.run import main as full_cycle

    code = full_cycle(argv, "benchmark cycle")
    total = time.perf_counter() - started
    own = peak_mib()
    # A child's ru_maxrss counts, from its fork, pages it shares with this process: an upper bound.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"exit": code, "seconds": SECONDS, "total": total, "peak_after": PEAK_AFTER,
                      "peak_rss_mb": round(own + children, 1),
                      "own_peak_rss_mb": round(own, 1), "child_peak_rss_mb": round(children, 1)}))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
