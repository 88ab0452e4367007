"""Configuration: paths resolve against the config file's folder; bad files fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.config import DEFAULT_CONFIG, REQUIRED_KEYS, ConfigError, load_settings

VALUES = {
    "input_folder_path": "data/in",
    "output_folder_path": "data/out",
    "test_data_path": "../shared/test",
    "output_model_path": "models",
    "prod_deployment_path": "deploy/prod",
}
ATTRIBUTE = {
    "input_folder_path": "input_folder",
    "output_folder_path": "output_folder",
    "test_data_path": "test_data",
    "output_model_path": "model_folder",
    "prod_deployment_path": "deployment_folder",
}


def write_config(folder: Path, values: dict | None = None, name: str = "config.json") -> Path:
    """A JSON config file in folder (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(VALUES if values is None else values), encoding="utf-8")
    return path


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch) -> Path:
    """Work from a folder that is not the config's, as cron or gunicorn may."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_required_keys_are_the_five_paths():
    assert set(REQUIRED_KEYS) == set(VALUES)


@pytest.mark.parametrize("key", list(VALUES))
def test_relative_paths_resolve_against_the_config_folder(tmp_path, elsewhere, key):
    config = write_config(tmp_path / "project")
    settings = load_settings(config)
    expected = (tmp_path / "project" / VALUES[key]).resolve()
    assert getattr(settings, ATTRIBUTE[key]).resolve() == expected
    assert not getattr(settings, ATTRIBUTE[key]).resolve().is_relative_to(elsewhere)


def test_a_relative_config_path_is_taken_from_the_working_folder(tmp_path, monkeypatch):
    write_config(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    settings = load_settings("project/config.json")
    assert settings.config_path == tmp_path / "project" / "config.json"
    assert settings.root == tmp_path / "project"
    assert settings.input_folder == tmp_path / "project" / "data" / "in"
    monkeypatch.chdir(tmp_path / "project")  # moving afterwards changes nothing
    assert settings.input_folder.is_absolute()


@pytest.mark.parametrize("key", list(VALUES))
def test_absolute_paths_are_kept(tmp_path, elsewhere, key):
    absolute = tmp_path / "somewhere" / "absolute"
    config = write_config(tmp_path / "project", dict(VALUES, **{key: str(absolute)}))
    assert getattr(load_settings(config), ATTRIBUTE[key]) == absolute


@pytest.mark.parametrize("key", list(VALUES))
@pytest.mark.parametrize("value", [None, "", 3, ["a"]], ids=["absent", "empty", "int", "list"])
def test_a_missing_or_invalid_required_key_is_named(tmp_path, key, value):
    values = {k: v for k, v in VALUES.items() if k != key}
    if value is not None:
        values[key] = value
    config = write_config(tmp_path, values)
    with pytest.raises(ConfigError, match=key):
        load_settings(config)


def test_every_missing_key_is_named(tmp_path):
    config = write_config(tmp_path, {"input_folder_path": "in"})
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    for key in VALUES:
        if key != "input_folder_path":
            assert key in str(caught.value)
    assert "input_folder_path" not in str(caught.value)


@pytest.mark.parametrize("content, message", [
    pytest.param(b"{not json", r"cannot read", id="not-json"),
    pytest.param(b"", r"cannot read", id="empty"),
    pytest.param(b"\xff\xfe{}", r"cannot read", id="not-utf8"),
    pytest.param(b"[1, 2]", r"JSON object", id="a-list"),
    pytest.param(b'"config"', r"JSON object", id="a-string"),
])
def test_an_unreadable_config_raises_config_error(tmp_path, content, message):
    config = tmp_path / "config.json"
    config.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(config)
    assert str(config) in str(caught.value)


def test_a_missing_config_file_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"not found.*nope\.json"):
        load_settings(tmp_path / "nope.json")


def test_a_config_folder_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path)


def test_optional_keys_have_defaults(tmp_path, elsewhere):
    settings = load_settings(write_config(tmp_path / "project"))
    assert settings.history_db == tmp_path / "project" / "history.sqlite"
    assert settings.drift_test == "loss"
    assert settings.test_file == settings.test_data / "testdata.csv"
    assert settings.keep_versions > 0
    assert settings.name == "config.json"


def test_optional_paths_resolve_against_the_config_folder(tmp_path, elsewhere):
    values = dict(VALUES, history_db_path="db/history.sqlite", test_file="holdout.csv")
    settings = load_settings(write_config(tmp_path / "project", values))
    assert settings.history_db == tmp_path / "project" / "db" / "history.sqlite"
    assert settings.test_file.resolve() == (tmp_path / "shared" / "test" / "holdout.csv")


@pytest.mark.parametrize("drift_test", ["loss", "raw", "parametric", "nonparametric"])
def test_valid_drift_tests_are_accepted(tmp_path, drift_test):
    config = write_config(tmp_path, dict(VALUES, drift_test=drift_test))
    assert load_settings(config).drift_test == drift_test


@pytest.mark.parametrize("drift_test", ["fancy", "", "RAW", None, 1])
def test_an_invalid_drift_test_is_rejected(tmp_path, drift_test):
    config = write_config(tmp_path, dict(VALUES, drift_test=drift_test))
    with pytest.raises(ConfigError, match="drift_test"):
        load_settings(config)


def test_keyword_overrides_replace_file_values_before_resolving(tmp_path, elsewhere):
    config = write_config(tmp_path / "project")
    settings = load_settings(config, input_folder_path="other/in", drift_test="parametric")
    assert settings.input_folder == tmp_path / "project" / "other" / "in"
    assert settings.drift_test == "parametric"
    assert settings.output_folder == tmp_path / "project" / "data" / "out"  # untouched
    assert json.loads(config.read_text(encoding="utf-8")) == VALUES  # the file is not changed


def test_an_override_can_supply_a_missing_key_or_break_a_valid_one(tmp_path):
    values = {k: v for k, v in VALUES.items() if k != "test_data_path"}
    config = write_config(tmp_path, values)
    assert load_settings(config, test_data_path="t").test_data == tmp_path / "t"
    with pytest.raises(ConfigError, match="drift_test"):
        load_settings(write_config(tmp_path / "ok"), drift_test="bogus")


def test_the_default_config_is_the_one_beside_the_scripts(elsewhere):
    assert DEFAULT_CONFIG.name == "config.json"
    assert (DEFAULT_CONFIG.parent / "ingestion.py").is_file()
    settings = load_settings()
    assert settings.config_path == DEFAULT_CONFIG
    assert settings.root == DEFAULT_CONFIG.parent


@pytest.mark.parametrize("key, value", [
    ("keep_versions", "many"), ("keep_versions", 0), ("keep_versions", 2.5),
    ("max_body_bytes", -1), ("max_body_bytes", None), ("model", [1, 2]),
])
def test_bad_optional_values_are_config_errors(tmp_path, key, value):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**{k: "x" for k in REQUIRED_KEYS}, key: value}))
    with pytest.raises(ConfigError, match=key):
        load_settings(path)


def test_api_token_comes_from_the_environment_or_the_token_file(tmp_path, monkeypatch):
    from pipeline.core.config import api_token

    monkeypatch.delenv("RISK_API_TOKEN", raising=False)
    (tmp_path / "secret").write_text("abc123-from-the-file\nignored\n")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**{k: "x" for k in REQUIRED_KEYS}, "api_token_file": "secret"}))
    assert api_token(load_settings(path)) == "abc123-from-the-file"
    monkeypatch.setenv("RISK_API_TOKEN", "from-the-environment")
    assert api_token(load_settings(path)) == "from-the-environment"
    monkeypatch.delenv("RISK_API_TOKEN")
    (tmp_path / "secret").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        api_token(load_settings(path))
    path.write_text(json.dumps({k: "x" for k in REQUIRED_KEYS}))
    assert api_token(load_settings(path)) is None


@pytest.mark.parametrize("where", ["environment", "file"])
def test_a_short_token_is_refused_unless_allowed_for_local_use(tmp_path, monkeypatch, caplog,
                                                                where):
    from pipeline.core.config import api_token

    monkeypatch.delenv("RISK_API_TOKEN", raising=False)
    if where == "environment":
        monkeypatch.setenv("RISK_API_TOKEN", "x" * 15)
    (tmp_path / "secret").write_text("y" * 15 + "\n")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**{k: "x" for k in REQUIRED_KEYS}, "api_token_file": "secret"}))
    with pytest.raises(ConfigError, match="has 15 characters, fewer than 16") as refused:
        api_token(load_settings(path))
    assert "\n" not in str(refused.value) and "allow_short_token" in str(refused.value)
    with caplog.at_level("WARNING"):
        token = api_token(load_settings(path, allow_short_token=True))
    assert len(token) == 15
    assert "15 characters" in caplog.text and "local use only" in caplog.text
    (tmp_path / "secret").write_text("y" * 16 + "\n")
    monkeypatch.setenv("RISK_API_TOKEN", "z" * 16)
    assert api_token(load_settings(path)) == "z" * 16  # 16 is enough


@pytest.mark.parametrize("key, value", [
    ("data_drift_decides", "false"), ("data_drift_decides", 0), ("deploy_if_worse", "true"),
    ("check_outdated_packages", None), ("measure_execution_time", "no"),
    ("min_drift_rows", 0), ("min_drift_rows", "20"), ("min_history", 1), ("min_history", 5.0),
    ("api_url", "127.0.0.1:8000"), ("api_url", 8000), ("api_token_file", ""),
    ("api_token_file", 3), ("history_db_path", ""), ("allow_short_token", "true"),
    ("auth_db_path", ""), ("auth_failure_limit", 0), ("auth_failure_window", 1.5),
    ("trust_x_forwarded_for", 1), ("test_file", ["a.csv"]),
    ("drift_test", ["raw"]), ("model", {"C": 0}), ("model", {"C": "1"}),
    ("model", {"max_iter": 0}), ("model", {"penalty": "l1"}), ("model", {"random_state": 1.5}),
    ("model", {"class_weight": "equal"}), ("model", {"class_weight": {"0": 1, "2": 1}}),
    ("model", {"class_weight": {"1": -1}}), ("model", {"family": "forest"}),
    ("model", {"folds": 1}), ("model", {"selection_rows": 10}), ("drift_alpha", 0),
    ("drift_alpha", 0.5), ("drift_alpha", "0.01"), ("drift_tolerance", -0.1),
    ("drift_tolerance", True),
])
def test_every_optional_key_is_checked_at_load_with_a_one_line_reason(tmp_path, key, value):
    config = write_config(tmp_path, dict(VALUES, **{key: value}))
    with pytest.raises(ConfigError, match=key) as caught:
        load_settings(config)
    message = str(caught.value)
    assert "\n" not in message and str(config) in message
    assert repr(value)[:20] in message  # the value that was refused is shown


def test_a_string_false_is_not_true(tmp_path):
    """The one that would bite: "false" is truthy, so it must be refused, not read as on."""
    config = write_config(tmp_path, dict(VALUES, data_drift_decides="false"))
    with pytest.raises(ConfigError, match=r"data_drift_decides .* must be true or false"):
        load_settings(config)
    assert load_settings(write_config(tmp_path, dict(VALUES, data_drift_decides=False))
                         ).data_drift_decides is False


@pytest.mark.parametrize("key, nearest", [("deploy_if_wrose", "deploy_if_worse"),
                                           ("cleaned_data", "test_data_path")])
def test_an_unknown_key_is_a_warning_naming_the_nearest_known_one(tmp_path, caplog, key,
                                                                   nearest):
    config = write_config(tmp_path, dict(VALUES, **{key: True}))
    settings = load_settings(config)  # the course's extra keys do not stop anything
    assert settings.deploy_if_worse is False  # a misspelt key changes nothing
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1
    assert f"unknown key '{key}'" in warned[0].getMessage()
    assert warned[0].getMessage().endswith(f"(the nearest known key is {nearest})")


def test_every_optional_key_has_its_default_and_its_value(tmp_path):
    from pipeline.core.config import OPTIONS

    defaults = load_settings(write_config(tmp_path / "a"))
    for key in ("drift_test", "drift_alpha", "drift_tolerance", "min_history",
                "min_drift_rows", "data_drift_decides",
                "deploy_if_worse", "api_url", "keep_versions", "max_body_bytes",
                "check_outdated_packages", "measure_execution_time", "model"):
        assert getattr(defaults, key) == OPTIONS[key].default, key
    chosen = {"drift_test": "parametric", "min_history": 7, "min_drift_rows": 50,
              "data_drift_decides": True, "deploy_if_worse": True,
              "api_url": "http://127.0.0.1:9000/", "keep_versions": 3, "max_body_bytes": 1000,
              "check_outdated_packages": False, "measure_execution_time": False,
              "model": {"C": 2, "class_weight": {"0": 1, "1": 4}, "family": "boosting"},
              "drift_alpha": 0.05, "drift_tolerance": 0}
    settings = load_settings(write_config(tmp_path / "b", dict(VALUES, **chosen)))
    for key, value in chosen.items():
        if key not in ("api_url", "model"):
            assert getattr(settings, key) == value, key
    assert settings.api_url == "http://127.0.0.1:9000"
    assert settings.model == {"family": "boosting", "C": 2.0, "max_iter": 1000,
                              "class_weight": {0: 1.0, 1: 4.0}, "random_state": 0, "folds": 5,
                              "selection_rows": 20_000}


# Watching the cycle: /health's rule and the alerts (pipeline.watch) -----------------------------

WATCH = {"health_max_age_minutes": 60, "health_failed_runs": 5,
         "alert_webhook_url": "https://hooks.example.org/services/T0/B0/x",
         "alert_email_to": ["ops@example.org", "oncall@example.org"],
         "alert_email_from": "risk@example.org", "smtp_host": "mail.example.org",
         "smtp_port": 587, "smtp_starttls": True, "smtp_user": "risk",
         "smtp_password_env": "RISK_SMTP_PASSWORD"}


def test_the_watch_keys_have_defaults_and_take_their_values(tmp_path):
    from pipeline.core.config import OPTIONS

    defaults = load_settings(write_config(tmp_path / "a"))
    for key in WATCH:
        assert getattr(defaults, key) == OPTIONS[key].default, key
    assert (defaults.health_max_age_minutes, defaults.health_failed_runs) == (30, 3)
    assert defaults.alert_webhook_url is None and defaults.alert_email_to == ()
    settings = load_settings(write_config(tmp_path / "b", dict(VALUES, **WATCH)))
    for key, value in WATCH.items():
        assert getattr(settings, key) == (tuple(value) if isinstance(value, list) else value)
    one = load_settings(write_config(tmp_path / "c", dict(
        VALUES, alert_email_to="ops@example.org", alert_email_from="risk@example.org")))
    assert one.alert_email_to == ("ops@example.org",)


@pytest.mark.parametrize("key, value", [
    ("health_max_age_minutes", 0), ("health_failed_runs", "3"),
    ("alert_webhook_url", "hooks.example.org/x"), ("alert_email_to", "nobody"),
    ("alert_email_to", ["ops@example.org", 3]), ("alert_email_from", "risk"),
    ("smtp_starttls", "yes"), ("smtp_port", 0), ("smtp_port", 70000), ("smtp_port", "587"),
    ("smtp_password_env", "MY-PASSWORD"),
    ("smtp_password_env", "$RISK_SMTP_PASSWORD"),
])
def test_bad_watch_values_are_refused_with_the_key_named(tmp_path, key, value):
    values = {**VALUES, **WATCH, key: value}
    with pytest.raises(ConfigError, match=key):
        load_settings(write_config(tmp_path, values))


@pytest.mark.parametrize("present, missing", [("alert_email_to", "alert_email_from"),
                                              ("smtp_user", "smtp_password_env")])
def test_a_watch_key_that_needs_another_says_which(tmp_path, present, missing):
    values = {k: v for k, v in dict(VALUES, **WATCH).items() if k != missing}
    with pytest.raises(ConfigError, match=f"{present} in .* needs {missing}"):
        load_settings(write_config(tmp_path, values))


def test_a_password_in_the_config_is_refused_without_being_repeated(tmp_path):
    values = dict(VALUES, **WATCH, smtp_password="hunter2-secret")
    with pytest.raises(ConfigError, match="smtp_password_env") as caught:
        load_settings(write_config(tmp_path, values))
    assert "hunter2" not in str(caught.value)
