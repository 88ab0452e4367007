"""The estimate section of bench/RESULTS.md (issue 20), from the figures of bench.estimate."""

from __future__ import annotations

from pathlib import Path

from bench.sections import update_section

MAE_RATIO, BIAS = 1.25, 0.01
COVERAGE = (0.85, 0.95)
CONCEPT, QUIET = 0.95, 0.05
CYCLE_SHARE, LINEAR = 0.10, 1.2  # time per row at the larger size: at most 1.2x the smaller's
SHIFTS = {0.0: "no shift", 1.0: "covariate shift"}


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _share(rate: float, interval) -> str:
    low, high = interval
    return f"{rate:.1%} ({low:.1%}–{high:.1%})"


def summary_rows(r: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) of every target of the issue."""
    rows = []
    cells = r["quality"]["conditions"]
    for shift in (1.0, 0.0):
        for size in (1_000, 5_000):
            c = cells[f"{shift}|{size}"]
            rows.append((f"{SHIFTS[shift]}, {size:,} rows: MAE, ours / the oracle's",
                         f"{c['ratio']:.2f}x ({c['mae']:.4f} / {c['oracle_mae']:.4f})",
                         f"<= {MAE_RATIO}x", c["ratio"] <= MAE_RATIO))
            rows.append((f"{SHIFTS[shift]}, {size:,} rows: bias", f"{c['bias']:+.4f}",
                         f"< {BIAS}", abs(c["bias"]) < BIAS))
    for shift in (1.0, 0.0):
        for size in (200, 1_000, 5_000):
            c = cells[f"{shift}|{size}"]
            rows.append((f"{SHIFTS[shift]}, {size:,} rows: the 90% band covers the realised F1",
                         _share(c["coverage"], c["coverage_interval"]),
                         f"{COVERAGE[0]:.0%}–{COVERAGE[1]:.0%}",
                         COVERAGE[0] <= c["coverage"] <= COVERAGE[1]))
    checks = r["quality"]["checks"]
    rows.append(("self-check, concept shift at the full change, first labelled batch of 500 "
                 "rows: flagged", _share(checks["concept"]["rate"], checks["concept"]["interval"]),
                 f">= {CONCEPT:.0%}", checks["concept"]["rate"] >= CONCEPT))
    rows.append(("self-check, a quiet labelled batch of 500 rows: flagged",
                 _share(checks["quiet"]["rate"], checks["quiet"]["interval"]),
                 f"<= {QUIET:.0%}", checks["quiet"]["rate"] <= QUIET))
    c = r["cycle"]
    rows.append(("the estimate's share of the shipped production cycle",
                 f"{c['share']:.1%} ({c['estimate']:.3f} s of {c['total']:.2f} s)",
                 f"<= {CYCLE_SHARE:.0%}", c["share"] <= CYCLE_SHARE))
    s = r["scale"]
    sizes = [k for k in s if k not in ("ratio", "rows_ratio")]
    per_row = s["ratio"] / s["rows_ratio"]
    rows.append((f"the estimate alone, {int(sizes[0]):,} to {int(sizes[1]):,} rows: time per "
                  "row, larger / smaller", f"{per_row:.2f}x ({s[sizes[0]]['estimate']:.2f} s, "
                  f"{s[sizes[1]]['estimate']:.2f} s)", f"<= {LINEAR}x (linear)",
                  per_row <= LINEAR))
    return rows


def write_estimate(r: dict, path: Path) -> None:
    """Write the estimate section of the results file."""
    q = r["quality"]
    trials = next(iter(q["conditions"].values()))["trials"]
    lines = ["## The estimate without labels", "",
             "Written by `python -m bench.estimate` (part of `make bench`); "
             + ("**quick mode (BENCH_QUICK=1): few trials, small sizes, the targets do not "
                "apply.**" if r["quick"] else "full sizes.")
             + f" Machine: {r['machine']}. The section took {r['seconds'] / 60:.1f} minutes.",
             "",
             f"{trials} trials, each a model trained by `training.fit_model` on 10,000 rows of "
             "the old period (with the calibration and coefficient covariance training "
             "records), then batches of the same mechanism from the project's generator, "
             "estimated as the cycle estimates them (`cycle.estimating.scored_rows`, "
             "`pipeline.monitor.estimate`). The oracle is the same estimate from the "
             "generator's true probabilities. Covariate shift: `datagen`'s shift 1 (clients "
             "twice as large, last month's activity a quarter lower against last year's; the "
             "mechanism unchanged). Rates with their 95% Wilson intervals.", "",
             "### Summary", "", "| figure | measured | target | |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {_verdict(ok)} |" for a, b, c, ok in summary_rows(r)]
    lines += ["", "### Every condition", "",
              "| batch | rows | MAE ours | MAE oracle | ratio | bias ours | bias oracle | "
              "band covers (ours) | band covers (oracle) | mean band width | model spread |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in q["conditions"].values():
        lines.append(f"| {SHIFTS[c['shift']]} | {c['rows']:,} | {c['mae']:.4f} | "
                     f"{c['oracle_mae']:.4f} | {c['ratio']:.2f} | {c['bias']:+.4f} | "
                     f"{c['oracle_bias']:+.4f} | "
                     f"{_share(c['coverage'], c['coverage_interval'])} | "
                     f"{_share(c['oracle_coverage'], c['oracle_coverage_interval'])} | "
                     f"{c['width']:.4f} | {c['spread']:.4f} |")
    methods = ", ".join(f"{k} {v}" for k, v in q["calibration"].items())
    cycle, scale = r["cycle"], r["scale"]
    stages = cycle["runs"][-1]["seconds"]
    sizes = [k for k in scale if k not in ("ratio", "rows_ratio")]
    lines += ["", f"Calibration kept by training's cross-check: {methods} (of {trials}).", "",
              "### Cost", "",
              f"The production cycle of `make run` on a copy of the shipped data "
              f"(`bench.cycle_stages`, {len(cycle['runs'])} runs, medians): the estimate "
              "(estimate of the book and each batch, estimate.json and history, the self-check "
              f"on the new labelled rows) took {cycle['estimate']:.3f} s of "
              f"{cycle['total']:.2f} s. "
              "Stages of the last run: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
              + ".", "",
              "The estimate alone (`cycle.estimating.estimate_rows`: predictions, calibration, "
              "the model's spread on a 20,000-row sample, the F1 distribution, the expected ROC "
              "AUC; and the self-check), on new-period rows:", "",
              "| rows | estimate | self-check |", "| ---: | ---: | ---: |"]
    for size in sizes:
        lines.append(f"| {int(size):,} | {scale[size]['estimate']:.2f} s | "
                     f"{scale[size]['check']:.2f} s |")
    update_section(path, "estimate", lines)
