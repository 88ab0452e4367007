"""The full fullprocess.py cycle: find what is new by checksum, then hand over to the work.

Standard library only until there is work to do (then pipeline.cycle brings pandas and the rest).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fullprocess import STATE_FILE, acquire_lock, deployed_model_intact, outputs_current
from pipeline.cli import base_parser, setup_logging
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.errors import CycleError
from pipeline.files import atomic_write_text, sha256_file
from pipeline.inputs import InputFile, scan_input_folder

logger = logging.getLogger("fullprocess")


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
    return settings.output_folder / STATE_FILE


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
    changes = Changes()
    for entry in scan_input_folder(settings.input_folder):
        before = seen.get(entry.name) or {}
        record = {"size": entry.size, "mtime_ns": entry.mtime_ns}
        if entry.refused:
            record["refused"] = entry.refused
        elif before.get("size") == entry.size and before.get("mtime_ns") == entry.mtime_ns \
                and not before.get("retry"):
            record["sha256"] = before.get("sha256")
        else:
            try:
                record["sha256"] = sha256_file(entry.path)
            except OSError as exc:
                # Try again next cycle: permissions can be fixed without touching the file.
                record.update(refused=f"unreadable: {exc.strerror or exc}", retry=True)
        if not before or (not entry.refused and before.get("sha256") != record.get("sha256")):
            changes.new.append(entry)
        changes.seen[entry.name] = record
    changes.vanished = sorted(set(seen) - set(changes.seen))
    return changes


def _check_deployed_model(settings: Settings, deployed) -> None:
    """Raise CycleError, saying how to recover, when the deployed model fails its checksum."""
    if not deployed_model_intact(str(settings.deployment_folder)):
        raise CycleError(
            f"the deployed model of version {deployed.version} is missing or does not match its "
            f"manifest (the API answers 503 and will not load it): run deployment.py --rollback "
            f"--config {settings.config_path}, or add new data to retrain")


def run_cycle(settings: Settings, *, call_api: bool = True) -> str:
    """One cycle; returns its one-line summary. Raises CycleError when it cannot do its job."""
    from pipeline.deployed import NoDeployment, current_deployment

    started = time.perf_counter()
    before = load_state(settings)
    changes = find_changes(settings, before)
    try:
        deployed = current_deployment(settings.deployment_folder)
    except NoDeployment:
        deployed = None
    if deployed is not None and not changes.any:
        _check_deployed_model(settings, deployed)
        if changes.seen != before:  # touched but unchanged files: remember their new times
            save_state(settings, changes.seen)
        if outputs_current(str(settings.model_folder), deployed.manifest["model_sha256"]):
            logger.info("decision: nothing new in %s", settings.input_folder)
            elapsed = time.perf_counter() - started
            return f"nothing new in {settings.input_folder} ({elapsed:.3f} s)"
        from pipeline import cycle

        logger.info("decision: the reports do not describe deployed version %d: refreshing them",
                    deployed.version)
        summary = cycle.refresh_only(settings, deployed, call_api=call_api)
        return f"{summary} ({time.perf_counter() - started:.1f} s)"

    from pipeline import cycle  # the heavy part: pandas, scikit-learn, reports

    try:
        if deployed is None:
            summary = cycle.first_deployment(settings, call_api=call_api)
        else:
            summary = cycle.check_and_redeploy(settings, changes, deployed, call_api=call_api)
            # A cycle killed between deploying and reporting saved no state, so this one saw
            # its files as new and kept the version: finish its reports now, not a cycle later.
            now = current_deployment(settings.deployment_folder)
            if not outputs_current(str(settings.model_folder), now.manifest["model_sha256"]):
                summary += "; " + cycle.refresh_only(settings, now, call_api=call_api)
    except CycleError as exc:
        if exc.handled:
            save_state(settings, changes.seen)
        raise
    save_state(settings, changes.seen)
    return f"{summary} ({time.perf_counter() - started:.1f} s)"


def main(argv: list[str] | None, description: str) -> int:
    """The full cycle's entry point (fullprocess.py hands over to it)."""
    parser = base_parser(description)
    parser.add_argument("--no-api", action="store_true",
                        help="skip calling the API after a re-deployment")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        lock = acquire_lock(str(settings.deployment_folder))
        if lock is None:
            print(f"another cycle is running on {settings.deployment_folder}; nothing done")
            return 0
        try:
            summary = run_cycle(settings, call_api=not args.no_api)
        finally:
            lock.close()
    except (ConfigError, CycleError, OSError) as exc:
        print(f"cycle failed: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 0
