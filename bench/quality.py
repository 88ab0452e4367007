"""Quality: the model against the best attainable, each drift test's false alarms and power, and
the cost of choosing the model, on the project's generator, where every record's true
probability is known (pipeline.data.datagen.true_probability).

    python -m bench.quality                  # writes the quality sections of bench/RESULTS.md
    BENCH_QUICK=1 python -m bench.quality    # small sizes: the targets do not apply
    python -m bench.quality small            # only 4., small samples: its own section

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
4. Small samples (30 to 300 rows, as the course's own data is): the model training.fit_model
   chooses against the course's model (fit_model with model.family pinned to logistic), each
   scored by ROC AUC on 20,000 fresh rows of the same period; 60 seeded samples of each size
   (240 in all), the periods alternating. Its own section of RESULTS.md.
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
SMALL_SIZES = (30, 50, 100, 300)
SMALL_TRIALS = 10 if QUICK else 60  # per size
SMALL_FRESH = 20_000
SMALL_MARGIN = 0.02  # "as good as the course's model": ROC AUC at most this far below it


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


# 4. Small samples ---------------------------------------------------------------------------

def small_sample(rows: int, trial: int) -> dict | None:
    """One seeded sample of ``rows`` rows: the chosen model and the course's model on fresh
    rows of the same period (None when the sample holds one class: nothing to train)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from pipeline.core.config import DEFAULT_MODEL
    from pipeline.core.schema import FEATURES, TARGET
    from pipeline.data.datagen import bulk_records
    from training import fit_model

    change, seed = float(trial % 2), 2_000_003 * (trial + 1) + rows
    train = bulk_records(rows, seed=seed, change=change)
    if train[TARGET].nunique() < 2:
        return None
    fresh = bulk_records(SMALL_FRESH, seed=seed + 1, change=change)
    x, truth = fresh[list(FEATURES)], fresh[TARGET].to_numpy()
    ours, selection = fit_model(train, DEFAULT_MODEL)
    # REFERENCE: the course's model is the logistic candidate alone, selected the same way.
    course, _ = fit_model(train, {**DEFAULT_MODEL, "family": "logistic"})
    out = {"rows": rows, "change": change, "chosen": selection.chosen}
    for name, model in (("ours", ours), ("course", course)):
        p = model.predict_proba(x)[:, 1]
        predicted = model.predict(x)
        out[name] = {"roc_auc": float(roc_auc_score(truth, p)),
                     "constant": bool(np.ptp(p) <= 1e-12),
                     "one_class": bool(predicted.min() == predicted.max())}
    out["gap"] = out["ours"]["roc_auc"] - out["course"]["roc_auc"]
    return out


def small_samples(trials: int = SMALL_TRIALS, sizes: tuple[int, ...] = SMALL_SIZES) -> dict:
    """Every small sample, and the shares the targets read (constant, as good as the
    course's model), over all sizes and per size, with their 95% intervals."""
    started = time.perf_counter()
    samples, skipped = [], 0
    for rows in sizes:
        for trial in range(trials):
            sample = small_sample(rows, trial)
            if sample is None:
                skipped += 1
            else:
                samples.append(sample)
        log(f"small samples: {rows} rows done ({time.perf_counter() - started:.0f} s)")
    return {"all": _shares(samples),
            "sizes": {rows: _shares([s for s in samples if s["rows"] == rows]) for rows in sizes},
            "skipped": skipped, "margin": SMALL_MARGIN, "fresh_rows": SMALL_FRESH,
            "samples": samples, "seconds": time.perf_counter() - started}


def _shares(group: list[dict]) -> dict:
    """How often the chosen model was constant, predicted one class, and was as good as the
    course's; which candidate was chosen how often; mean and worst ROC AUC."""
    counts = {"constant": sum(s["ours"]["constant"] for s in group),
              "one_class": sum(s["ours"]["one_class"] for s in group),
              "as_good": sum(s["gap"] >= -SMALL_MARGIN for s in group)}
    chosen: dict[str, int] = {}
    for s in group:
        chosen[s["chosen"]] = chosen.get(s["chosen"], 0) + 1
    return {"trials": len(group), "chosen": chosen,
            "ours_auc": statistics.fmean(s["ours"]["roc_auc"] for s in group),
            "course_auc": statistics.fmean(s["course"]["roc_auc"] for s in group),
            "worst_gap": min(s["gap"] for s in group),
            **{k: {"rate": n / len(group), "hits": n, "trials": len(group),
                   "interval": wilson(n, len(group))} for k, n in counts.items()}}


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
    log(f"4. small samples: {SMALL_TRIALS} of each of {SMALL_SIZES} rows")
    small = small_samples()
    from bench.run import machine

    return {"machine": machine(), "quick": QUICK, "models": models, "drift": drift,
            "scale": scale, "small": small, "seconds": time.perf_counter() - started}


def run_small() -> dict:
    """Only the small samples (4.), with the machine and mode their section names."""
    from bench.run import machine

    return {"machine": machine(), "quick": QUICK, "small": small_samples()}


def main(argv: list[str] | None = None) -> int:
    """Run the quality benchmark (or, given ``small``, only its small samples) and write its
    sections of RESULTS.md."""
    from bench.quality_report import write_quality, write_small

    only_small = (sys.argv[1:] if argv is None else argv) == ["small"]
    results = run_small() if only_small else run()
    (BENCH / "data").mkdir(exist_ok=True)
    name = "quality-small.json" if only_small else "quality.json"
    (BENCH / "data" / name).write_text(json.dumps(results, indent=1))
    if not only_small:
        write_quality(results, OUT)
    write_small(results, OUT)
    seconds = results["small"]["seconds"] if only_small else results["seconds"]
    log(f"wrote the quality section{'' if only_small else 's'} of {OUT} in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
