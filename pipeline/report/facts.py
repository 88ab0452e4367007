"""What a report's pages share, gathered once by reporting.py (the deployment, its evaluation,
the data and its ranking, the diagnostics); each page reads its own part of the history. And
``Evaluated``: the deployed model loaded and scored on the test data once, for every output of
one refresh."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.core.config import Settings
from pipeline.core.deployed import Deployed
from pipeline.core.history import History


@dataclass(frozen=True)
class Evaluated:
    """The deployed version, its model (loaded once, checked against the manifest) and its
    evaluation on the test data (score_model's scores with the ROC curve, the version and the
    test file's name): what the estimate, diagnostics, the confusion matrix, the risk list and
    the report of one refresh share."""

    deployed: Deployed
    model: object
    evaluation: dict


@dataclass
class ReportFacts:
    """Everything the report shows, gathered once; a part that cannot be had says why."""

    settings: Settings
    history: History
    generated: str
    deployed: Deployed | None = None
    evaluation: dict | None = None
    model_error: str | None = None
    records: int = 0
    distinct: int = 0
    summary: dict | None = None
    missing: dict | None = None
    data_error: str | None = None
    clients: pd.DataFrame | None = None
    diagnostics: dict | None = None
