"""Reading results the stages recorded, for whoever shows them (the API, the report)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pipeline.core.names import DIAGNOSTICS_FILE

logger = logging.getLogger(__name__)


def latest_diagnostics(model_folder: Path) -> dict | None:
    """The results of the last diagnostics run (diagnostics.json), or None."""
    path = Path(model_folder) / DIAGNOSTICS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("unreadable %s: %s", path, exc)
        return None
