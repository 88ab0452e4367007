"""The pages of the PDF report: what each shows, drawn from facts gathered by reporting.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from pipeline.core import recorded, spreadsheet
from pipeline.core.names import FINAL_DATA, REJECTED, RISK_SCORES
from pipeline.core.packages import is_outdated, package_status
from pipeline.core.schema import ID
from pipeline.model.evaluate import confusion_counts
from pipeline.report.estimate_page import page_estimate
from pipeline.report.facts import ReportFacts
from pipeline.report.judgement import page_calibration, page_drift, page_selection
from pipeline.report.pdf import Page, number, time_axis, times, when

CLASS_LABELS = ("stayed", "exited")


def draw_confusion(ax, evaluation: dict) -> None:
    """A labelled heatmap of confusion counts on ax (rows actual, columns predicted).

    Drawn as seaborn's annotated heatmap draws it (cells on the Blues map between the smallest
    and largest count, white lines between them, each count in dark grey or white by the cell's
    luminance, no spines), without seaborn: its heatmap draws the whole figure once more to see
    whether the tick labels overlap, and two short labels never do.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    counts = np.array(confusion_counts(evaluation))
    cmap, norm = colormaps["Blues"], Normalize(counts.min(), counts.max())
    ax.pcolormesh(counts, cmap=cmap, norm=norm, linewidths=1, edgecolor="white")
    ax.set(xlim=(0, counts.shape[1]), ylim=(counts.shape[0], 0))  # row 0 at the top
    for (row, col), value in np.ndenumerate(counts):
        rgb = np.array(cmap(norm(value))[:3])
        linear = np.where(rgb <= .03928, rgb / 12.92, ((rgb + .055) / 1.055) ** 2.4)
        ax.text(col + .5, row + .5, f"{value:d}", ha="center", va="center", fontsize=14,
                color=".15" if linear @ [.2126, .7152, .0722] > .408 else "w")
    ax.set_xticks(np.arange(counts.shape[1]) + .5, CLASS_LABELS)
    ax.set_yticks(np.arange(counts.shape[0]) + .5, CLASS_LABELS, rotation="vertical",
                  va="center")
    ax.spines[:].set_visible(False)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Actual")
    ax.set_title(f"Model version {evaluation['version']}: F1 {evaluation['f1']:.3f} on "
                 f"{evaluation['rows']:,} rows of {evaluation['data']}",
                 parse_math=False)  # the test file's name as it is, even between two $


def _page_model(f: ReportFacts, page: Page) -> None:
    page.text(f"Generated {when(f.generated)} from {f.settings.config_path}.")
    if f.deployed is None:
        page.text(f"No model is deployed: {f.model_error}", color="darkred")
    else:
        m = f.deployed.manifest
        page.heading("Version")
        page.text(f"Version {m['version']}, deployed {when(m.get('deployed_at'))} with "
                  f"{Path(m.get('config', '?')).name}.",
                  f"Model file SHA-256: {m.get('model_sha256', 'not recorded')}")
        if f.model_error:
            page.text(f"The deployed model cannot be used: {f.model_error}", color="darkred")
        t = m.get("training", {})
        files = ", ".join(f"{x['name']} (SHA-256 {(x.get('sha256') or '?')[:12]})"
                          for x in t.get("training_files", [])) or "not recorded"
        a = f.deployed.adopted
        if a:
            page.heading("Adopted")
            page.text(f"A model this system did not train ({a.get('model_type') or '?'}), taken "
                      f"over byte for byte from the {a.get('source')} in {a.get('from')} on "
                      f"{when(a.get('adopted_at'))}. It recorded the score "
                      f"{a.get('recorded_score')!r}; the scores below were measured on the test "
                      "data when it was adopted.", *([f"It cannot be used: {a['problem']}"]
                                                     if a.get("problem") else []))
        else:
            page.heading("Training")
            page.text(
                f"Model: {t.get('model', 'logistic (an earlier release)')}, predicting an exit "
                f"from a probability of {t.get('threshold', 0.5):.3f} (see Model selection).",
                f"Trained {when(t.get('trained_at'))} on {t.get('rows', 0):,} rows "
                f"({t.get('positive_rate', 0):.1%} exited) of {t.get('training_data', '?')}.",
                f"Input files: {files}.",
                "Parameters: " + ", ".join(f"{k}={v}" for k, v in t.get("params", {}).items()),
                "Libraries: " + ", ".join(f"{k} {v}" for k, v in t.get("libraries", {}).items()))
        s = m.get("scores", {})
        page.heading("Scores on the test data, recorded at "
                     + ("adoption" if a else "deployment"))
        page.table(["Measure", "Value"], [
            ["F1", number(s.get("f1"))], ["Precision", number(s.get("precision"))],
            ["Recall", number(s.get("recall"))], ["ROC AUC", number(s.get("roc_auc"))],
            ["Brier score", number(s.get("brier"))], ["Log-loss", number(s.get("log_loss"))],
            ["Test rows", number(s.get("rows"))],
            ["Stayed: right / flagged", f"{s.get('tn')} / {s.get('fp')}"],
            ["Exited: missed / caught", f"{s.get('fn')} / {s.get('tp')}"],
        ], [3, 2], span=0.55)
        page.text(f"Test data: {m.get('test_data', 'not recorded')}")
    page.heading("Contents")
    page.text(*(f"{i}. {title}" for i, title in enumerate(PAGE_TITLES, 1)))


