"""A project moved or restored elsewhere finds nothing new: what the cycle and ingestion have seen
is keyed by the input folder's path relative to the config, not by its absolute path."""

from __future__ import annotations

import json
import shutil

import pytest

from cycle import quick
from cycle.run import run_cycle
from ingestion import run_ingestion
from pipeline.core.config import load_settings
from pipeline.core.deployed import current_deployment
from pipeline.core.history import History
from tests.helpers import (
    CONFIG,
    QUIET,
    copy_project,
    cycle,
    practice_template,
    write_config,
)

SEEN = "ingesteddata/seenfiles.json"
STATE = "ingesteddata/finaldata.state.json"


@pytest.fixture(scope="module")
def deployed_template(tmp_path_factory, datasets):
    """A project after make run's two cycles (practice, then production: version 2), built once
    for the module."""
    root = practice_template(tmp_path_factory.mktemp("moved") / "practice", datasets, **QUIET,
                             api_url="http://127.0.0.1:9")
    assert run_cycle(load_settings(root / "config.json"), call_api=False).startswith(
        "loss drift: deployed version 2")
    return root


@pytest.fixture
def deployed_project(deployed_template, tmp_path):
    """A copy of the template (links kept, times kept: as if it had been built here)."""
    root = tmp_path / "project"
    copy_project(deployed_template, root)
    return root


def _counts(root) -> dict[str, int]:
    history = History(root / "history.sqlite")
    return {table: history.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]
            for table in ("runs", "ingested_files", "deployments", "scores")}


def _quick(root) -> bool:
    return quick.nothing_new(quick.quick_paths(str(root / "config.json")))


@pytest.mark.parametrize("how", ["renamed", "restored"])
def test_a_moved_project_finds_nothing_new(deployed_project, tmp_path, how):
    before = _counts(deployed_project)
    moved = tmp_path / "elsewhere" / "risk"
    moved.parent.mkdir()
    if how == "renamed":
        deployed_project.rename(moved)
        assert _quick(moved)  # names, sizes and times as recorded: the quick path says so
        said = cycle(moved, "config.json").stdout  # cron's way: fullprocess.py, quick path
        assert "nothing new" in said
    else:  # a backup restored: the files rewritten, their times new, names and SHA-256 the same
        shutil.copytree(deployed_project, moved, symlinks=True, copy_function=shutil.copy)
        shutil.rmtree(deployed_project)
        assert not _quick(moved)  # touched files: the quick path leaves it to the checksums
    assert run_cycle(load_settings(moved / "config.json"), call_api=False).startswith(
        "nothing new")
    assert _quick(moved)  # the new times are recorded: the next cron cycle is the quick one
    assert _counts(moved) == before  # no ingestion, no scoring, no deployment, no run
    assert current_deployment(moved / "production_deployment").version == 2
    keys = json.loads((moved / SEEN).read_text(encoding="utf-8"))
    assert sorted(keys) == ["configs/", "practicedata", "sourcedata"]
    assert sorted(keys["configs/"]) == ["../config.json", "../config.practice.json"]


def test_ingestion_in_a_moved_project_appends(deployed_project, tmp_path, datasets):
    moved = tmp_path / "moved"
    deployed_project.rename(moved)
    extra = datasets["testdata/testdata.csv"].head(50)
    extra.to_csv(moved / "sourcedata" / "dataset5.csv", index=False)
    assert run_ingestion(load_settings(moved / "config.json")).mode == "append"


def test_records_under_an_absolute_key_are_taken_over_once(deployed_project):
    settings = load_settings(deployed_project / "config.json")
    # As an older release wrote them: both records keyed by the input folder's absolute path.
    seen_path = deployed_project / SEEN
    seen = json.loads(seen_path.read_text(encoding="utf-8"))
    seen[str(settings.input_folder)] = seen.pop("sourcedata")
    seen_path.write_text(json.dumps(seen), encoding="utf-8")
    state_path = deployed_project / STATE
    state = json.loads(state_path.read_text(encoding="utf-8"))
    assert state["input_folder"] == "sourcedata"
    state_path.write_text(json.dumps(dict(state, input_folder=str(settings.input_folder))),
                          encoding="utf-8")
    before = _counts(deployed_project)

    assert not _quick(deployed_project)  # the quick path leaves old records to the full cycle
    assert run_cycle(settings, call_api=False).startswith("nothing new")
    assert _counts(deployed_project) == before
    assert sorted(json.loads(seen_path.read_text(encoding="utf-8"))) == [
        "configs/", "practicedata", "sourcedata"]
    assert _quick(deployed_project)
    (deployed_project / "sourcedata" / "more.csv").write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
        "zzzz,1,2,3,0\n", encoding="utf-8")
    assert run_ingestion(settings).mode == "append"  # the old ingestion state is used too
    assert json.loads(state_path.read_text(encoding="utf-8"))["input_folder"] == "sourcedata"


@pytest.mark.parametrize("configured", ["sourcedata", "./sourcedata/", "data/../sourcedata",
                                        "ABSOLUTE", "ABSOLUTE/./"])
def test_the_quick_path_keys_the_folder_as_the_config_does(tmp_path, configured):
    configured = configured.replace("ABSOLUTE", str(tmp_path / "sourcedata"))
    config = write_config(tmp_path, **dict(CONFIG, input_folder_path=configured))
    key = load_settings(config).input_key
    assert quick.quick_paths(str(config))["input_key"] == key
    assert key == ("sourcedata" if not configured.startswith("/")
                   else str(tmp_path / "sourcedata"))
