"""The report's pages on the system's judgement: how the model was chosen, whether its
probabilities mean what they say, and every drift decision with its figures."""

from __future__ import annotations

from pipeline.core import recorded
from pipeline.core.decisions import Decision
from pipeline.report.facts import ReportFacts
from pipeline.report.pdf import Page, number, time_axis, times, when

CV_COLUMNS = (("log_loss", "Log-loss"), ("roc_auc", "ROC AUC"), ("brier", "Brier"),
              ("f1", "F1 at 0.5"))
RULE = ("Among the candidates whose out-of-fold probabilities rank the rows better than chance "
        "(not constant, pooled out-of-fold ROC AUC above 0.5), the simplest (logistic, then "
        "log_logistic, then boosting) whose mean log-loss is within one standard error of the "
        "lowest wins (the standard error of the paired per-row differences of out-of-fold "
        "log-loss); the course's logistic when none ranks. It is then fitted on every row.")


def _spread(row: dict, key: str) -> str:
    return f"{row[key]:.4f} ± {row[f'{key}_sd']:.4f}"


def _why(selection: dict) -> list[str]:
    """The recorded reason for the choice of model, where there is one."""
    return [f"Why {selection['chosen']}: {selection['rule']}."] if selection.get("rule") else []


def page_selection(f: ReportFacts, page: Page) -> None:
    """The cross-validation table of the deployed version's training, and its threshold."""
    training = (f.deployed.manifest.get("training", {}) if f.deployed else {})
    selection = training.get("selection")
    if not selection or not selection.get("table"):
        selection = selection or {}
        page.text("No cross-validation recorded for the deployed version (it was adopted from a "
                  "deployment this system did not make, trained by an earlier release, or "
                  "trained on too few rows to cross-validate).", *_why(selection),
                  *([f"Decision threshold {selection['threshold']:.3f}: {selection['note']}."]
                    if selection.get("note") else []))
        return
    # A version trained before the one-standard-error rule has no "rule": it took the lowest.
    how = (RULE if "rule" in selection else "The lowest mean log-loss wins; it is then fitted "
           "on every row.")
    page.text(f"Each candidate was scored by {selection['folds']}-fold stratified "
              f"cross-validation on {selection['rows']:,} rows of the "
              f"{training.get('rows', 0):,} it was trained on (a capped, stratified subsample "
              f"when there are more), the same folds for every candidate. {how} Mean ± "
              "standard deviation over the folds; lower is better for log-loss and Brier, "
              "higher for ROC AUC and F1.")
    rows = [[("» " if row["model"] == selection["chosen"] else "") + row["model"],
             *(_spread(row, key) for key, _ in CV_COLUMNS)] for row in selection["table"]]
    page.table(["Model", *(label for _, label in CV_COLUMNS)], rows, [2.2, 1.6, 1.6, 1.6, 1.6])
    page.text(*(f"{row['model']}: {row['description']}"
                + (f"; out-of-fold ROC AUC {row['oof_roc_auc']:.3f}" if "oof_roc_auc" in row
                   else "") + "." for row in selection["table"]), *_why(selection))
    page.heading("Decision threshold")
    tuned = selection.get("threshold_f1")
    at_half = next(r["f1"] for r in selection["table"] if r["model"] == selection["chosen"])
    source = (f": {selection['note']}." if selection.get("note") else
              ", the threshold that maximised F1 in the same cross-validation (scikit-learn's "
              "TunedThresholdClassifierCV)" + (f": F1 {tuned:.3f}, against {at_half:.3f} at "
                                               "0.5." if tuned is not None else "."))
    page.text(f"The deployed model predicts an exit when its probability is at least "
              f"{selection['threshold']:.3f}{source}"
              + " The probabilities themselves are the model's own, not shifted: the risk list "
              "ranks by them, and the calibration page shows what they are worth.")
    reference = selection.get("reference") or {}
    if reference:
        page.heading("Reference for the drift test")
        page.text(f"Out-of-fold log-loss of the chosen model on {reference['rows']:,} rows: "
                  f"mean {reference['mean']:.4f}, standard deviation {reference['sd']:.4f}. "
                  "The loss test compares the deployed model's log-loss on new rows with this.")


