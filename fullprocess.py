"""One monitoring cycle: new data? ingest it; drift? retrain, re-deploy and report.

Run from cron every 10 minutes (cronjob.txt). Almost every cycle finds nothing new: the quick
path (cycle/quick.py, standard library only) settles that from file sizes and times, in about the
time Python takes to start. Anything it cannot settle goes to the full cycle (cycle/run.py),
which reads checksums and imports the heavy libraries only when there is work.
"""

from __future__ import annotations

import os
import sys

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.json")


def main(argv: list[str] | None = None) -> int:
    """Run one cycle for the configuration; exit 0 when it did its job."""
    from cycle.quick import quick_cycle

    argv = sys.argv[1:] if argv is None else argv
    settled = quick_cycle(argv, DEFAULT_CONFIG)
    if settled is not None:
        return settled
    from cycle.run import main as full_cycle

    return full_cycle(argv, __doc__.splitlines()[0], make_app=_make_app)


def _make_app(config_path):
    """The API application of a config, for the cycle's API calls when no server of its
    deployment runs: answered in the cycle's own process (cycle.in_process)."""
    from app import create_app

    return create_app(config_path)


if __name__ == "__main__":
    sys.exit(main())
