"""Quality: the model against the best attainable, each drift test's false alarms and power, and
the cost of choosing the model, on the project's generator, where every record's true
probability is known (pipeline.data.datagen.true_probability).

    python -m bench.quality                  # writes the quality section of bench/RESULTS.md
    BENCH_QUICK=1 python -m bench.quality    # small sizes: the targets do not apply

1. ROC AUC of the trained model (training.fit_model: selection, threshold, fit) against the
   Bayes-optimal AUC (the true probabilities' own), old and new period, 10,000 training rows,
   200,000 scoring rows.
2. Every drift test the way the cycle applies it: per trial, a model trained and "deployed" on
   10,000 old-period rows, its F1 recorded on 2,000 held-out rows, its reference log-loss
   recorded at training, five quiet cycles of the batch size in its score history; then one
   batch at 0%, 25%, 50% and 100% of the behaviour change, judged by
   pipeline.monitor.verdict.decide, the cycle's own function. 200 trials (200 deployments).
3. Training on 10,000,000 rows: the current training.py against the course's (read + scaled
   logistic regression, no selection), side by side in subprocesses: time and peak memory.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
QUICK = os.environ.get("BENCH_QUICK") == "1"
OUT = Path(os.environ.get("BENCH_RESULTS", BENCH / "RESULTS.md"))
DATA = Path(os.environ.get("BENCH_DATA", BENCH / "data")) / ("quick" if QUICK else "full")

TRAIN_ROWS, TEST_ROWS = 10_000, 2_000
SCORE_ROWS = 50_000 if QUICK else 200_000
TRIALS = 30 if QUICK else 200
SIZES = (200, 1_000, 5_000)
CHANGES = (0.0, 0.25, 0.5, 1.0)
TESTS = ("loss", "raw", "parametric", "nonparametric")
QUIET_CYCLES = 5
BIG_ROWS = 1_000_000 if QUICK else 10_000_000
BIG_RUNS = 3


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[quality {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson interval of a rate."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


# 1. The model against the best attainable ---------------------------------------------------

def model_against_bayes(change: float, seed: int) -> dict:
    """The trained model and the course's model against the true probabilities."""
    from sklearn.metrics import brier_score_loss, f1_score, log_loss, roc_auc_score

    from pipeline.core.config import DEFAULT_MODEL
    from pipeline.core.schema import FEATURES, TARGET
    from pipeline.data.datagen import bulk_records, true_probability
    from pipeline.model.candidates import build_candidate
    from pipeline.model.evaluate import score_model
    from training import fit_model

    train = bulk_records(TRAIN_ROWS, seed=seed, change=change)
    fresh = bulk_records(SCORE_ROWS, seed=seed + 1, change=change)
    truth, bayes = fresh[TARGET].to_numpy(), true_probability(fresh, change)
    started = time.perf_counter()
    model, selection = fit_model(train, DEFAULT_MODEL)
    seconds = time.perf_counter() - started
    # REFERENCE: the course's model, scaled logistic regression on the raw counts, at 0.5.
    course = build_candidate("logistic", DEFAULT_MODEL).fit(train[list(FEATURES)], train[TARGET])
    out = {"change": change, "chosen": selection.chosen, "score_rows": SCORE_ROWS,
           "threshold": selection.threshold, "table": selection.table, "train_seconds": seconds,
           "bayes": {"roc_auc": float(roc_auc_score(truth, bayes)),
                     "log_loss": float(log_loss(truth, bayes)),
                     "brier": float(brier_score_loss(truth, bayes))}}
    for name, fitted in (("ours", model), ("course", course)):
        p = fitted.predict_proba(fresh[list(FEATURES)])[:, 1]
        scores = score_model(fitted, fresh)
        out[name] = {"roc_auc": float(roc_auc_score(truth, p)),
                     "log_loss": float(log_loss(truth, p)),
                     "brier": float(brier_score_loss(truth, p)), "f1": scores["f1"],
                     "max_probability": float(p.max())}
    # F1 at the tuned threshold against F1 at 0.5, same model, same rows.
    p = model.predict_proba(fresh[list(FEATURES)])[:, 1]
    out["ours"]["f1_at_half"] = float(f1_score(truth, p >= 0.5, zero_division=0))
    out["gap"] = out["bayes"]["roc_auc"] - out["ours"]["roc_auc"]
    return out


# 2. Drift tests -----------------------------------------------------------------------------