def _page_performance(f: ReportFacts, page: Page) -> None:
    ev = f.evaluation
    if ev is None:
        page.text(f"Not available: {f.model_error}", color="darkred")
        return
    auc = "n/a" if ev["roc_auc"] is None else f"{ev['roc_auc']:.3f}"
    page.text(f"Measured now with the deployed model (version {ev['version']}) on "
              f"{ev['rows']:,} rows of {ev['data']}: F1 {ev['f1']:.3f}, ROC AUC {auc}.",
              "Rows are what happened, columns what the model predicted; the diagonal is right.")
    draw_confusion(page.axes(0.42), ev)
    ax = page.axes(0.40)
    ax.plot(ev["fpr"], ev["tpr"], color="tab:blue", label=f"version {ev['version']} (AUC {auc})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set_xlabel("False positive rate (clients who stayed but were flagged)")
    ax.set_ylabel("True positive rate (leavers flagged)")
    ax.set_title("ROC curve")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)


def _page_history(f: ReportFacts, page: Page) -> None:
    deployments = recorded.deployments(f.history)
    scores = recorded.scorings(f.history)
    if not deployments:
        page.text("No deployments recorded yet.")
    else:
        ax = page.axes(0.30)
        moments = times(deployments)
        ax.plot(moments, [r["f1"] for r in deployments], drawstyle="steps-post",
                color="tab:blue", alpha=0.5)
        for action, marker, color in (("deploy", "o", "tab:blue"), ("rollback", "X", "tab:red"),
                                      ("adopt", "s", "tab:green")):
            points = [(t, r["f1"]) for t, r in zip(moments, deployments, strict=True)
                      if r["action"] == action]
            if points:
                ax.scatter(*zip(*points, strict=True), marker=marker, color=color, label=action,
                           zorder=3)
        f1 = [r["f1"] for r in deployments]
        for i in range(max(0, len(f1) - 15), len(f1)):
            # Above a point higher than its neighbours, below otherwise: close labels part.
            above = f1[i] >= max(f1[max(0, i - 1): i + 2])
            ax.annotate(f"v{deployments[i]['version']}", (moments[i], f1[i]), ha="center",
                        xytext=(0, 7 if above else -12), textcoords="offset points", fontsize=7)
        ax.set(ylim=(0, 1), ylabel="F1 on the test data",
               title="F1 of the deployed model after each deployment or rollback")
        ax.legend(loc="lower right")
        time_axis(ax, moments)
    if scores:
        page.text("Every recorded scoring: 'test' is a newly trained model on the test data, "
                  "'drift' the deployed model on newly arrived data.")
        ax = page.axes(0.27)
        for purpose in dict.fromkeys(r["purpose"] for r in scores):
            rows = [r for r in scores if r["purpose"] == purpose]
            dots = ax.scatter(times(rows), [r["f1"] for r in rows], s=14, label=f"{purpose}: F1")
            ax.scatter(times(rows), [r["roc_auc"] for r in rows], s=14, marker="s",
                       facecolors="none", edgecolors=dots.get_facecolor(),
                       label=f"{purpose}: ROC AUC")
        ax.set(ylim=(0, 1), title="F1 (dots) and ROC AUC (squares) of each scoring")
        ax.legend(loc="lower right", fontsize=8)
        time_axis(ax, times(scores))
    if deployments:
        page.heading("Latest deployments")
        rows = [[when(r["time"]), r["action"], f"v{r['version']}", number(r["f1"]),
                 ", ".join(x["name"] for x in json.loads(r["data_files"] or "[]")) or "–"]
                for r in reversed(deployments)]
        page.table(["Time", "Action", "Version", "F1", "Training files"], rows, [2.2, 1, 1, 1, 3])


