"""The quality sections of bench/RESULTS.md, from the figures of bench.quality."""

from __future__ import annotations

from pathlib import Path

from bench.sections import update_section
from pipeline.model.choice import ORDER

TARGET_FA, TARGET_POWER = 0.05, {200: 0.60, 1_000: 0.90, 5_000: 0.90}
TARGET_AS_GOOD = 0.90  # small samples: chosen model within the margin of the course's, or better
PERIODS = {0.0: "old period", 1.0: "new period"}


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _rate(cell: dict) -> str:
    low, high = cell["interval"]
    return f"{cell['rate']:.1%} ({low:.1%}–{high:.1%})"


def summary_rows(r: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) of every quality target."""
    rows = []
    for m in r["models"]:
        rows.append((f"ROC AUC, {PERIODS[m['change']]}: Bayes-optimal − ours",
                     f"{m['gap']:.4f} ({m['bayes']['roc_auc']:.4f} − {m['ours']['roc_auc']:.4f})",
                     "<= 0.01", m["gap"] <= 0.01))
    drift = r["drift"]
    sizes = sorted({int(k.split("|")[1]) for k in drift})
    for size in sizes:
        fa = drift[f"loss|{size}|0.0"]
        rows.append((f"default drift test (loss), {size:,}-row batches: false alarms",
                     _rate(fa), f"<= {TARGET_FA:.0%}", fa["rate"] <= TARGET_FA))
    for size in sizes:
        power = drift[f"loss|{size}|0.5"]
        target = TARGET_POWER.get(size, 0.9)
        rows.append((f"default drift test (loss), {size:,}-row batches: power at half the change",
                     _rate(power), f">= {target:.0%}", power["rate"] >= target))
    s = r["scale"]
    rows.append((f"training on {s['rows']:,} rows: time, ours / the course's",
                 f"{s['time_ratio']:.2f}x ({s['ours']['seconds']:.1f} s / "
                 f"{s['course']['seconds']:.1f} s)", "about 1x", s["time_ratio"] <= 1.5))
    rows.append((f"training on {s['rows']:,} rows: peak memory, ours / the course's",
                 f"{s['memory_ratio']:.2f}x ({s['ours']['peak_mib']:,.0f} MiB / "
                 f"{s['course']['peak_mib']:,.0f} MiB)", "<= 1.1x", s["memory_ratio"] <= 1.1))
    return rows


def write_quality(r: dict, path: Path) -> None:
    """Write the quality section of the results file."""
    trials = next(iter(r["drift"].values()))["trials"]
    lines = ["## Quality", "",
             "Written by `python -m bench.quality` (part of `make bench`); "
             + ("**quick mode (BENCH_QUICK=1): small sizes, the targets do not apply.**"
                if r["quick"] else "full sizes.")
             + " On the project's generator, which knows every record's true probability "
             "(`pipeline.data.datagen.true_probability`).", "",
             f"Machine: {r['machine']}. The section took {r['seconds'] / 60:.1f} minutes.", "",
             "### Summary", "", "| figure | measured | target | |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {_verdict(ok)} |" for a, b, c, ok in summary_rows(r)]
    lines += ["", "### 1. The model against the best attainable", "",
              "`training.fit_model` (candidates compared by 5-fold cross-validation on "
              "log-loss, threshold tuned for F1, the best fitted on every row) on 10,000 rows; "
              f"scored on {r['models'][0]['score_rows']:,} fresh rows of the same period. "
              "Bayes-optimal: the true probabilities themselves. The course's model: scaled "
              "logistic regression on the raw counts, threshold 0.5.", "",
              "| period | model | ROC AUC | log-loss | Brier | F1 | highest probability |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for m in r["models"]:
        for name, label in (("bayes", "Bayes-optimal"), ("ours", f"ours: {m['chosen']}"),
                            ("course", "the course's")):
            x = m[name]
            lines.append(f"| {PERIODS[m['change']]} | {label} | {x['roc_auc']:.4f} | "
                         f"{x['log_loss']:.4f} | {x['brier']:.4f} | "
                         f"{x['f1']:.4f} | {x.get('max_probability', float('nan')):.5f} |"
                         if "f1" in x else
                         f"| {PERIODS[m['change']]} | {label} | {x['roc_auc']:.4f} | "
                         f"{x['log_loss']:.4f} | {x['brier']:.4f} | – | – |")
    lines += [""]
    for m in r["models"]:
        lines += [f"Cross-validation, {PERIODS[m['change']]} (chosen: {m['chosen']}, threshold "
                  f"{m['threshold']:.3f}: F1 {m['ours']['f1']:.4f} on the fresh rows against "
                  f"{m['ours']['f1_at_half']:.4f} at 0.5; selection and fit took "
                  f"{m['train_seconds']:.1f} s):", "",
                  "| model | log-loss | ROC AUC | Brier | F1 at 0.5 |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for row in m["table"]:
            lines.append(f"| {row['model']} | " + " | ".join(
                f"{row[k]:.4f} ± {row[k + '_sd']:.4f}" for k in ("log_loss", "roc_auc", "brier",
                                                                 "f1")) + " |")
        lines.append("")
    lines += ["### 2. Drift tests", "",
              f"{trials} trials; each trial is one deployment: a model trained by "
              "`training.fit_model` on 10,000 rows of the old period, its F1 recorded on "
              "2,000 held-out rows, its reference log-loss recorded at training, and five "
              "quiet cycles of the batch size in its score history. Then one batch at each "
              "share of the behaviour change is judged by `pipeline.monitor.verdict.decide`, "
              "the cycle's own function, with the default config. A cell is the share of "
              "trials that retrained, with its 95% Wilson interval; the 0% column is the "
              "false-alarm rate.", ""]
    sizes = sorted({int(k.split("|")[1]) for k in r["drift"]})
    changes = sorted({float(k.split("|")[2]) for k in r["drift"]})
    tests = list(dict.fromkeys(k.split("|")[0] for k in r["drift"]))
    lines += ["| test | batch | " + " | ".join(f"{c:.0%} change" for c in changes) + " |",
              "| --- | ---: | " + " | ".join("---:" for _ in changes) + " |"]
    for test in tests:
        for size in sizes:
            lines.append(f"| {test}{' (default)' if test == 'loss' else ''} | {size:,} | "
                         + " | ".join(_rate(r["drift"][f"{test}|{size}|{c}"])
                                      for c in changes) + " |")
    s = r["scale"]
    lines += ["", "### 3. Training at scale", "",
              f"`python -m bench.train_compare {{course,ours}} <finaldata of {s['rows']:,} "
              f"rows>`, {3} interleaved runs each, medians; peak memory is the process's "
              "VmHWM. Both read the file the same way (`training.read_training_data`).", "",
              "| training | seconds | peak memory |", "| --- | ---: | ---: |",
              f"| the course's (scaled logistic regression, every row) | "
              f"{s['course']['seconds']:.1f} | {s['course']['peak_mib']:,.0f} MiB |",
              f"| ours (selection on a capped subsample, tuned threshold, the chosen "
              f"{s['ours']['chosen']} fitted on every row) | {s['ours']['seconds']:.1f} | "
              f"{s['ours']['peak_mib']:,.0f} MiB |", ""]
    update_section(path, "quality", lines)


def small_rows(small: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) of the small-sample targets."""
    every = small["all"]
    return [("chosen model constant on the fresh rows", _rate(every["constant"]), "0%",
             every["constant"]["hits"] == 0),
            (f"chosen model's ROC AUC within {small['margin']} of the course model's, or "
             "better", _rate(every["as_good"]), f">= {TARGET_AS_GOOD:.0%}",
             every["as_good"]["rate"] >= TARGET_AS_GOOD)]


