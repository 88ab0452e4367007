"""Run one fullprocess.py cycle (its main, as cron runs it) with a timer around each stage;
print the times as JSON.

    python -m bench.cycle_stages --config PATH [--no-api]

The stages are wrapped where cycle.steps calls them, so the product's code is what runs; a stage
the code in the working directory does not have is left out, so this file can time an older
commit's cycle too (bench.run.target_shipped). The last line printed is {"seconds": {stage: s},
"cpu": {stage: s}, "total": s, "cpu_total": s, "peak_rss_mb": ...}: wall-clock and CPU seconds
(CPU: this process's, and the total with its children's; on a shared machine the CPU seconds
move less with the others' load than the wall-clock ones). peak_rss_mb is
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
CPU: dict[str, float] = {}  # this process's CPU seconds in each stage
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
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            SECONDS[name] = SECONDS.get(name, 0.0) + time.perf_counter() - started
            CPU[name] = CPU.get(name, 0.0) + time.process_time() - cpu
            PEAK_AFTER[name] = round(peak_mib())
    return wrapper


def instrument() -> None:
    """Wrap each stage of cycle.steps (and of its report refresh) in a timer."""
    import diagnostics
    import reporting
    from cycle import steps

    try:
        from cycle import estimating  # issue 20
    except ImportError:
        estimating = None
    wrapped = [(steps, "run_ingestion", "ingest"), (steps, "evaluate_rows", "drift check"),
               (steps, "_record_data_drift", "drift check"), (steps, "run_training", "train"),
               (steps, "run_scoring", "score"), (steps, "deploy", "deploy"),
               # the estimate and the check of it (issue 20)
               (estimating, "run_estimate", "estimate"), (estimating, "self_check", "estimate"),
               (diagnostics, "run_diagnostics", "diagnostics"),
               (reporting, "plot_confusion_matrix", "report"),
               (reporting, "build_risk_list", "report"), (reporting, "build_report", "report"),
               # the refresh's one load and scoring of the deployed model (issue 21)
               (reporting, "load_evaluated", "report"),
               (steps, "call_api_endpoints", "api calls")]
    for module, attr, name in wrapped:
        if hasattr(module, attr):
            setattr(module, attr, _timed(name, getattr(module, attr)))


def main(argv: list[str]) -> int:
    """Run the cycle on argv's config and print the stage times."""
    started = time.perf_counter()
    instrument()
    import fullprocess  # the cycle as cron runs it: the quick path, then the full cycle

    code = fullprocess.main(argv)
    total = time.perf_counter() - started
    own = peak_mib()
    # A child's ru_maxrss counts, from its fork, pages it shares with this process: an upper bound.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_total = time.process_time() + children.ru_utime + children.ru_stime
    children = children.ru_maxrss / 1024
    print(json.dumps({"exit": code, "seconds": SECONDS, "total": total, "cpu": CPU,
                      "cpu_total": cpu_total, "peak_after": PEAK_AFTER,
                      "peak_rss_mb": round(own + children, 1),
                      "own_peak_rss_mb": round(own, 1), "child_peak_rss_mb": round(children, 1)}))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
