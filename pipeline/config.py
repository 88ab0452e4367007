"""Reading config.json: every path resolves against the folder of the config file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.json"

REQUIRED_KEYS = (
    "input_folder_path",
    "output_folder_path",
    "test_data_path",
    "output_model_path",
    "prod_deployment_path",
)

DEFAULT_MODEL = {"C": 1.0, "max_iter": 1000, "class_weight": None, "random_state": 0}


TOKEN_ENV = "RISK_API_TOKEN"


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or incomplete."""


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one configuration file."""

    config_path: Path
    root: Path
    input_folder: Path
    output_folder: Path
    test_data: Path
    model_folder: Path
    deployment_folder: Path
    history_db: Path
    test_file: Path
    model: dict = field(default_factory=lambda: dict(DEFAULT_MODEL))
    drift_test: str = "raw"
    api_url: str = "http://127.0.0.1:8000"
    api_token_file: Path | None = None
    keep_versions: int = 20
    max_body_bytes: int = 32 * 1024 * 1024
    raw: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A short name for logs and the history: the config file's name."""
        return self.config_path.name

    @property
    def data_folders(self) -> tuple[Path, ...]:
        """Folders the API may read CSV files from."""
        return (self.input_folder, self.test_data, self.output_folder)


def _resolve(root: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (root / path)


def _positive_int(raw: dict, key: str, default: int, path: Path) -> int:
    value = raw.get(key, default)
    if type(value) is not int or value < 1:
        raise ConfigError(f"{key} in {path} must be a whole number above 0, not {value!r}")
    return value


def load_settings(config_path: str | Path | None = None, **overrides) -> Settings:
    """Read a config file (default: config.json beside the scripts) into Settings.

    Keyword overrides replace keys of the file, before paths are resolved.
    """
    path = Path(config_path) if config_path else DEFAULT_CONFIG
    path = path.expanduser().resolve()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a JSON object")
    raw.update(overrides)
    missing = [key for key in REQUIRED_KEYS if not raw.get(key) or not isinstance(raw[key], str)]
    if missing:
        raise ConfigError(f"config file {path} lacks {', '.join(missing)}")
    root = path.parent
    test_data = _resolve(root, raw["test_data_path"])
    drift_test = raw.get("drift_test", "raw")
    if drift_test not in ("raw", "parametric", "nonparametric"):
        raise ConfigError(
            f"drift_test must be raw, parametric or nonparametric, not {drift_test!r}")
    model = dict(DEFAULT_MODEL)
    if not isinstance(raw.get("model") or {}, dict):
        raise ConfigError(f"model in {path} must be an object of LogisticRegression settings")
    model.update(raw.get("model") or {})
    return Settings(
        config_path=path,
        root=root,
        input_folder=_resolve(root, raw["input_folder_path"]),
        output_folder=_resolve(root, raw["output_folder_path"]),
        test_data=test_data,
        model_folder=_resolve(root, raw["output_model_path"]),
        deployment_folder=_resolve(root, raw["prod_deployment_path"]),
        history_db=_resolve(root, raw.get("history_db_path", "history.sqlite")),
        test_file=test_data / raw.get("test_file", "testdata.csv"),
        model=model,
        drift_test=drift_test,
        api_url=str(raw.get("api_url", "http://127.0.0.1:8000")).rstrip("/"),
        api_token_file=_resolve(root, raw["api_token_file"]) if raw.get("api_token_file")
        else None,
        keep_versions=_positive_int(raw, "keep_versions", 20, path),
        max_body_bytes=_positive_int(raw, "max_body_bytes", 32 * 1024 * 1024, path),
        raw=raw,
    )


def api_token(settings: Settings) -> str | None:
    """The API's bearer token: $RISK_API_TOKEN, else the first line of api_token_file, else None.

    The file lets cron's cycle and the server share a token without putting it in a crontab.
    """
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token
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
