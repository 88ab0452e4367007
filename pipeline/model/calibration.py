"""Calibrating the deployed model's probabilities on its out-of-fold reference, only where that
measurably helps.

The performance estimate (pipeline.monitor.estimate) reads each probability as the expected
count of an exit, so it is only as good as the probabilities are calibrated. Training already
has, for the chosen candidate, each compared row's probability from the fold model that did not
see it (pipeline.model.selection). Two maps are tried on them: Platt's (a logistic regression on
the logit of the probability) and isotonic regression. Each is judged by cross-validation on
those rows: fitted on four folds, its per-row log-loss measured on the fifth. A map is kept
only when its mean log-loss is lower than the raw probabilities' by more than two standard
errors of the paired per-row differences; otherwise the model's own probabilities stand (the
logistic candidates are usually calibrated already, and a map fitted on noise would only add
noise).

The map kept (or "none") is recorded with the figures of the cross-check in the training
provenance (``selection.calibration``), so the manifest of every deployed version carries it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit  # a logistic that never overflows

EPS = 1e-6  # probabilities are kept within [EPS, 1 - EPS] through logits and isotonic steps
MIN_ROWS = 50  # fewer out-of-fold rows than this: no map can be judged, none is kept
MARGIN_SE = 2.0  # a map must beat the raw probabilities by this many standard errors
NONE, PLATT, ISOTONIC = "none", "platt", "isotonic"


@dataclass(frozen=True)
class Calibration:
    """A map from the model's probability to a calibrated one, and why it was kept."""

    method: str = NONE
    params: dict = field(default_factory=dict)  # platt: a, b; isotonic: x, y (breakpoints)
    figures: dict = field(default_factory=dict)  # the cross-check's log-losses and their errors
    note: str = ""

    def apply(self, probability) -> np.ndarray:
        """The calibrated probabilities (the same ones when the method is none)."""
        p = np.asarray(probability, dtype=float)
        if self.method == PLATT:
            z = self.params["a"] * _logit(p) + self.params["b"]
            return expit(z)
        if self.method == ISOTONIC:
            return np.interp(p, self.params["x"], self.params["y"])
        return p

    def as_dict(self) -> dict:
        """A plain dict for the provenance and the manifest."""
        return {"method": self.method, "params": self.params, "figures": self.figures,
                "note": self.note}

    @classmethod
    def from_dict(cls, record: dict | None) -> Calibration:
        """The calibration recorded in a manifest; none when the record is absent or odd."""
        if not isinstance(record, dict):
            return cls(note="no calibration recorded (a version trained before it, or "
                            "adopted): the model's own probabilities")
        if record.get("method") not in (PLATT, ISOTONIC):
            return cls(figures=dict(record.get("figures") or {}), note=record.get("note", ""))
        return cls(record["method"], dict(record.get("params") or {}),
                   dict(record.get("figures") or {}), record.get("note", ""))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def _losses(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def _fit_platt(p: np.ndarray, y: np.ndarray) -> dict:
    """Logistic regression of the outcome on the logit of p (two parameters), by Newton's
    method; starts at the identity map, which is the answer for calibrated probabilities."""
    x = _logit(p)
    a, b = 1.0, 0.0
    for _ in range(50):
        q = expit(a * x + b)
        w = np.maximum(q * (1 - q), 1e-12)
        g = np.array([np.dot(q - y, x), np.sum(q - y)])
        h = np.array([[np.dot(w, x * x), np.dot(w, x)], [np.dot(w, x), np.sum(w)]])
        h += 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return {"a": float(a), "b": float(b)}


def _fit_isotonic(p: np.ndarray, y: np.ndarray) -> dict:
    """Isotonic regression of the outcome on p, as breakpoints to interpolate between."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip").fit(p, y)
    return {"x": [float(v) for v in iso.X_thresholds_],
            "y": [float(v) for v in iso.y_thresholds_]}


FITS = {PLATT: _fit_platt, ISOTONIC: _fit_isotonic}


def fit_calibration(probability, truth, folds: int = 5, seed: int = 0) -> Calibration:
    """Choose none, Platt or isotonic for out-of-fold probabilities and their outcomes, by a
    cross-check of log-loss on them; the map is then fitted on every row."""
    p = np.asarray(probability, dtype=float)
    y = np.asarray(truth, dtype=float)
    exits = int(y.sum())
    if len(p) < MIN_ROWS or min(exits, len(y) - exits) < folds or np.ptp(p) <= 1e-12:
        return Calibration(note=f"too few out-of-fold rows or exits to judge a map "
                                f"({len(p)} rows, {exits} exits): the model's own probabilities")
    order = np.random.default_rng(seed).permutation(len(p))
    fold_of = np.empty(len(p), dtype=int)
    fold_of[order] = np.arange(len(p)) % folds
    raw = _losses(p, y)
    held: dict[str, np.ndarray] = {name: np.empty(len(p)) for name in FITS}
    for k in range(folds):
        test, train = fold_of == k, fold_of != k
        for name, fit in FITS.items():
            mapped = Calibration(name, fit(p[train], y[train])).apply(p[test])
            held[name][test] = _losses(mapped, y[test])
    figures = {"rows": len(p), "folds": folds, "log_loss_none": float(raw.mean())}
    best, best_gain = NONE, 0.0
    for name, losses in held.items():
        diff = raw - losses  # > 0 where the map does better
        gain, se = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))
        figures.update({f"log_loss_{name}": float(losses.mean()), f"gain_{name}": gain,
                        f"gain_{name}_se": se})
        if gain > MARGIN_SE * se and gain > best_gain:
            best, best_gain = name, gain
    if best == NONE:
        return Calibration(figures=figures, note="no map lowered the cross-checked out-of-fold "
                                                 "log-loss by two standard errors: the model's "
                                                 "own probabilities")
    return Calibration(best, FITS[best](p, y), figures,
                       note=f"{best} lowered the cross-checked out-of-fold log-loss from "
                            f"{figures['log_loss_none']:.4f} to {figures[f'log_loss_{best}']:.4f}")
