"""The drift tests on constructed score histories, and the data drift figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.monitor.drift import data_drift, population_stability_index, score_drift

STEADY = [0.70, 0.72, 0.71, 0.69, 0.73, 0.70]  # mean 0.7083, stdev 0.0147; Q1 0.7, Q3 0.7175


@pytest.mark.parametrize("test, new, drift, threshold", [
    ("raw", 0.699, True, 0.70),
    ("raw", 0.70, False, 0.70),
    ("parametric", 0.69, False, 0.7083 - 2 * 0.0147),
    ("parametric", 0.67, True, 0.7083 - 2 * 0.0147),
    ("nonparametric", 0.68, False, 0.70 - 1.5 * 0.0175),
    ("nonparametric", 0.67, True, 0.70 - 1.5 * 0.0175),
])
def test_score_drift_by_test(test, new, drift, threshold):
    decision = score_drift(new, deployed_score=0.70, history=STEADY, test=test)
    assert decision.drift is drift
    assert decision.used == test
    assert decision.threshold == pytest.approx(threshold, abs=1e-3)


def test_statistical_tests_are_more_tolerant_than_raw_on_a_noisy_history():
    noisy = [0.60, 0.75, 0.68, 0.72, 0.64, 0.70]
    assert score_drift(0.66, 0.70, noisy, "raw").drift
    assert not score_drift(0.66, 0.70, noisy, "parametric").drift
    assert not score_drift(0.66, 0.70, noisy, "nonparametric").drift


@pytest.mark.parametrize("test", ["parametric", "nonparametric"])
def test_too_little_history_falls_back_to_raw_and_says_so(test):
    decision = score_drift(0.69, 0.70, [0.70, 0.71], test, min_history=5)
    assert decision.used == "raw" and decision.drift
    assert "fell back to raw" in decision.note and test in decision.note


def test_unknown_test_is_an_error():
    with pytest.raises(ValueError, match="unknown drift test"):
        score_drift(0.5, 0.5, STEADY * 2, "magic", min_history=1)


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 20_000)
    assert population_stability_index(base, rng.normal(0, 1, 20_000)) < 0.01
    assert population_stability_index(base, rng.normal(1, 1, 20_000)) > 0.2


def test_data_drift_flags_only_the_moved_feature():
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"a": rng.poisson(20, 5000), "b": rng.poisson(5, 5000)})
    new = pd.DataFrame({"a": rng.poisson(20, 3000), "b": rng.poisson(9, 3000)})
    figures = data_drift(reference, new, ["a", "b"])
    assert not figures["a"]["alert"] and figures["b"]["alert"]
    assert figures["b"]["ks_pvalue"] < 1e-6 < figures["a"]["ks_pvalue"]


@pytest.mark.parametrize("min_history", [0, 1])
def test_a_statistical_test_never_runs_on_a_single_score(min_history):
    decision = score_drift(0.69, 0.70, [0.70], "parametric", min_history=min_history)
    assert decision.used == "raw" and decision.drift
