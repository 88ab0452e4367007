"""Reading config.json: every key typed and checked at load, every path resolved against the
folder of the config file (never the working directory).

A wrong value fails at load with one line naming the key, the file and what the key takes. An
unknown key is a warning naming the nearest known key, and is otherwise ignored: course configs
often carry a key of their own, and refusing them would stop a cycle for nothing, while a
misspelt option still says so in the log. Only entry points call ``load_settings``; everything
below them receives the Settings.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.names import AUTH_DB, CONFIG_FILE, HISTORY_DB, TEST_FILE

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / CONFIG_FILE

REQUIRED_KEYS = (
    "input_folder_path",
    "output_folder_path",
    "test_data_path",
    "output_model_path",
    "prod_deployment_path",
)
DRIFT_TESTS = ("loss", "raw", "parametric", "nonparametric")
TIMINGS = ("history", "rerun")  # where diagnostics takes the stage timings from
# The candidate models of pipeline.model.candidates (which checks that it builds exactly these).
MODELS = ("logistic", "log_logistic", "boosting")
DEFAULT_MODEL = {"family": "auto", "C": 1.0, "max_iter": 1000, "class_weight": None,
                 "random_state": 0, "folds": 5, "selection_rows": 20_000}
TOKEN_ENV = "RISK_API_TOKEN"
# A token anyone could guess in a day of tries even at the rate limit (pipeline.api.auth) is
# refused unless allow_short_token says this is a machine of one's own.
MIN_TOKEN_LENGTH = 16
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """The configuration file is missing, unreadable, incomplete or holds a wrong value."""


# Checkers: each returns the value to keep, or raises _Bad with what the key takes. ------------

class _Bad(ValueError):
    """A value of the wrong kind; the message says what the key (or its ``part``) takes."""

    def __init__(self, message: str, part: str = ""):
        super().__init__(message)
        self.part = part


def _text(value):
    if not isinstance(value, str) or not value.strip():
        raise _Bad("must be a non-empty string")
    return value


def _flag(value):
    if type(value) is not bool:  # "false" is a string, and truthy: refuse it
        raise _Bad("must be true or false (a JSON boolean, not a string or number)")
    return value


def _whole(minimum: int) -> Callable:
    def check(value):
        if type(value) is not int or value < minimum:
            raise _Bad(f"must be a whole number of at least {minimum}")
        return value
    return check


def _choice(*choices: str) -> Callable:
    def check(value):
        if value not in choices or not isinstance(value, str):
            raise _Bad(f"must be one of {', '.join(choices)}")
        return value
    return check


def _timing(value):
    """A source of stage timings, or false; true is what it meant before there was a choice."""
    if value is True:
        return "rerun"
    if value is False or (isinstance(value, str) and value in TIMINGS):
        return value
    raise _Bad('must be "history", "rerun" or false (true, as older configs say, means "rerun")')


def _url(value):
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise _Bad("must be an http:// or https:// address")
    return value.rstrip("/")


def _addresses(value):
    """E-mail addresses: one string, or a list of them; null or [] for none."""
    if value is None:
        return ()
    found = [value] if isinstance(value, str) else value
    if not isinstance(found, list) or not all(
            isinstance(a, str) and _ADDRESS.match(a) for a in found):
        raise _Bad("must be an e-mail address (name@host) or a list of them")
    return tuple(found)


def _address(value):
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise _Bad("must be an e-mail address (name@host)")
    return value


def _port(value):
    if type(value) is not int or not 1 <= value <= 65535:
        raise _Bad("must be a port number from 1 to 65535")
    return value


def _env_name(value):
    """The name of an environment variable (its value, a secret, never sits in the config)."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise _Bad("must be the name of an environment variable (letters, digits, _)")
    return value


def _optional(check: Callable) -> Callable:
    def optional(value):
        return None if value is None else check(value)
    return optional


def _fraction(low: float, high: float) -> Callable:
    def check(value):
        if type(value) not in (int, float) or not low <= value < high:
            raise _Bad(f"must be a number from {low:g} to below {high:g}")
        return float(value)
    return check


