"""The estimate without labels (issue 20), measured with the truth known: on the project's
generator every record's true probability is known (pipeline.data.datagen.true_probability).

    python -m bench.estimate                  # writes the estimate section of bench/RESULTS.md
    BENCH_QUICK=1 python -m bench.estimate    # 30 trials, costs at smaller sizes: not the targets

Per trial, a model trained and "deployed" on 10,000 old-period rows (training.fit_model: the
selection, its calibration and coefficient covariance, as training.py records them); then
batches of the same mechanism drawn from the generator, each estimated as the cycle estimates
(cycle.estimating.scored_rows, pipeline.monitor.estimate.estimate_scores), its outcomes drawn
by the generator, and the realised F1 compared with:

- the estimate: the model's calibrated probabilities, the band with its own uncertainty;
- the oracle: the same estimate from the true probabilities (the limit: what a perfectly
  calibrated model with these predictions would say).

Conditions: no shift, and covariate shift (datagen's shift 1: clients twice as large, activity
falling a quarter further; the mechanism unchanged), at 200, 1,000 and 5,000 rows. The
self-check (pipeline.monitor.estimate.check_estimate, with the cycle's spread) on a labelled
batch of 500 rows at the full change (concept shift) and on a quiet one.

Cost: the shipped data's production cycle with each stage timed (bench.cycle_stages, three
runs, medians), and the estimate alone (the cycle's estimate_rows and the self-check) at two
sizes, for linearity.
"""

from __future__ import annotations

import json
import os
import shutil
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

