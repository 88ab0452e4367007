"""The report's page on the estimate: the deployed model's scores on the current book and the
unlabelled batches before their labels come, the book's band over time, and the self-checks."""

from __future__ import annotations

import json

from pipeline.core import recorded
from pipeline.core.names import ESTIMATE_FILE
from pipeline.report.facts import ReportFacts
from pipeline.report.pdf import Page, number, time_axis, times, when

BOOK = "current book"  # cycle/estimating.py's name for the book's entry


def _score(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def page_estimate(f: ReportFacts, page: Page) -> None:
    """estimate.json as a table, the current book's estimates over time, the self-checks."""
    try:
        latest = json.loads((f.settings.model_folder / ESTIMATE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        latest = None
    if not isinstance(latest, dict):
        page.text("No estimate yet: the cycle estimates the deployed model after each "
                  "deployment and each batch of new data.")
        return
    book = latest["current_book"]
    page.text(f"Estimated {when(latest.get('estimated_at'))} for version "
              f"{latest['model_version']} (F1 {latest['deployed_f1']:.4f} on the test data), "
              "from its own probabilities, before anyone knows who will leave: each calibrated "
              "probability counts as an expected exit (confidence-based performance "
              f"estimation). The band holds the F1 the labels will show "
              f"{book.get('level', 0.9):.0%} of the time if the probabilities hold. "
              f"{latest.get('cannot_see', '').capitalize()}.", f"Based on: {book['based_on']}.")
    entries = [book, *latest.get("batches", [])]
    page.table(["Rows of", "Rows", "F1", "Band", "Precision", "Recall", "ROC AUC", "Finding"], [
        [e["name"], number(e["rows"]), _score(e["f1"]),
         f"{_score(e['f1_low'])}–{_score(e['f1_high'])}", _score(e["precision"]),
         _score(e["recall"]), _score(e["roc_auc"]),
         "no longer holds" if not e.get("holds", True) else
         "below the deployed score" if e.get("finding") else "none"]
        for e in entries], [2.4, 0.8, 0.7, 1.3, 0.9, 0.8, 0.9, 1.8])
    history = recorded.estimate_history(f.history, f.settings.name, BOOK)
    if len(history) > 1:
        ax = page.axes(0.26)
        moments = times(history)
        ax.fill_between(moments, [h["f1_low"] for h in history],
                        [h["f1_high"] for h in history], color="tab:blue", alpha=0.25,
                        label="band")
        ax.plot(moments, [h["f1"] for h in history], "o-", color="tab:blue",
                label="estimated F1 of the current book")
        ax.set(ylabel="F1", title="The current book's estimate at each cycle")
        ax.legend(loc="lower left", fontsize=8)
        time_axis(ax, moments)
    checks = recorded.self_checks(f.history, 12)
    page.heading("Self-checks: labelled batches against the estimate, newest first")
    if not checks:
        page.text("None yet: the first labelled batch after an estimate checks it.")
        return
    alpha = checks[0].get("alpha", 0.02)
    page.text("A labelled batch's realised F1 against the distribution the estimate gives the "
              f"same rows (a two-sided test at {alpha:.0%}: a batch on which the estimate holds "
              f"is flagged about {alpha:.0%} of the time).")
    page.table(["Time", "Version", "Rows", "Realised F1", f"Allowed ({1 - alpha:.0%})", "p",
                "Verdict"], [
        [when(c["time"]), f"v{c.get('model_version')}", number(c.get("rows")),
         _score(c.get("realised_f1")), f"{_score(c.get('low'))}–{_score(c.get('high'))}",
         f"{c.get('p_value', 0):.2g}", "holds" if c.get("holds") else "no longer holds"]
        for c in checks], [2.2, 0.8, 0.9, 1.0, 1.4, 0.8, 1.5])
