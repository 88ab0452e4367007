"""One refresh of the outputs loads the deployed model once and scores the test file once.

The cycle refreshes every output after a deployment (cycle.steps.refresh_outputs: the estimate,
diagnostics, the confusion matrix, the risk list and the report), and the risk list and report
after new data that left the deployed version in place (cycle.estimating.refresh_book). Each
output used to load, checksum and score for itself; they now take what one load gave them.
"""

from __future__ import annotations

import json

import pytest

import reporting
from cycle import estimating, steps
from pipeline.core import deployed as deployed_module
from pipeline.core import modelfile
from pipeline.core.deployed import current_deployment
from pipeline.data import final
from pipeline.ingest import records
from pipeline.model import evaluate


@pytest.fixture
def counted(deployed, monkeypatch):
    """Counts of model loads, model checksums, reads and scorings of the test file and reads of
    finaldata.csv, while the wrapped functions still do their work."""
    counts = {"loads": 0, "checksums": 0, "test file reads": 0, "scorings": 0,
              "finaldata reads": 0}

    def counting(module, name, key, only=None):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            if only is None or only(*args):
                counts[key] += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)

    counting(deployed_module, "load_verified", "loads")  # every Deployed.load_model
    counting(modelfile, "sha256_bytes", "checksums")
    counting(records, "read_input_file", "test file reads",  # read_labelled_data's reader
             lambda path, *rest: str(path) == str(deployed.test_file))
    counting(evaluate, "evaluate_rows", "scorings")  # score_model's: every evaluation
    counting(final, "read_final_data", "finaldata reads")
    return counts


def test_the_refresh_after_a_deployment_loads_and_scores_once(deployed, counted):
    now = current_deployment(deployed.deployment_folder)
    assert steps.refresh_outputs(deployed, now, call_api=False) == []
    assert counted == {"loads": 1, "checksums": 1, "test file reads": 1, "scorings": 1,
                       "finaldata reads": 1}
    written = json.loads((deployed.model_folder / "diagnostics.json").read_text())
    evaluation = reporting.evaluate_deployed(deployed)  # alone: it loads and scores itself
    assert counted["loads"] == 2 and counted["scorings"] == 2
    # The diagnostics' counts come from the shared evaluation: the model's own predictions.
    predicted = written["predictions"]
    assert predicted["rows"] == evaluation["rows"] == 2000
    assert predicted["predicted_exited"] == evaluation["tp"] + evaluation["fp"] > 0
    assert predicted["model_version"] == now.version


def test_the_refresh_after_new_data_loads_and_scores_once(deployed, counted):
    estimating.refresh_book(deployed, current_deployment(deployed.deployment_folder))
    assert counted == {"loads": 1, "checksums": 1, "test file reads": 1, "scorings": 1,
                       "finaldata reads": 1}


def test_an_unusable_model_leaves_each_output_to_say_why(deployed, counted):
    now = current_deployment(deployed.deployment_folder)
    now.model_path.write_bytes(b"not the model")  # its checksum no longer matches
    assert reporting.evaluated_or_none(deployed, now) is None
    problems = steps.refresh_outputs(deployed, now, call_api=False)
    assert [p.split(":")[0] for p in problems] == [
        "estimate failed", "confusion matrix failed", "risk list failed"]
    written = json.loads((deployed.model_folder / "diagnostics.json").read_text())
    assert "checksum" in written["predictions"]["error"]
    report = reporting.build_report(deployed)
    assert any("checksum" in line for line in report.pages[reporting.PAGE_TITLES[0]])