def _model(value):
    """Model settings: only the known ones, each of its kind, defaults filled in."""
    if not isinstance(value, dict):
        raise _Bad(f"must be an object of model settings ({', '.join(DEFAULT_MODEL)})")
    unknown = sorted(set(value) - set(DEFAULT_MODEL))
    if unknown:
        raise _Bad(f"has unknown setting(s) {', '.join(unknown)} "
                   f"(known: {', '.join(DEFAULT_MODEL)})")
    model = {**DEFAULT_MODEL, **value}
    if model["family"] not in ("auto", *MODELS):
        raise _Bad(f"must be auto or one of {', '.join(MODELS)}", ".family")
    if type(model["folds"]) is not int or not 2 <= model["folds"] <= 20:
        raise _Bad("must be a whole number from 2 to 20", ".folds")
    if type(model["selection_rows"]) is not int or model["selection_rows"] < 100:
        raise _Bad("must be a whole number of at least 100", ".selection_rows")
    c = model["C"]
    if type(c) not in (int, float) or not (0 < c < math.inf):
        raise _Bad("must be a positive number", ".C")
    model["C"] = float(c)
    if type(model["max_iter"]) is not int or model["max_iter"] < 1:
        raise _Bad("must be a whole number of at least 1", ".max_iter")
    if model["random_state"] is not None and type(model["random_state"]) is not int:
        raise _Bad("must be a whole number or null", ".random_state")
    weight = model["class_weight"]
    if isinstance(weight, dict):
        try:  # JSON keys are strings; the classes are the integers 0 and 1
            weight = {int(k): float(v) for k, v in weight.items()}
        except (TypeError, ValueError):
            weight = None
        if weight is None or set(weight) - {0, 1} or not all(v > 0 for v in weight.values()):
            raise _Bad('must be null, "balanced" or {"0": w, "1": w} with w > 0', ".class_weight")
        model["class_weight"] = weight
    elif weight not in (None, "balanced"):
        raise _Bad('must be null, "balanced" or {"0": w, "1": w} with w > 0', ".class_weight")
    return model


@dataclass(frozen=True)
class Option:
    """An optional key of the config: its default, its check, and what it means."""

    default: object
    check: Callable
    meaning: str


OPTIONS: dict[str, Option] = {
    "history_db_path": Option(HISTORY_DB, _text, "the history database (beside the config)"),
    "test_file": Option(TEST_FILE, _text, "the labelled test file in test_data_path"),
    "model": Option(DEFAULT_MODEL, _model, "model selection and logistic regression settings"),
    "drift_test": Option("loss", _choice(*DRIFT_TESTS), "the drift test"),
    "drift_alpha": Option(0.01, _fraction(1e-6, 0.5), "the loss test's significance level"),
    "drift_tolerance": Option(0.02, _fraction(0.0, 1.0), "the rise of the mean log-loss, as a "
                                                          "share of the reference, that the "
                                                          "loss test tolerates"),
    "min_history": Option(5, _whole(2), "past scores a statistical drift test needs"),
    "min_drift_rows": Option(20, _whole(1), "new rows (one exit at least) a drift verdict needs"),
    "data_drift_decides": Option(False, _flag, "let KS/PSI alerts trigger re-deployment"),
    "deploy_if_worse": Option(False, _flag, "deploy a retrained model that scores below the "
                                            "deployed one on the test data"),
    "estimate_retrains": Option(False, _flag, "let an estimated F1 wholly below the deployed "
                                              "score ask for a retrain on the labelled data"),
    "api_url": Option("http://127.0.0.1:8000", _url, "the API apicalls.py and the cycle call"),
    "api_token_file": Option(None, _optional(_text), "file whose first line is the API token"),
    "allow_short_token": Option(False, _flag, "accept a token shorter than 16 characters "
                                              "(local use only; logged as a warning)"),
    "auth_db_path": Option(AUTH_DB, _text, "sessions and failed sign-ins, shared by the API's "
                                           "workers (beside the config)"),
    "auth_failure_limit": Option(10, _whole(1), "wrong tokens from one address within the "
                                                "window before it gets 429"),
    "auth_failure_window": Option(600, _whole(1), "seconds a wrong token counts against its "
                                                  "address"),
    "trust_x_forwarded_for": Option(False, _flag, "take the caller's address from the last "
                                                  "X-Forwarded-For entry (behind a proxy only)"),
    "keep_versions": Option(20, _whole(1), "deployed versions kept"),
    "max_body_bytes": Option(32 * 1024 * 1024, _whole(1), "request body limit of the API"),
    "check_outdated_packages": Option(True, _flag, "let diagnostics ask the package index"),
    "measure_execution_time": Option("history", _timing, "where diagnostics takes the stage "
                                     "timings from: the last real runs, or a re-run"),
    # Watching the cycle (pipeline.watch): /health's rule and the alerts.
    "health_max_age_minutes": Option(30, _whole(1), "/health answers 503 when the last "
                                                    "successful cycle is older than this"),
    "health_failed_runs": Option(3, _whole(1), "/health answers 503 when this many cycles in "
                                               "a row failed"),
    "alert_webhook_url": Option(None, _optional(_url), "where alerts are POSTed as JSON"),
    "alert_email_to": Option((), _addresses, "who gets alerts by e-mail"),
    "alert_email_from": Option(None, _optional(_address), "the sender of alert e-mails"),
    "smtp_host": Option("localhost", _text, "the SMTP server of alert e-mails"),
    "smtp_port": Option(25, _port, "its port"),
    "smtp_starttls": Option(False, _flag, "STARTTLS before sending"),
    "smtp_user": Option(None, _optional(_text), "log in to the SMTP server as this user"),
    "smtp_password_env": Option(None, _optional(_env_name), "the environment variable that "
                                                            "holds the SMTP password"),
}
# Keys refused with the reason: a secret does not belong in a file people copy and commit.
REFUSED_KEYS = {"smtp_password": "put the SMTP password in an environment variable and name it "
                                 "in smtp_password_env"}