TRIALS = 30 if QUICK else 200
TRAIN_ROWS = 10_000
SIZES = (200, 1_000, 5_000)
SHIFTS = (0.0, 1.0)
CHECK_ROWS = 500
COST_SIZES = (100_000, 1_000_000) if QUICK else (1_000_000, 10_000_000)
CYCLE_RUNS = 3


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[estimate {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def trial(number: int) -> dict:
    """One deployment and its batches: per condition, the errors and coverage of the estimate
    and the oracle; the self-check's verdicts."""
    import numpy as np

    from cycle.estimating import scored_rows
    from pipeline.core.config import DEFAULT_MODEL
    from pipeline.core.schema import TARGET
    from pipeline.data.datagen import bulk_records, true_probability
    from pipeline.monitor.estimate import check_estimate, estimate_scores, f1_of
    from training import fit_model

    seed = 3_000_017 * (number + 1)
    model, selection = fit_model(bulk_records(TRAIN_ROWS, seed=seed, change=0.0), DEFAULT_MODEL)
    record = selection.as_dict()
    out: dict = {"calibration": record["calibration"]["method"]}
    for shift in SHIFTS:
        for size in SIZES:
            batch = bulk_records(size, seed=seed + 1 + size + int(10 * shift), change=0.0,
                                 shift=shift)
            flagged, raw, probability, spread = scored_rows(model, record, batch)
            exited = batch[TARGET].to_numpy() == 1
            realised = float(f1_of(np.count_nonzero(flagged & exited), flagged.sum(),
                                   np.count_nonzero(~flagged & exited)))
            ours = estimate_scores(flagged, probability, raw, spread=spread)
            oracle = estimate_scores(flagged, true_probability(batch, 0.0), raw)
            out[f"{shift}|{size}"] = {
                "realised": realised, "ours": ours.f1, "oracle": oracle.f1,
                "covered": ours.f1_low <= realised <= ours.f1_high,
                "oracle_covered": oracle.f1_low <= realised <= oracle.f1_high,
                "width": ours.f1_high - ours.f1_low, "spread": spread}
    for name, change in (("concept", 1.0), ("quiet", 0.0)):
        batch = bulk_records(CHECK_ROWS, seed=seed + 99 + int(change), change=change)
        flagged, _, probability, spread = scored_rows(model, record, batch)
        check = check_estimate(flagged, probability, batch[TARGET].to_numpy(), spread=spread)
        out[name] = not check.holds
    return out


def quality(trials: int) -> dict:
    """Every trial, summed up per condition with 95% Wilson intervals."""
    from bench.quality import wilson

    started, runs = time.perf_counter(), []
    for number in range(trials):
        runs.append(trial(number))
        if number % 20 == 19:
            log(f"trials: {number + 1}/{trials} ({time.perf_counter() - started:.0f} s)")
    conditions = {}
    for shift in SHIFTS:
        for size in SIZES:
            cells = [r[f"{shift}|{size}"] for r in runs]
            ours = [abs(c["ours"] - c["realised"]) for c in cells]
            oracle = [abs(c["oracle"] - c["realised"]) for c in cells]
            covered = sum(c["covered"] for c in cells)
            oracle_covered = sum(c["oracle_covered"] for c in cells)
            conditions[f"{shift}|{size}"] = {
                "shift": shift, "rows": size, "trials": len(cells),
                "mae": statistics.fmean(ours), "oracle_mae": statistics.fmean(oracle),
                "ratio": statistics.fmean(ours) / statistics.fmean(oracle),
                "bias": statistics.fmean(c["ours"] - c["realised"] for c in cells),
                "oracle_bias": statistics.fmean(c["oracle"] - c["realised"] for c in cells),
                "coverage": covered / len(cells), "coverage_interval": wilson(covered,
                                                                              len(cells)),
                "oracle_coverage": oracle_covered / len(cells),
                "oracle_coverage_interval": wilson(oracle_covered, len(cells)),
                "width": statistics.fmean(c["width"] for c in cells),
                "spread": statistics.fmean(c["spread"] for c in cells)}
    checks = {name: {"rate": sum(r[name] for r in runs) / len(runs),
                     "hits": sum(r[name] for r in runs), "trials": len(runs),
                     "interval": wilson(sum(r[name] for r in runs), len(runs))}
              for name in ("concept", "quiet")}
    methods: dict[str, int] = {}
    for r in runs:
        methods[r["calibration"]] = methods.get(r["calibration"], 0) + 1
    return {"conditions": conditions, "checks": checks, "calibration": methods,
            "seconds": time.perf_counter() - started}


def cycle_cost() -> dict:
    """The production cycle of make run on a copy of the shipped data, each stage timed
    (bench.cycle_stages), CYCLE_RUNS times: medians of the estimate's seconds and the whole."""
    runs = []
    for k in range(CYCLE_RUNS):
        root = DATA / "projects" / "estimate-shipped"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for name in ("practicedata", "sourcedata", "testdata"):
            shutil.copytree(PROJECT / name, root / name)
        for name in ("config.json", "config.practice.json"):
            shutil.copy(PROJECT / name, root / name)
        for config in ("config.practice.json", "config.json"):
            proc = subprocess.run([sys.executable, "-m", "bench.cycle_stages", "--config",
                                   str(root / config), "--no-api"], cwd=PROJECT,
                                  capture_output=True, text=True, check=True,
                                  env={**os.environ, "RISK_LOG_LEVEL": "WARNING"})
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        runs.append({"estimate": figures["seconds"].get("estimate", 0.0),
                     "total": figures["total"], "seconds": figures["seconds"]})
        log(f"shipped cycle {k + 1}/{CYCLE_RUNS}: estimate {runs[-1]['estimate']:.3f} s of "
            f"{runs[-1]['total']:.2f} s")
    estimate = statistics.median(r["estimate"] for r in runs)
    total = statistics.median(r["total"] for r in runs)
    return {"estimate": estimate, "total": total, "share": estimate / total, "runs": runs}


def scale_cost() -> dict:
    """The estimate alone (the cycle's estimate_rows: predictions, calibration, the model's
    spread, the F1 law, the expected ROC AUC) and the self-check, at COST_SIZES rows."""
    import tempfile

    from cycle.estimating import estimate_rows, scored_rows
    from pipeline.core.config import DEFAULT_MODEL
    from pipeline.core.deployed import Deployed
    from pipeline.core.names import SCORE_FILE
    from pipeline.core.schema import TARGET
    from pipeline.data.datagen import bulk_records
    from pipeline.monitor.estimate import check_estimate
    from training import fit_model

    model, selection = fit_model(bulk_records(TRAIN_ROWS, seed=5, change=1.0), DEFAULT_MODEL)
    folder = Path(tempfile.mkdtemp(prefix="estimate-cost-"))
    (folder / SCORE_FILE).write_text("0.65\n")  # the deployed score the finding compares with
    deployed = Deployed(folder, {"version": 1, "training": {"selection": selection.as_dict()},
                                 "model_sha256": "bench"})
    out: dict = {}
    estimate_rows(model, deployed, bulk_records(10_000, seed=7, change=1.0), "warm-up")  # imports
    for rows in COST_SIZES:
        frame = bulk_records(rows, seed=6, change=1.0)
        started = time.perf_counter()
        estimate_rows(model, deployed, frame, "bench")
        estimated = time.perf_counter() - started
        started = time.perf_counter()
        flagged, _, probability, spread = scored_rows(model, selection.as_dict(), frame)
        check_estimate(flagged, probability, frame[TARGET].to_numpy(), spread=spread)
        checked = time.perf_counter() - started
        out[rows] = {"estimate": estimated, "check": checked}
        log(f"cost at {rows:,} rows: estimate {estimated:.2f} s, self-check {checked:.2f} s")
        del frame
    shutil.rmtree(folder, ignore_errors=True)
    small, large = COST_SIZES
    out["ratio"] = out[large]["estimate"] / out[small]["estimate"]
    out["rows_ratio"] = large / small
    return out


def run() -> dict:
    """Every figure of the section."""
    from bench.run import machine

    started = time.perf_counter()
    log(f"quality: {TRIALS} trials")
    results = {"machine": machine(), "quick": QUICK, "quality": quality(TRIALS)}
    log("cost: the shipped cycle")
    results["cycle"] = cycle_cost()
    log(f"cost: the estimate alone at {COST_SIZES} rows")
    results["scale"] = scale_cost()
    results["seconds"] = time.perf_counter() - started
    return results


def main() -> int:
    """Run the section and write it into RESULTS.md."""
    from bench.estimate_report import write_estimate

    results = run()
    (BENCH / "data").mkdir(exist_ok=True)
    (BENCH / "data" / "estimate.json").write_text(json.dumps(results, indent=1, default=str))
    write_estimate(results, OUT)
    log(f"wrote the estimate section of {OUT} in {results['seconds'] / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
