"""One training on a finaldata.csv, in its own process, for bench.quality: its seconds and peak
memory, printed as JSON.

    python -m bench.train_compare course PATH   # the course's: read, scaled logistic regression
    python -m bench.train_compare ours PATH     # training.py's: read, select, tune, fit
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.cycle_stages import peak_mib


def main(argv: list[str]) -> int:
    """Train as asked on the file named, then print {"seconds", "peak_mib", "chosen"}."""
    kind, path = argv[0], Path(argv[1])
    from pipeline.core.config import DEFAULT_MODEL
    from pipeline.core.schema import FEATURES, TARGET
    from training import fit_model, read_training_data

    started = time.perf_counter()
    frame = read_training_data(path)
    chosen = None
    if kind == "course":  # REFERENCE: the model the course trains, on every row, nothing chosen
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        Pipeline([("scale", StandardScaler()), ("classify", LogisticRegression(
            max_iter=1000, random_state=0))]).fit(frame[list(FEATURES)], frame[TARGET])
    else:
        chosen = fit_model(frame, DEFAULT_MODEL)[1].chosen
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_mib": peak_mib(),
                      "chosen": chosen}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