@dataclass(frozen=True)
class Settings:
    """Resolved, checked settings of one configuration file."""

    config_path: Path
    root: Path
    input_folder: Path
    output_folder: Path
    test_data: Path
    model_folder: Path
    deployment_folder: Path
    history_db: Path
    auth_db: Path
    test_file: Path
    model: dict = field(default_factory=lambda: dict(DEFAULT_MODEL))
    drift_test: str = "loss"
    drift_alpha: float = 0.01
    drift_tolerance: float = 0.02
    min_history: int = 5
    min_drift_rows: int = 20
    data_drift_decides: bool = False
    deploy_if_worse: bool = False
    estimate_retrains: bool = False
    api_url: str = "http://127.0.0.1:8000"
    api_token_file: Path | None = None
    allow_short_token: bool = False
    auth_failure_limit: int = 10
    auth_failure_window: int = 600
    trust_x_forwarded_for: bool = False
    keep_versions: int = 20
    max_body_bytes: int = 32 * 1024 * 1024
    check_outdated_packages: bool = True
    measure_execution_time: str | bool = "history"  # "history", "rerun" or False
    health_max_age_minutes: int = 30
    health_failed_runs: int = 3
    alert_webhook_url: str | None = None
    alert_email_to: tuple[str, ...] = ()
    alert_email_from: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password_env: str | None = None
    raw: dict = field(default_factory=dict)  # the file's keys (with overrides), for copies of it

    @property
    def name(self) -> str:
        """A short name for logs and the history: the config file's name."""
        return self.config_path.name

    @property
    def input_key(self) -> str:
        """The input folder as the config names it, for records of what was seen in it.

        A relative path stays relative to the config's folder (normalised), so a project moved
        or restored elsewhere keeps its records; an absolute one is the folder's absolute path.
        cycle.quick keeps a standard-library copy of this rule (quick_paths).
        """
        return folder_key(self.raw.get("input_folder_path"), self.input_folder)

    @property
    def data_folders(self) -> tuple[Path, ...]:
        """Folders the API may read CSV files from."""
        return (self.input_folder, self.test_data, self.output_folder)


def folder_key(configured: str | None, resolved: Path) -> str:
    """A configured folder's key: its relative path, normalised ("./in/" -> "in"), or, for an
    absolute path (or one starting with ~), the resolved folder."""
    if not isinstance(configured, str) or os.path.isabs(os.path.expanduser(configured)):
        return os.path.normpath(resolved)
    return Path(os.path.normpath(configured)).as_posix()


