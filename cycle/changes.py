"""What the input folder holds that no finished cycle has handled (seenfiles.json).

The cycle records, per input folder, every *.csv entry it handled: size, time and SHA-256 (or
why it was refused). A file is new when its name or content is; a touched file is not.

The folder's key is the path the config gives it, relative to the config's folder
(``Settings.input_key``), so a project moved or restored elsewhere finds nothing new. Records
keyed by the folder's absolute path, as older releases wrote them, are taken over once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cycle.errors import CycleError
from pipeline.core.config import Settings
from pipeline.core.files import atomic_write_text
from pipeline.core.names import CONFIGS_KEY, SEEN_FILES
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


def _read(settings: Settings) -> dict:
    try:
        state = json.loads(state_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def load_state(settings: Settings) -> dict[str, dict]:
    """The files the last finished cycle saw in this input folder: {name: record}.

    A record under the folder's absolute path (an older release's key) is moved to the
    folder's key, and the file rewritten, the first time it is read.
    """
    state = _read(settings)
    seen = state.get(settings.input_key)
    old_key = str(settings.input_folder)
    if seen is None and old_key != settings.input_key and isinstance(state.get(old_key), dict):
        seen = state.pop(old_key)
        state[settings.input_key] = seen
        atomic_write_text(state_path(settings), json.dumps(state, indent=1, sort_keys=True) + "\n")
    return seen if isinstance(seen, dict) else {}


def config_key(settings: Settings) -> str:
    """The config file as seenfiles.json names it: relative to the output folder's real place,
    so that a project moved whole keeps it (cycle.quick computes it the same way)."""
    return os.path.relpath(settings.config_path, os.path.realpath(settings.output_folder))


def config_stamp(settings: Settings) -> list[int]:
    """[size, mtime_ns] of the config file."""
    stat = settings.config_path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def config_recorded(settings: Settings) -> bool:
    """True when the config file, as it is now, was loaded by a cycle that saved the state."""
    configs = _read(settings).get(CONFIGS_KEY)
    try:
        return isinstance(configs, dict) and \
            configs.get(config_key(settings)) == config_stamp(settings)
    except OSError:
        return False


def save_state(settings: Settings, seen: dict[str, dict]) -> None:
    """Record the files of this input folder as handled, and the config as checked
    (atomically, other folders and configs kept)."""
    state = _read(settings)
    state.pop(str(settings.input_folder), None)  # an older release's key for the same folder
    state[settings.input_key] = seen
    configs = state.get(CONFIGS_KEY) if isinstance(state.get(CONFIGS_KEY), dict) else {}
    configs[config_key(settings)] = config_stamp(settings)
    state[CONFIGS_KEY] = configs
    atomic_write_text(state_path(settings), json.dumps(state, indent=1, sort_keys=True) + "\n")


def find_changes(settings: Settings, seen: dict[str, dict]) -> Changes:
    """New or changed files by name and checksum; only files whose size or time moved are read."""
    if not settings.input_folder.is_dir():
        raise CycleError(f"input folder not found: {settings.input_folder}")
    found = compare_folder(scan_input_folder(settings.input_folder), seen)
    return Changes(new=sorted(found.added + found.changed, key=lambda e: e.name),
                   vanished=found.vanished, seen=found.records)
