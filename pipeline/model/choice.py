"""The rule that picks the model from the cross-validation: the simplest candidate that ranks
the rows and whose log-loss is within one standard error of the best such candidate's.

A candidate *ranks* when its pooled out-of-fold probabilities order leavers above stayers
better than chance: not constant within every fold, and an out-of-fold ROC AUC above 0.5. On a
few dozen rows gradient boosting predicts the base rate for everyone; its log-loss (0.693) can
then beat a logistic regression that ranks but is not yet well calibrated, and the deployed
model would predict that nobody leaves.

The standard error is that of the paired per-row differences of out-of-fold log-loss between a
candidate and the best. Every candidate is scored on the same folds, so a row that is hard for
one is hard for the others; the per-fold standard error of one candidate's loss counts that
shared difficulty as noise and, from five numbers, is itself a rough estimate. On the project's
generator the paired rule kept the course's model as often where it was as good and took
log(1 + count) more often where it paid (bench/quality.py, small samples).

Pure functions of the figures: selection.py gathers them and tests run the rule on a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.model.candidates import CANDIDATES

ORDER = tuple(CANDIDATES)  # simplest first: the course's model, its log form, boosting
FALLBACK = "logistic"  # the course's model, when no candidate ranks
CONSTANT = 1e-12  # out-of-fold probabilities within this of each other in a fold are one value


@dataclass(frozen=True)
class Scored:
    """One candidate's cross-validation, as the rule reads it."""

    name: str
    log_loss: float  # mean over the folds (the table's figure)
    losses: np.ndarray  # out-of-fold log-loss of every row, rows in the same order for all
    roc_auc: float | None  # ROC AUC of the pooled out-of-fold probabilities
    constant: bool  # one probability for every row of each fold

    @property
    def ranks(self) -> bool:
        """Whether its probabilities order the rows better than chance."""
        return not self.constant and self.roc_auc is not None and self.roc_auc > 0.5


@dataclass(frozen=True)
class Choice:
    """The candidate chosen, why, and each ranking candidate's excess loss over the best."""

    chosen: str
    rule: str
    not_ranking: list[str] = field(default_factory=list)
    # name -> (mean paired per-row log-loss difference to the best, its standard error)
    excess: dict[str, tuple[float, float]] = field(default_factory=dict)


def excess_loss(losses: np.ndarray, best: np.ndarray) -> tuple[float, float]:
    """Mean per-row log-loss above ``best``'s on the same rows, and its standard error."""
    difference = np.asarray(losses, dtype=float) - np.asarray(best, dtype=float)
    spread = float(difference.std(ddof=1)) if len(difference) > 1 else 0.0
    return float(difference.mean()), spread / math.sqrt(max(len(difference), 1))


def choose_model(scored: Sequence[Scored]) -> Choice:
    """The simplest ranking candidate (in ORDER) whose log-loss is within one standard error of
    the best ranking candidate's; the course's model when none ranks."""
    ordered = sorted(scored, key=lambda s: ORDER.index(s.name))
    not_ranking = [s.name for s in ordered if not s.ranks]
    ranking = [s for s in ordered if s.ranks]
    excluded = (f"; not ranking (constant or out-of-fold ROC AUC <= 0.5): "
                f"{', '.join(not_ranking)}" if not_ranking else "")
    if not ranking:
        return Choice(FALLBACK, f"no candidate ranks the rows better than chance: the course's "
                                f"{FALLBACK}{excluded}", not_ranking)
    best = min(ranking, key=lambda s: (s.log_loss, ORDER.index(s.name)))
    excess = {s.name: excess_loss(s.losses, best.losses) for s in ranking}
    # The best itself has no excess (0 <= 0), so the walk always stops at it or before.
    chosen = next(s for s in ranking if excess[s.name][0] <= excess[s.name][1])
    if chosen is best:
        passed = [s.name for s in ranking if ORDER.index(s.name) < ORDER.index(best.name)]
        why = (f"{best.name}: the lowest log-loss"
               + "".join(f"; {n} {excess[n][0]:+.4f} against it, more than one standard "
                         f"error ({excess[n][1]:.4f})" for n in passed))
    else:
        gain, se = excess[chosen.name]
        why = (f"{chosen.name}: {gain:+.4f} against the lowest log-loss ({best.name}), within "
               f"one standard error ({se:.4f}), and simpler")
    return Choice(chosen.name, f"one-standard-error rule: {why}{excluded}", not_ranking, excess)