def drift_trial(trial: int) -> dict[str, bool]:
    """One deployment and its batches: {"test|size|change": retrained}."""
    from pipeline.core.config import DEFAULT_MODEL
    from pipeline.core.schema import TARGET
    from pipeline.data.datagen import bulk_records
    from pipeline.model.evaluate import evaluate_rows, score_model
    from pipeline.model.selection import loss_summary
    from pipeline.monitor.verdict import RETRAIN, Evidence, Policy, decide
    from training import fit_model

    seed = 1_000_003 * (trial + 1)
    model, selection = fit_model(bulk_records(TRAIN_ROWS, seed=seed, change=0.0), DEFAULT_MODEL)
    deployed_f1 = score_model(model, bulk_records(TEST_ROWS, seed=seed + 1, change=0.0))["f1"]
    out = {}
    for size in SIZES:
        past = [deployed_f1]  # the test score at deployment, then five quiet cycles' scores
        for k in range(QUIET_CYCLES):
            quiet = bulk_records(size, seed=seed + 10 + 100 * size + k, change=0.0)
            past.append(score_model(model, quiet)["f1"])
        for change in CHANGES:
            batch = bulk_records(size, seed=seed + 50 + 100 * size + int(change * 4), change=change)
            scores, losses = evaluate_rows(model, batch)
            evidence = Evidence(rows=size, exits=int(batch[TARGET].sum()),
                                new_score=scores["f1"], deployed_score=deployed_f1,
                                past_scores=tuple(past), new_loss=loss_summary(losses),
                                reference_loss=selection.reference)
            for test in TESTS:
                decision = decide(evidence, Policy(drift_test=test))
                out[f"{test}|{size}|{change}"] = decision.action == RETRAIN
    return out


def drift_rates(trials: int) -> dict:
    """Each test's retrain rate per batch size and change, with its 95% interval."""
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for trial in range(trials):
        for key, fired in drift_trial(trial).items():
            counts[key] = counts.get(key, 0) + int(fired)
        if trial % 20 == 19:
            log(f"drift trials: {trial + 1}/{trials} ({time.perf_counter() - started:.0f} s)")
    return {key: {"rate": hits / trials, "hits": hits, "trials": trials,
                  "interval": wilson(hits, trials)} for key, hits in counts.items()}


# 3. Training at scale -----------------------------------------------------------------------

def _big_data() -> Path:
    """BIG_ROWS new-period records as one finaldata.csv (cached in bench/data)."""
    from bench.datasets import csv_bytes
    from pipeline.data.datagen import bulk_records

    path = DATA / f"train-{BIG_ROWS}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(csv_bytes(bulk_records(BIG_ROWS, seed=42, change=1.0)))
        tmp.replace(path)
    return path


def _train_once(kind: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.train_compare", kind, str(path)],
                          cwd=PROJECT, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def training_at_scale() -> dict:
    """Old and new training on BIG_ROWS rows, interleaved, BIG_RUNS times each: medians."""
    path = _big_data()
    runs: dict[str, list[dict]] = {"course": [], "ours": []}
    for _ in range(BIG_RUNS):
        for kind in runs:
            runs[kind].append(_train_once(kind, path))
    out = {kind: {"seconds": statistics.median(r["seconds"] for r in rs),
                  "peak_mib": statistics.median(r["peak_mib"] for r in rs),
                  "chosen": rs[-1].get("chosen")} for kind, rs in runs.items()}
    out["rows"] = BIG_ROWS
    out["time_ratio"] = out["ours"]["seconds"] / out["course"]["seconds"]
    out["memory_ratio"] = out["ours"]["peak_mib"] / out["course"]["peak_mib"]
    return out


# The section --------------------------------------------------------------------------------

def run() -> dict:
    """Every quality figure."""
    started = time.perf_counter()
    log("1. the model against the Bayes-optimal AUC")
    models = [model_against_bayes(0.0, seed=501), model_against_bayes(1.0, seed=502)]
    log(f"2. drift tests: {TRIALS} trials")
    drift = drift_rates(TRIALS)
    log(f"3. training on {BIG_ROWS:,} rows")
    scale = training_at_scale()
    from bench.run import machine

    return {"machine": machine(), "quick": QUICK, "models": models, "drift": drift,
            "scale": scale, "seconds": time.perf_counter() - started}


def main() -> int:
    """Run the quality benchmark and write its section of RESULTS.md."""
    from bench.quality_report import write_quality

    results = run()
    (BENCH / "data").mkdir(exist_ok=True)
    (BENCH / "data" / "quality.json").write_text(json.dumps(results, indent=1))
    write_quality(results, OUT)
    log(f"wrote the quality section of {OUT} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
