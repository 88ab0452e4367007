"""Why a client's risk is what it is: each feature's contribution to the model's logit.

Model-agnostic: the model is only asked for ``predict_proba``, so the explanation holds for any
scikit-learn classifier (a linear model, one on transformed counts, splines, a tree ensemble).
For a client and a feature, the contribution is the change in the model's logit (log-odds of
attrition) when that feature alone is set to a reference value, the median of the deployed
version's training sample:

    contribution(client, f) = logit p(client) - logit p(client with f := reference[f])

A positive contribution means the client's actual value raises its risk above what a typical
value would give; ``exp(contribution)`` is the factor on the odds. The top factor is the feature
with the largest positive contribution (none when no feature raises the risk). For a model that
is linear in the logit the contributions are exact and add up; with interactions they are
one-at-a-time effects and need not.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.names import SAMPLE_FILE
from pipeline.core.schema import FEATURES

TOP_FACTOR = "top_factor"
TOP_CONTRIBUTION = "top_contribution"
PREFIX = "contribution_"
CONTRIBUTIONS = tuple(PREFIX + f for f in FEATURES)
EXPLANATION_COLUMNS = (TOP_FACTOR, TOP_CONTRIBUTION, *CONTRIBUTIONS)
CLIP = 1e-12  # probabilities are kept in [CLIP, 1 - CLIP]: logits within about +-27.6
CHUNK = 200_000  # clients per predict_proba call (the call sees 1 + len(FEATURES) times more rows)
TINY = 1e-9  # a contribution this small is no contribution (floating-point noise)


def reference_values(sample: pd.DataFrame) -> dict[str, float]:
    """The reference of each feature: its median in a sample of the training data."""
    missing = [f for f in FEATURES if f not in sample.columns]
    if missing or sample.empty:
        raise ValueError(f"the training sample lacks {', '.join(missing) or 'rows'}")
    return {f: float(pd.to_numeric(sample[f], errors="coerce").median()) for f in FEATURES}


def read_reference(version_folder: Path) -> dict[str, float]:
    """The reference values of a deployed version, from its trainingsample.csv."""
    return reference_values(pd.read_csv(Path(version_folder) / SAMPLE_FILE))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, CLIP, 1 - CLIP)
    return np.log(p) - np.log1p(-p)


def contributions(model, features: pd.DataFrame, reference: Mapping[str, float]) -> np.ndarray:
    """An array (clients x features): each feature's contribution to each client's logit."""
    names = list(FEATURES)
    frame = features[names].reset_index(drop=True)
    out = np.empty((len(frame), len(names)))
    for start in range(0, len(frame), CHUNK):
        part = frame.iloc[start:start + CHUNK]
        variants = [part]
        for name in names:  # the same clients with one feature at its reference value
            variants.append(part.assign(**{name: float(reference[name])}))
        stacked = pd.concat(variants, ignore_index=True)
        logits = _logit(model.predict_proba(stacked)[:, 1]).reshape(len(variants), len(part))
        out[start:start + len(part)] = (logits[0] - logits[1:]).T
    out[np.abs(out) < TINY] = 0.0
    return out


def explain_clients(model, features: pd.DataFrame, reference: Mapping[str, float]
                    ) -> pd.DataFrame:
    """The explanation columns for each client (row of ``features``), index kept.

    ``top_factor`` names the feature that raises the client's logit most ("" when none raises
    it), ``top_contribution`` is that rise (0 when none), ``contribution_<feature>`` each
    feature's contribution.
    """
    values = contributions(model, features, reference)
    if len(values):
        best = values.argmax(axis=1)
        top = values[np.arange(len(values)), best]
    else:
        best, top = np.zeros(0, dtype=int), np.zeros(0)
    raises = top > 0
    factor = np.where(raises, np.asarray(FEATURES, dtype=object)[best], "")
    frame = pd.DataFrame({TOP_FACTOR: factor, TOP_CONTRIBUTION: np.where(raises, top, 0.0)},
                         index=features.index)
    for j, column in enumerate(CONTRIBUTIONS):
        frame[column] = values[:, j]
    frame[TOP_FACTOR] = frame[TOP_FACTOR].astype(str)
    return frame
