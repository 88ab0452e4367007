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


# The loss test ---------------------------------------------------------------------------

def _summary(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)), "rows": len(values)}


@pytest.mark.parametrize("rows", [200, 1_000, 5_000])
def test_the_loss_tests_false_alarms_stay_under_its_level_when_nothing_changed(rows):
    """Under the exact null (no tolerance, new and reference losses alike), the share of
    batches called drift is alpha: the Welch arithmetic is right."""
    from pipeline.monitor.drift import loss_drift

    rng = np.random.default_rng(rows)
    alpha, trials = 0.05, 2_000
    alarms = 0
    for _ in range(trials):
        reference = rng.exponential(0.5, 20_000)  # log-losses are skewed like this
        new = rng.exponential(0.5, rows)
        alarms += loss_drift(_summary(new), _summary(reference), alpha, tolerance=0.0).drift
    assert alarms / trials == pytest.approx(alpha, abs=0.02)


def test_the_tolerance_keeps_a_small_rise_from_raising_alarms_however_large_the_batch():
    from pipeline.monitor.drift import loss_drift

    rng = np.random.default_rng(1)
    reference = _summary(rng.exponential(0.5, 500_000))
    small_rise = _summary(rng.exponential(0.5 * 1.01, 500_000))  # +1%: within 2%
    big_rise = _summary(rng.exponential(0.5 * 1.10, 5_000))  # +10%
    assert not loss_drift(small_rise, reference, 0.01, 0.02).drift
    assert loss_drift(small_rise, reference, 0.01, 0.0).drift  # without it, significant
    found = loss_drift(big_rise, reference, 0.01, 0.02)
    assert found.drift and found.p_value < 0.01 and found.rise > 0
    assert found.relative_rise == pytest.approx(0.10, abs=0.04)
    assert "drift" in found.describe(5_000) and "p " in found.brief(5_000)


def test_the_loss_test_on_a_deployed_models_quiet_and_changed_batches():
    """A model trained by training.fit_model, judged on batches from its own period and from the
    changed one: quiet batches stay under the level, half the change is caught."""
    from pipeline.core.config import DEFAULT_MODEL
    from pipeline.data.datagen import bulk_records
    from pipeline.model.evaluate import evaluate_rows
    from pipeline.model.selection import loss_summary
    from pipeline.monitor.drift import loss_drift
    from training import fit_model

    model, selection = fit_model(bulk_records(10_000, seed=21, change=0.0),
                                 {**DEFAULT_MODEL, "family": "log_logistic"})
    quiet = bulk_records(200_000, seed=22, change=0.0)
    changed = bulk_records(20_000, seed=23, change=0.5)
    quiet_losses = evaluate_rows(model, quiet)[1]
    changed_losses = evaluate_rows(model, changed)[1]
    rng = np.random.default_rng(0)

    def rate(losses, rows, trials=200):
        picks = rng.integers(0, len(losses), size=(trials, rows))
        return np.mean([loss_drift(loss_summary(losses[p]), selection.reference).drift
                        for p in picks])

    assert rate(quiet_losses, 1_000) <= 0.01 + 0.02  # alpha, and room for 200 trials' noise
    assert rate(quiet_losses, 5_000) <= 0.01 + 0.02
    assert rate(changed_losses, 1_000) >= 0.9
