"""What the input folder holds that no finished cycle has handled (seenfiles.json).

The cycle records, per input folder, every *.csv entry it handled: size, time and SHA-256 (or
why it was refused). A file is new when its name or content is; a touched file is not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.config import Settings
from pipeline.core.errors import CycleError
from pipeline.core.files import atomic_write_text
from pipeline.core.names import SEEN_FILES
from pipeline.ingest.inputs import InputFile, compare_folder, scan_input_folder


@dataclass
class Changes:
    """What the input folder holds that no finished cycle has seen."""

    new: list[InputFile] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    seen: dict[str, dict] = field(default_factory=dict)  # the state to save once handled

    @property
    def any(self) -> bool:
        """True when there is something to ingest."""
        return bool(self.new or self.vanished)


def state_path(settings: Settings) -> Path:
    """Where the cycles record the files they have handled, per input folder."""
    return settings.output_folder / SEEN_FILES


def load_state(settings: Settings) -> dict[str, dict]:
    """The files the last finished cycle saw in this input folder: {name: record}."""
    try:
        state = json.loads(state_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    seen = state.get(str(settings.input_folder)) if isinstance(state, dict) else None
    return seen if isinstance(seen, dict) else {}


def save_state(settings: Settings, seen: dict[str, dict]) -> None:
    """Record the files of this input folder as handled (atomically, other folders kept)."""
    path = state_path(settings)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        state = state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        state = {}
    state[str(settings.input_folder)] = seen
    atomic_write_text(path, json.dumps(state, indent=1, sort_keys=True) + "\n")


def find_changes(settings: Settings, seen: dict[str, dict]) -> Changes:
    """New or changed files by name and checksum; only files whose size or time moved are read."""
    if not settings.input_folder.is_dir():
        raise CycleError(f"input folder not found: {settings.input_folder}")
    found = compare_folder(scan_input_folder(settings.input_folder), seen)
    return Changes(new=sorted(found.added + found.changed, key=lambda e: e.name),
                   vanished=found.vanished, seen=found.records)
