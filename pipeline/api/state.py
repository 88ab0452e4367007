"""What an API worker keeps between requests: its settings, the deployed model, cached answers.

``api_state()`` is the one accessor: the routes read everything through it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app

from pipeline.api.answers import KeptAnswers
from pipeline.api.auth import Credentials
from pipeline.api.fastpredict import fast_scorer
from pipeline.core.config import Settings, api_token
from pipeline.core.deployed import NoDeployment, current_deployment
from pipeline.core.names import CURRENT, MODEL_FILE

logger = logging.getLogger(__name__)

EXTENSION = "risk"


class ModelHolder:
    """The deployed model of this worker, reloaded when ``current`` points at a new version."""

    def __init__(self, deployment_folder: Path):
        self.folder = deployment_folder
        # Joined once: this check runs on every request, and pathlib's joins cost more than
        # the two system calls.
        self._link = os.fspath(deployment_folder / CURRENT)
        self._model_file = os.fspath(deployment_folder / CURRENT / MODEL_FILE)
        self._lock = threading.Lock()
        # (key, loaded) in one tuple, replaced whole: a worker's threads read it without the
        # lock, and never see one version's key with another's model.
        self._entry: tuple[tuple, tuple] | None = None

    def key(self) -> tuple:
        """What identifies the deployed model on disk: its version folder and its file's stat
        (a rewrite in place changes st_ctime, which no one can set back)."""
        try:
            target = os.readlink(self._link)
        except OSError:
            raise NoDeployment(f"no model deployed in {self.folder}") from None
        try:
            stat = os.stat(self._model_file)
        except OSError as exc:
            raise NoDeployment(f"the model file of the deployed version {target} is missing or "
                               f"unreadable: {exc.strerror}") from None
        return (target, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns,
                stat.st_ctime_ns)

    def get(self):
        """(model, Deployed, LinearScorer or None) of the current version; the scorer is checked
        against the model when it is loaded (pipeline.api.fastpredict.fast_scorer).

        Raises ModelIntegrityError when no valid model is deployed.
        """
        return self.get_keyed()[1]

    def get_keyed(self) -> tuple[tuple, tuple]:
        """(key, what get() returns): the key is the one the model was loaded for."""
        key = self.key()
        entry = self._entry
        if entry is not None and entry[0] == key:
            return entry
        with self._lock:
            entry = self._entry
            if entry is None or entry[0] != key:
                deployed = current_deployment(self.folder)
                model = deployed.load_model()
                entry = (key, (model, deployed, fast_scorer(model)))
                self._entry = entry
                logger.info("loaded model version %d", deployed.version)
            return entry


class FileCache:
    """Results computed from files, kept until one of those files changes."""

    def __init__(self):
        self._values: dict[str, tuple[tuple, object]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @staticmethod
    def stamp(*paths: Path) -> tuple:
        """A cheap fingerprint of files: (path, size, modification time, device, inode, change
        time) each, (path, None) for a missing one. The inode and change time catch a file
        replaced or rewritten with the same size and a restored modification time (``cp -p``,
        ``rsync -a``, tar)."""
        out = []
        for path in paths:
            try:
                stat = os.stat(path)
                out.append((str(path), stat.st_size, stat.st_mtime_ns, stat.st_dev, stat.st_ino,
                            stat.st_ctime_ns))
            except OSError:
                out.append((str(path), None))
        return tuple(out)

    def get(self, name: str, key: tuple, compute):
        """The cached value of name for key, computing it on a miss.

        One thread of a worker computes a missing value while the others wanting it wait and
        share it: some are a whole read of finaldata.csv, which four threads must not each do.
        """
        hit = self._values.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            hit = self._values.get(name)
            if hit is not None and hit[0] == key:
                return hit[1]
            value = compute()
            self._values[name] = (key, value)
        return value


@dataclass
class ApiState:
    """An application's settings, deployed model, caches and credentials (None: no token, and
    everyone may call); ``answers`` are the answers served in front of Flask
    (pipeline.api.answers)."""

    settings: Settings
    auth: Credentials | None
    models: ModelHolder = field(init=False)
    cache: FileCache = field(default_factory=FileCache)
    answers: KeptAnswers = field(default_factory=KeptAnswers)

    def __post_init__(self):
        self.models = ModelHolder(self.settings.deployment_folder)

    @property
    def token(self) -> str | None:
        """The bearer token, or None when none is configured."""
        return self.auth.token if self.auth is not None else None


def init_state(app: Flask, settings: Settings) -> ApiState:
    """Attach the state of ``settings`` to an application."""
    token = api_token(settings)
    state = ApiState(settings, Credentials.of(settings, token) if token is not None else None)
    app.extensions[EXTENSION] = state
    return state


def api_state(app: Flask | None = None) -> ApiState:
    """The state of ``app``, or of the application handling the current request."""
    return (app or current_app).extensions[EXTENSION]
