"""Drift tests: has the deployed model got worse on the new data, and has the data moved?

Model drift (decides re-deployment), chosen by ``drift_test`` in the config:
- ``loss`` (the default): a one-sided Welch t-test of the deployed model's mean per-row log-loss
  on the new rows against its out-of-fold per-row log-loss on its training data (the reference
  recorded at deployment). Drift when the mean loss has risen by more than ``drift_tolerance``
  (a share of the reference, 2%) at significance ``drift_alpha`` (1%): a batch whose expected
  loss is within the tolerance raises a false alarm at most ``drift_alpha`` of the time, whatever
  its size. A deployment without a reference falls back to ``raw`` and says so.
- ``raw``: the course's test: any F1 below the deployed F1 is drift;
- ``parametric``: F1 below the mean minus two standard deviations of the model's score history;
- ``nonparametric``: F1 below Q1 - 1.5 IQR of that history.
With fewer than ``min_history`` scores the history tests fall back to ``raw`` and say so.

Data drift (reported, decides only when ``data_drift_decides`` is set): per feature, the
two-sample Kolmogorov-Smirnov test and the population stability index between the training
sample of the deployed model and the new data.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

import numpy as np

from pipeline.monitor import ecdf

PSI_ALERT = 0.2
KS_ALERT_P = 0.01


@dataclass(frozen=True)
class ScoreDrift:
    """The outcome of a score drift test."""

    test: str  # the test asked for
    used: str  # the test applied (raw when history was too short)
    new_score: float
    deployed_score: float
    threshold: float
    history: int
    drift: bool
    note: str = ""

    def as_dict(self) -> dict:
        """A plain dict for the history database and the log."""
        return asdict(self)

    def brief(self, rows: int) -> str:
        """The figures, for the cycle's one-line summary."""
        return f"F1 {self.new_score:.4f} on {rows} new rows, threshold {self.threshold:.4f}"

    def describe(self, rows: int) -> str:
        """One line for the log."""
        return (f"{self.used} test ({self.test}): F1 {self.new_score:.4f} on {rows} new rows vs "
                f"threshold {self.threshold:.4f} (deployed {self.deployed_score:.4f}): "
                f"{'drift' if self.drift else 'no drift'}")


@dataclass(frozen=True)
class LossDrift:
    """The outcome of the loss test: Welch's t of the new rows' mean log-loss against the
    reference's, raised by the tolerance."""

    new_loss: float  # mean per-row log-loss of the deployed model on the new rows
    reference_loss: float  # its out-of-fold mean on the training data, at deployment
    rise: float  # new_loss - reference_loss (nats per row): the effect size
    relative_rise: float  # rise / reference_loss
    statistic: float  # Welch's t against reference_loss * (1 + tolerance)
    p_value: float  # one-sided
    degrees_of_freedom: float
    rows: int
    reference_rows: int
    alpha: float
    tolerance: float
    drift: bool
    test: str = "loss"
    used: str = "loss"
    note: str = ""

    def as_dict(self) -> dict:
        """A plain dict for the history database and the log."""
        return asdict(self)

    def brief(self, rows: int) -> str:
        """The figures, for the cycle's one-line summary."""
        return (f"log-loss {self.new_loss:.4f} on {rows} new rows, {self.relative_rise:+.1%} on "
                f"{self.reference_loss:.4f} at deployment, p {self.p_value:.2g}")

    def describe(self, rows: int) -> str:
        """One line for the log."""
        return (f"loss test: mean log-loss {self.new_loss:.4f} on {rows} new rows vs "
                f"{self.reference_loss:.4f} at deployment ({self.relative_rise:+.1%}; t "
                f"{self.statistic:.2f}, p {self.p_value:.2g} against a {self.tolerance:.0%} "
                f"tolerance at alpha {self.alpha:g}): {'drift' if self.drift else 'no drift'}")


def loss_drift(new: dict, reference: dict, alpha: float = 0.01,
               tolerance: float = 0.02) -> LossDrift:
    """The loss test on summaries ({"mean", "sd", "rows"}) of per-row log-losses.

    H0: the new mean loss is at most reference mean x (1 + tolerance); drift when Welch's
    one-sided p-value is below alpha.
    """
    from scipy.stats import t as student

    bound = reference["mean"] * (1 + tolerance)
    var_new = new["sd"] ** 2 / max(new["rows"], 1)
    var_ref = (reference["sd"] * (1 + tolerance)) ** 2 / max(reference["rows"], 1)
    spread = math.sqrt(var_new + var_ref)
    if spread == 0:
        statistic = math.inf if new["mean"] > bound else -math.inf
        dof = float(max(new["rows"] - 1, 1))
    else:
        statistic = (new["mean"] - bound) / spread
        dof = (var_new + var_ref) ** 2 / (
            (var_new ** 2 / max(new["rows"] - 1, 1) if var_new else 0.0)
            + (var_ref ** 2 / max(reference["rows"] - 1, 1) if var_ref else 0.0))
    p_value = float(student.sf(statistic, dof))
    rise = new["mean"] - reference["mean"]
    return LossDrift(new_loss=float(new["mean"]), reference_loss=float(reference["mean"]),
                     rise=float(rise), relative_rise=float(rise / reference["mean"])
                     if reference["mean"] else math.inf, statistic=float(statistic),
                     p_value=p_value, degrees_of_freedom=float(dof), rows=int(new["rows"]),
                     reference_rows=int(reference["rows"]), alpha=alpha, tolerance=tolerance,
                     drift=bool(p_value < alpha))


def score_drift(new_score: float, deployed_score: float, history: list[float],
                test: str = "raw", min_history: int = 5) -> ScoreDrift:
    """Decide whether new_score shows drift, by the named test."""
    note = ""
    used = test
    min_history = max(min_history, 2)  # a spread needs two scores at least
    if test != "raw" and len(history) < min_history:
        used = "raw"
        note = (f"{test} test needs {min_history} past scores, the model has {len(history)}: "
                "fell back to raw")
    if used == "raw":
        threshold = deployed_score
    elif used == "parametric":
        threshold = statistics.fmean(history) - 2 * statistics.stdev(history)
    elif used == "nonparametric":
        q1, _, q3 = statistics.quantiles(history, n=4, method="inclusive")
        threshold = q1 - 1.5 * (q3 - q1)
    else:
        raise ValueError(f"unknown drift test {test!r}")
    return ScoreDrift(test=test, used=used, new_score=float(new_score),
                      deployed_score=float(deployed_score), threshold=float(threshold),
                      history=len(history), drift=bool(new_score < threshold), note=note)


def population_stability_index(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """PSI of actual against expected, on the deciles of expected (robust to ties)."""
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = ecdf.bin_counts(edges, expected)  # per bin: from value counts on large samples
    a = ecdf.bin_counts(edges, actual)
    e = np.clip(e / max(e.sum(), 1), 1e-6, None)
    a = np.clip(a / max(a.sum(), 1), 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def data_drift(reference, new, features) -> dict[str, dict]:
    """Per feature: KS statistic and p-value, PSI, and whether either raises an alert."""
    from pipeline.monitor.ecdf import ks_2samp  # scipy's, from value counts on large samples

    out = {}
    for col in features:
        ref = np.asarray(reference[col], dtype=float)
        cur = np.asarray(new[col], dtype=float)
        if len(ref) == 0 or len(cur) == 0:
            continue
        ks = ks_2samp(ref, cur)
        psi = population_stability_index(ref, cur)
        out[col] = {"ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                    "psi": psi, "alert": bool(psi > PSI_ALERT or ks.pvalue < KS_ALERT_P)}
    return out
