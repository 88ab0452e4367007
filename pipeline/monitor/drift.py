"""Drift tests: has the deployed model's score fallen, and has the data moved?

Score drift (decides re-deployment), chosen by ``drift_test`` in the config:
- ``raw``: the course's test: any score below the deployed score is drift;
- ``parametric``: below the mean minus two standard deviations of the model's score history;
- ``nonparametric``: below Q1 - 1.5 IQR of that history.
With fewer than ``min_history`` scores the statistical tests fall back to ``raw`` and say so.

Data drift (reported, decides only when ``data_drift_decides`` is set): per feature, the
two-sample Kolmogorov-Smirnov test and the population stability index between the training
sample of the deployed model and the new data.
"""

from __future__ import annotations

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