def _resolve(root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (root / path)


def _read(path: Path) -> dict:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    return raw


def _checked(raw: dict, path: Path) -> dict:
    """Every optional key's value, checked (defaults for the absent ones)."""
    known = [*REQUIRED_KEYS, *OPTIONS]
    for key, reason in REFUSED_KEYS.items():
        if key in raw:
            raise ConfigError(f"{key} in {path} is refused: {reason}")
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1, cutoff=0.0)
            logger.warning("unknown key %r in %s ignored (the nearest known key is %s)", key,
                           path, near[0] if near else known[0])
    values = {}
    for key, option in OPTIONS.items():
        try:
            values[key] = option.check(raw[key]) if key in raw else option.default
        except _Bad as exc:
            shown = repr(raw[key])
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise ConfigError(f"{key}{exc.part} in {path} {exc}, not {shown}") from None
    for key, needs in (("alert_email_to", "alert_email_from"), ("smtp_user", "smtp_password_env")):
        if values[key] and not values[needs]:
            raise ConfigError(f"{key} in {path} needs {needs} too")
    return values


def load_settings(config_path: str | Path | None = None, **overrides) -> Settings:
    """Read and check a config file (default: config.json beside the scripts) into Settings.

    Keyword overrides replace keys of the file, before they are checked and resolved.
    """
    path = Path(config_path) if config_path else DEFAULT_CONFIG
    path = path.expanduser().resolve()
    raw = _read(path)
    raw.update(overrides)
    missing = [key for key in REQUIRED_KEYS if not raw.get(key) or not isinstance(raw[key], str)]
    if missing:
        raise ConfigError(f"config file {path} lacks {', '.join(missing)}")
    values = _checked(raw, path)
    root = path.parent
    test_data = _resolve(root, raw["test_data_path"])
    token_file = values.pop("api_token_file")
    return Settings(
        config_path=path,
        root=root,
        input_folder=_resolve(root, raw["input_folder_path"]),
        output_folder=_resolve(root, raw["output_folder_path"]),
        test_data=test_data,
        model_folder=_resolve(root, raw["output_model_path"]),
        deployment_folder=_resolve(root, raw["prod_deployment_path"]),
        history_db=_resolve(root, values.pop("history_db_path")),
        auth_db=_resolve(root, values.pop("auth_db_path")),
        test_file=test_data / values.pop("test_file"),
        api_token_file=_resolve(root, token_file) if token_file else None,
        raw=raw,
        **values,
    )


def api_token(settings: Settings) -> str | None:
    """The API's bearer token: $RISK_API_TOKEN, else the first line of api_token_file, else None.

    The file lets cron's cycle and the server share a token without putting it in a crontab.
    A token shorter than MIN_TOKEN_LENGTH raises ConfigError unless allow_short_token is set
    (then it is logged as a warning): the server and the clients that send it both read it here.
    """
    token = os.environ.get(TOKEN_ENV) or _token_file(settings)
    if token is None or len(token) >= MIN_TOKEN_LENGTH:
        return token
    where = f"${TOKEN_ENV}" if os.environ.get(TOKEN_ENV) else str(settings.api_token_file)
    if not settings.allow_short_token:
        raise ConfigError(f"the API token of {where} has {len(token)} characters, fewer than "
                          f"{MIN_TOKEN_LENGTH}; use a longer one (python -c 'import secrets; "
                          f"print(secrets.token_urlsafe(24))'), or set allow_short_token: true "
                          f"in {settings.name} for local use")
    logger.warning("the API token of %s has %d characters, fewer than %d: allowed by "
                   "allow_short_token in %s, for local use only", where, len(token),
                   MIN_TOKEN_LENGTH, settings.name)
    return token


def _token_file(settings: Settings) -> str | None:
    """The first line of api_token_file, or None when there is none configured."""
    if settings.api_token_file is None:
        return None
    try:
        lines = settings.api_token_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read api_token_file {settings.api_token_file}: "
                          f"{exc.strerror or exc}") from None
    if not lines or not lines[0].strip():
        raise ConfigError(f"api_token_file {settings.api_token_file} is empty")
    return lines[0].strip()
