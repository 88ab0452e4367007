"""What a report's pages share, gathered once by reporting.py (the deployment, its evaluation,
the data and its ranking, the diagnostics); each page reads its own part of the history."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.core.config import Settings
from pipeline.core.deployed import Deployed
from pipeline.core.history import History


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