def write_small(r: dict, path: Path) -> None:
    """Write the small-sample section of the results file."""
    small = r["small"]
    every = small["all"]
    names = [n for n in ORDER if any(n in group["chosen"] for group in small["sizes"].values())]
    lines = ["## Quality on small samples", "",
             "Written by `python -m bench.quality small` (and by `python -m bench.quality`); "
             + ("**quick mode (BENCH_QUICK=1): few samples, the targets do not apply.**"
                if r["quick"] else "full sizes.")
             + f" Machine: {r['machine']}. The section took {small['seconds'] / 60:.1f} "
             "minutes.", "",
             f"{every['trials']} seeded samples of the project's generator "
             f"(`pipeline.data.datagen.bulk_records`), of {', '.join(map(str, small['sizes']))} "
             "rows, the old and the new period in turn"
             + (f" ({small['skipped']} more held one class and were left out)"
                if small["skipped"] else "") + ". "
             + "Each trained by `training.fit_model` (the selection: candidates that rank, "
             "the simplest within one standard error, the threshold and its fallbacks) and by "
             "the course's model, `fit_model` with `model.family` pinned to `logistic`; both "
             f"scored by ROC AUC on {small['fresh_rows']:,} fresh rows of the same period. "
             "Shares with their 95% Wilson intervals.", "",
             "| figure | measured | target | |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {_verdict(ok)} |" for a, b, c, ok in small_rows(small)]
    lines += ["", "| rows | samples | " + " | ".join(f"chose {n}" for n in names)
              + " | constant | one class predicted | as good as the course's | mean ROC AUC, "
              "ours / course's | worst ours − course's |",
              "| ---: | ---: | " + " | ".join("---:" for _ in names)
              + " | ---: | ---: | ---: | ---: | ---: |"]
    for rows, group in small["sizes"].items():
        lines.append(f"| {rows} | {group['trials']} | "
                     + " | ".join(str(group["chosen"].get(n, 0)) for n in names)
                     + f" | {_rate(group['constant'])} | {_rate(group['one_class'])} | "
                     f"{_rate(group['as_good'])} | {group['ours_auc']:.4f} / "
                     f"{group['course_auc']:.4f} | {group['worst_gap']:+.4f} |")
    update_section(path, "smallsamples", lines)
