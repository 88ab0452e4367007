"""The estimate without labels (pipeline.monitor.estimate) and what it decides (verdict)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.monitor import estimate
from pipeline.monitor.estimate import (
    check_estimate,
    estimate_scores,
    expected_roc_auc,
    f1_of,
    poisson_binomial,
)
from pipeline.monitor.verdict import Policy, estimate_finding, retrain_on_estimate


def _brute_force(p: np.ndarray) -> np.ndarray:
    """The distribution of a sum of Bernoulli(p) by enumerating every outcome."""
    pmf = np.zeros(len(p) + 1)
    for outcome in itertools.product((0, 1), repeat=len(p)):
        pmf[sum(outcome)] += np.prod([q if o else 1 - q for q, o in zip(p, outcome, strict=True)])
    return pmf


def test_poisson_binomial_is_exact_and_its_approximation_close(monkeypatch):
    p = np.array([0.1, 0.5, 0.9, 0.3, 0.05, 0.7, 0.2, 0.6])
    first, pmf = poisson_binomial(p)
    assert np.allclose(np.r_[np.zeros(first), pmf], _brute_force(p)[:first + len(pmf)])
    big = np.random.default_rng(0).beta(1, 3, 3000)
    first, exact = poisson_binomial(big)
    monkeypatch.setattr(estimate, "EXACT_ROWS", 10)
    start, approx = poisson_binomial(big)
    cdf = np.cumsum(np.r_[np.zeros(first), exact])
    other = np.cumsum(np.r_[np.zeros(start), approx])
    size = min(len(cdf), len(other))
    assert np.abs(cdf[:size] - other[:size]).max() < 1e-3


def test_the_band_covers_the_realised_f1_at_its_level_when_probabilities_hold():
    rng = np.random.default_rng(1)
    score = rng.random(400)
    probability = np.clip(score + rng.normal(0, 0.1, 400), 0.01, 0.99)
    flagged = score > 0.5
    found = estimate_scores(flagged, probability, score)
    exits = rng.random((4000, 400)) < probability
    tp = (exits & flagged).sum(axis=1)
    realised = f1_of(tp, flagged.sum(), (exits & ~flagged).sum(axis=1))
    inside = np.mean((realised >= found.f1_low) & (realised <= found.f1_high))
    assert 0.89 <= inside <= 0.94  # at least 90%, a little more on a discrete F1
    assert found.f1 == pytest.approx(realised.mean(), abs=0.003)
    assert found.precision == pytest.approx((tp / flagged.sum()).mean(), abs=0.003)
    assert found.f1_low < found.f1 < found.f1_high and found.rows == 400


def test_expected_roc_auc_reads_probabilities_as_fractional_labels(monkeypatch):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    score = np.round(rng.random(300), 2)  # ties count half
    probability = rng.random(300)
    # Each row once as a leaver of weight p and once as a stayer of weight 1 - p, never paired
    # with itself: sklearn's weighted AUC over the doubled rows, less the self-pairs.
    auc = expected_roc_auc(score, probability)
    doubled = roc_auc_score(np.r_[np.ones(300), np.zeros(300)], np.r_[score, score],
                            sample_weight=np.r_[probability, 1 - probability])
    self_pairs = 0.5 * np.sum(probability * (1 - probability))
    total = probability.sum() * (1 - probability).sum()
    assert auc == pytest.approx((doubled * total - self_pairs) / (total - 2 * self_pairs))
    monkeypatch.setattr(estimate, "SORT_ROWS", 10)  # the binned path for large batches
    assert expected_roc_auc(score, probability) == pytest.approx(auc, abs=1e-4)
    assert expected_roc_auc(score, np.ones(300)) is None


def test_the_self_check_flags_a_changed_mechanism_and_rarely_a_quiet_batch():
    rng = np.random.default_rng(3)
    flags = []
    for _ in range(200):
        score = rng.random(500)
        exited = rng.random(500) < score  # the probabilities hold
        flags.append(not check_estimate(score > 0.5, score, exited).holds)
    assert np.mean(flags) <= 0.08
    score = rng.random(500)
    exited = rng.random(500) < 1 - score  # who leaves has turned around
    check = check_estimate(score > 0.5, score, exited)
    assert not check.holds and check.p_value < 1e-6 and check.realised_f1 < check.low


def test_the_model_spread_widens_the_band_and_keeps_its_centre():
    score = np.linspace(0.01, 0.99, 2000)
    narrow = estimate_scores(score > 0.4, score, score)
    wide = estimate_scores(score > 0.4, score, score, spread=0.02)
    assert wide.f1 == narrow.f1
    assert wide.f1_high - wide.f1_low > (narrow.f1_high - narrow.f1_low) + 0.03


@pytest.mark.parametrize("f1, high, deployed, finding", [
    (0.60, 0.64, 0.70, True),   # below by more than 2%, band wholly below
    (0.60, 0.71, 0.70, False),  # the band reaches the deployed score
    (0.69, 0.695, 0.70, False),  # below, but within the tolerance
    (0.75, 0.78, 0.70, False),
    (0.10, 0.20, None, False),  # nothing deployed to compare with
])
def test_an_estimate_wholly_below_the_deployed_score_is_a_finding(f1, high, deployed, finding):
    assert estimate_finding(f1, high, deployed, 0.02) is finding
    assert retrain_on_estimate(finding, Policy()) is False  # never on its own
    assert retrain_on_estimate(finding, Policy(estimate_retrains=True)) is finding


def test_an_empty_book_is_estimated_as_nothing_to_score():
    found = estimate_scores(np.zeros(0, bool), np.zeros(0), np.zeros(0))
    assert (found.rows, found.f1, found.f1_low, found.f1_high, found.roc_auc) == (0, 0, 0, 0, None)
