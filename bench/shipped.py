"""The re-deploying cycle on the shipped data, of the working tree and of an older commit, side
by side, stage by stage (issue 21): bench.run's target 6 alone.

    python -m bench.shipped    # prints it as JSON; make bench writes it to RESULTS.md

Each code prepares its own project from the same shipped files (the working tree's
practicedata, sourcedata and testdata) with the practice cycle, which deploys version 1; the
production cycle after it finds the drift, retrains, re-deploys and refreshes every output: the
cycle measured. A copy of each prepared project is taken for every run, and the runs alternate
(reference, ours, reference, ours, ...): each stage's figure is the median of its runs.
"""

from __future__ import annotations

import json
import sys

from bench.run import target_shipped


def main() -> int:
    """Run the comparison and print it."""
    print(json.dumps(target_shipped()[0], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