def _page_data(f: ReportFacts, page: Page) -> None:
    if f.summary is None:
        page.text(f"No ingested data yet: {f.data_error}", color="darkred")
        return
    page.text(f"{f.settings.output_folder / FINAL_DATA}: {f.records:,} records of "
              f"{f.distinct:,} distinct clients.")
    page.heading("Summary statistics")
    stats = ("mean", "median", "std", "min", "q1", "q3", "max", "mode")
    page.table(["Column", "Mean", "Median", "Std", "Min", "Q1", "Q3", "Max", "Mode"],
               [[col, *(number(values[k]) for k in stats)] for col, values in f.summary.items()],
               [2.8, 1, 1, 1, 1, 1, 1, 1, 1])
    page.heading("Missing values")
    page.table(["Column", "Missing"], [[col, f"{share:.2%}"] for col, share in f.missing.items()],
               [3, 1], span=0.5)
    page.text("Ingestion rejects rows with an empty field, so any share above zero means the data "
              "was changed after ingestion.")


def _page_operations(f: ReportFacts, page: Page) -> None:
    page.heading("Time taken by each stage script")
    timings = recorded.stage_timings(f.history, f.settings.name)
    if not timings:
        page.text("Not measured yet: run diagnostics.py to time ingestion, training and scoring.")
    else:
        ax = page.axes(0.30)
        names = list(dict.fromkeys(r["name"] for r in timings))
        for name in names:
            rows = [r for r in timings if r["name"] == name]
            ax.plot(times(rows), [r["value"] for r in rows], "o-", ms=4,
                    label=name.removeprefix("seconds_"))
        how = {"history": " (the stage's last real run)", "rerun": " (run again on a scratch copy)"
               }.get((f.diagnostics or {}).get("execution_time_source"), "")
        ax.set(ylabel="seconds", ylim=(0, None),
               title=f"Seconds per script at each diagnostics run{how}")
        ax.legend(loc="upper left", fontsize=8)
        time_axis(ax, times(timings))
        page.table(["Script", "Last run (s)", "Median (s)", "Runs"], [
            [name.removeprefix("seconds_"), f"{values[-1]:.2f}", f"{np.median(values):.2f}",
             str(len(values))]
            for name in names
            for values in [[r["value"] for r in timings if r["name"] == name]]
        ], [2, 1.3, 1.3, 1], span=0.6)
    page.heading("Dependencies")
    packages = (f.diagnostics or {}).get("outdated_packages")
    if packages is None:
        page.text("Not checked yet: run diagnostics.py with access to the package index.")
        return
    old = sum(map(is_outdated, packages))
    unknown = sum(p["latest"] is None for p in packages)
    page.text(f"Checked {when(f.diagnostics.get('measured_at'))}: {old} outdated and "
              f"{unknown} of unknown latest version, of {len(packages)} requirements.")
    page.table(["Package", "Pinned", "Installed", "Latest", "Status"], [
        [p["name"], p["pinned"] or "–", p["installed"] or "not installed",
         p["latest"] or "unknown", package_status(p)]
        for p in packages
    ], [2.2, 1.2, 1.2, 1.2, 1.4])


def reason_kind(reason: str) -> str:
    """The kind of one reason of rejected.csv, for counting: a file's whole reason, a row's
    problem without its value ("lastmonth_activity is not a number")."""
    return reason if reason.startswith("file: ") else reason.split(": ", 1)[0]