def page_calibration(f: ReportFacts, page: Page) -> None:
    """The reliability diagram and the Brier score on the test data."""
    ev = f.evaluation
    if ev is None:
        page.text(f"Not available: {f.model_error}", color="darkred")
        return
    page.text(f"Measured now with the deployed model (version {ev['version']}) on "
              f"{ev['rows']:,} rows of {ev['data']}: Brier score {ev['brier']:.4f}, log-loss "
              f"{ev['log_loss']:.4f}. The test rows are split into ten bins by predicted "
              "probability; a calibrated model's points lie on the diagonal: of the clients "
              "given 30%, about 30% left.")
    bins = ev.get("reliability") or []
    ax = page.axes(0.48)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], "o-",
            color="tab:blue", label=f"version {ev['version']}")
    for b in bins:
        ax.annotate(f"{b['rows']:,}", (b["predicted"], b["observed"]), fontsize=7,
                    xytext=(4, -10), textcoords="offset points", color="grey")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Mean predicted probability of attrition",
           ylabel="Share that exited", title="Reliability diagram (rows per bin in grey)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    page.table(["Bin", "Rows", "Predicted", "Exited", "Gap"], [
        [str(i), f"{b['rows']:,}", f"{b['predicted']:.3f}", f"{b['observed']:.3f}",
         f"{b['observed'] - b['predicted']:+.3f}"] for i, b in enumerate(bins, 1)
    ], [0.8, 1, 1.2, 1.2, 1.2], span=0.6)


def _figures(d: Decision) -> str:
    if d.used == "loss" and None not in (d.new_loss, d.reference_loss, d.relative_rise,
                                         d.p_value):
        return (f"log-loss {d.new_loss:.4f} vs {d.reference_loss:.4f} "
                f"({d.relative_rise:+.1%}), p {d.p_value:.2g}")
    if d.new_score is not None and d.threshold is not None:
        return f"F1 {d.new_score:.4f} vs threshold {d.threshold:.4f}"
    return "–"


def page_drift(f: ReportFacts, page: Page) -> None:
    """Every drift decision of this configuration over time, with its test and figures."""
    decisions = recorded.drift_decisions(f.history, f.settings.name)
    policy = f.settings
    page.text(f"Test in the config: {policy.drift_test}"
              + (f" (drift when the mean log-loss rises by more than "
                 f"{policy.drift_tolerance:.0%} at significance {policy.drift_alpha:g})"
                 if policy.drift_test == "loss" else "") + ".")
    if not decisions:
        page.text("No drift decision recorded yet: the first cycle with new data makes one.")
        return
    loss = [d for d in decisions if d.used == "loss" and d.relative_rise is not None
            and d.p_value is not None]
    if loss:
        ax = page.axes(0.30)
        moments = times([{"time": d.time} for d in loss])
        colors = ["tab:red" if d.drift else "tab:blue" for d in loss]
        ax.scatter(moments, [d.relative_rise * 100 for d in loss], c=colors, zorder=3)
        ax.axhline(policy.drift_tolerance * 100, color="grey", ls="--",
                   label=f"tolerance {policy.drift_tolerance:.0%}")
        for moment, d in zip(moments, loss, strict=True):
            ax.annotate(f"p {d.p_value:.1g}", (moment, d.relative_rise * 100),
                        xytext=(4, 4), textcoords="offset points", fontsize=7)
        ax.set(ylabel="rise of the mean log-loss (%)",
               title="Loss test at each decision (red: drift)")
        ax.legend(loc="upper left", fontsize=8)
        time_axis(ax, moments)
    page.heading("Decisions, newest first")
    page.table(["Time", "Test", "Rows", "Figures", "Outcome"], [
        [when(d.time), d.test, number(d.rows), _figures(d), d.reason or d.outcome]
        for d in reversed(decisions)
    ], [2.3, 0.8, 0.8, 5.0, 1.5])
