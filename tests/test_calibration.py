"""What the estimate reads from training: a calibration kept only where it helps out of fold
(pipeline.model.calibration), and the coefficients' covariance (pipeline.model.uncertainty)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.core.config import DEFAULT_MODEL
from pipeline.core.schema import FEATURES
from pipeline.data.datagen import bulk_records
from pipeline.model.calibration import Calibration, fit_calibration
from pipeline.model.uncertainty import parameter_uncertainty, probability_draws


def test_calibration_is_kept_only_where_it_lowers_the_out_of_fold_loss():
    rng = np.random.default_rng(4)
    truth_p = rng.beta(2, 3, 5000)
    y = rng.random(5000) < truth_p
    calibrated = fit_calibration(truth_p, y)
    assert calibrated.method == "none" and calibrated.figures["rows"] == 5000
    logit = np.log(truth_p / (1 - truth_p))
    overconfident = 1 / (1 + np.exp(-3 * logit))
    fixed = fit_calibration(overconfident, y)
    assert fixed.method in ("platt", "isotonic")
    assert fixed.figures[f"log_loss_{fixed.method}"] < fixed.figures["log_loss_none"] - 0.01
    again = Calibration.from_dict(fixed.as_dict())
    assert np.allclose(again.apply(overconfident), fixed.apply(overconfident))
    assert np.abs(again.apply(overconfident) - truth_p).mean() < \
        np.abs(overconfident - truth_p).mean() / 2
    assert Calibration.from_dict(None).apply(truth_p) is not None
    assert fit_calibration(truth_p[:20], y[:20]).method == "none"  # too few to judge


def test_coefficient_draws_centre_on_the_model_and_spread_with_fewer_rows():
    from training import fit_model

    frame = bulk_records(3000, seed=5, change=0.0)
    model, selection = fit_model(frame, DEFAULT_MODEL)
    recorded = selection.as_dict()  # what the provenance and the manifest keep
    assert recorded["calibration"]["method"] in ("none", "platt", "isotonic")
    assert np.asarray(recorded["uncertainty"]["covariance"]).shape == (4, 4)
    rows = frame[list(FEATURES)].head(200)
    draws = probability_draws(model, selection.uncertainty, rows, draws=400)
    assert draws.shape == (400, 200)
    assert np.allclose(draws.mean(axis=0), model.predict_proba(rows)[:, 1], atol=0.01)
    spread = draws.std(axis=0).mean()
    few = parameter_uncertainty(model, frame.head(300))
    assert probability_draws(model, few, rows, draws=400).std(axis=0).mean() > 2 * spread
    assert probability_draws(model, {"note": "none"}, rows) is None
    assert "note" in parameter_uncertainty(object(), pd.DataFrame())