def _page_ingestion(f: ReportFacts, page: Page) -> None:
    ingestion = recorded.latest_ingestion(f.history, f.settings.name)
    if ingestion is None:
        page.text(f"No ingestion recorded for {f.settings.name}.")
    else:
        run, s = ingestion.run, ingestion.summary
        page.text(f"Run {run['id']} with {run['config']}, started {when(run['started'])}, "
                  f"status {run['status']}.")
        if s:
            page.text(f"{s.get('files', 0)} files ingested and {s.get('files_rejected', 0)} set "
                      f"aside; {s.get('rows_read', 0):,} rows read, {s.get('rows_rejected', 0):,} "
                      f"rejected, {s.get('duplicates_dropped', 0):,} exact duplicates dropped, "
                      f"{s.get('rows_kept', 0):,} kept.")
        page.heading("Input files")
        page.table(["File", "Status", "Read", "Accepted", "Rejected", "Duplicates", "Note"], [
            [r["name"], r["status"], number(r["rows_read"]), number(r["rows_accepted"]),
             number(r["rows_rejected"]), number(r["duplicates_dropped"]), r["reason"] or ""]
            for r in ingestion.files
        ], [2, 1.1, 0.9, 1, 1, 1.2, 3.1])
    page.heading(f"What was set aside ({REJECTED})")
    path = f.settings.output_folder / REJECTED
    if not path.is_file():
        page.text(f"No {REJECTED} yet: run ingestion.py.")
        return
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        rejects = list(spreadsheet.read_rows(handle))  # the text as it came, not as protected
    if not rejects:
        page.text("Nothing: every row of every input file was accepted.")
        return
    whole = sum(r["line"] == "" for r in rejects)
    page.text(f"{whole:,} whole files and {len(rejects) - whole:,} rows set aside, "
              "by file and reason:")
    counts = Counter((r["source_file"], reason_kind(part)) for r in rejects
                     for part in r["reason"].split("; "))
    page.table(["File", "Reason", "Count"],
               [[name, reason, f"{n:,}"] for (name, reason), n in counts.most_common()],
               [2, 5, 1])


def _probability(p: float) -> str:
    return ">0.999" if p > 0.999 else "<0.001" if p < 0.001 else f"{p:.3f}"


def _page_clients(f: ReportFacts, page: Page) -> None:
    if f.clients is None:
        page.text(f"No risk scores: {f.model_error or f.data_error}", color="darkred")
        return
    top = f.clients.head(20)
    page.text(f"The {len(top)} clients most likely to leave, of {len(f.clients):,} scored by "
              f"model version {f.deployed.version} on their latest record in "
              f"{FINAL_DATA}. The full list is {RISK_SCORES}.")
    page.table(["Rank", "Corporation", "Probability", "Activity last month",
                "Activity last year", "Employees"], [
        [str(r["rank"]), r[ID], _probability(r["probability"]), number(r["lastmonth_activity"]),
         number(r["lastyear_activity"]), number(r["number_of_employees"])]
        for r in top.to_dict(orient="records")
    ], [0.8, 1.5, 1.2, 1.8, 1.8, 1.3])
    page.heading("Risk across all clients")
    ax = page.axes(0.28)
    ax.hist(f.clients["probability"], bins=40, range=(0, 1), color="tab:blue", alpha=0.8)
    threshold = f.evaluation["threshold"] if f.evaluation else 0.5
    ax.axvline(threshold, color="tab:red", ls="--",
               label=f"threshold of a predicted exit ({threshold:.3f})")
    ax.set(xlabel="Probability of attrition", ylabel="Clients")
    ax.legend()


PAGES = (
    ("Deployed model", _page_model),
    ("Model selection", page_selection),
    ("Model performance on the test data", _page_performance),
    ("Calibration on the test data", page_calibration),
    ("Score history", _page_history),
    ("Drift decisions", page_drift),
    ("Estimated performance before the labels come", page_estimate),
    ("Data: summary statistics and missing values", _page_data),
    ("Operations: timings and dependencies", _page_operations),
    ("Last ingestion", _page_ingestion),
    ("Top 20 clients by attrition risk", _page_clients),
)
PAGE_TITLES = tuple(title for title, _ in PAGES)


def render_pages(facts: ReportFacts) -> list[Page]:
    """One laid-out page per section, numbered in a footer."""
    pages = []
    for title, draw in PAGES:
        page = Page(title)
        draw(facts, page)
        pages.append(page)
    for n, page in enumerate(pages, 1):
        page.footer(f"Client attrition risk report, {when(facts.generated)}, "
                    f"page {n} of {len(pages)}")
    return pages
