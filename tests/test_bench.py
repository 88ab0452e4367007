"""Smoke test of the benchmark suite at tiny sizes: references agree with ingestion, the report
renders every figure next to its target."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench.baseline import baseline_ingest, limit_read_write
from bench.datasets import check_same_bytes, write_files
from bench.report import write_results
from ingestion import run_ingestion
from pipeline.core.config import load_settings
from tests.helpers import write_config


def test_generator_bytes_and_references_agree_with_ingestion(tmp_path):
    assert check_same_bytes(500)
    write_files(tmp_path / "in", 3_000, 4, seed=3)
    config = write_config(tmp_path, input_folder_path="in", output_folder_path="out",
                          test_data_path="t", output_model_path="m", prod_deployment_path="d")
    result = run_ingestion(load_settings(config))
    assert baseline_ingest(tmp_path / "in", tmp_path / "base") == result.rows_kept
    assert limit_read_write(tmp_path / "in", tmp_path / "limit") == 3_000
    ours = pd.read_csv(tmp_path / "out" / "finaldata.csv")
    theirs = pd.read_csv(tmp_path / "base" / "finaldata.csv")
    assert ours.equals(theirs)  # the same rows in the same order: only the cost differs


def test_results_file_names_every_target(tmp_path):
    stages = {"seconds": {"ingest": 1.0, "train": 2.0}, "total": 4.0, "peak_rss_mb": 300.0}
    results = {
        "machine": "2 cores", "quick": True, "seconds": 60.0,
        "shipped": {"ours": stages, "reference": dict(stages, total=5.0, commit="81bdcf6"),
                    "ratio": 0.8, "runs": 3,
                    "with_api": {"ours": dict(stages, total=3.0),
                                 "reference": dict(stages, total=6.0, commit="81bdcf6"),
                                 "ratio": 0.5, "runs": 3}},
        "quick_path": {"shipped data": {"pass": 0.01, "cycle": 0.02, "ratio": 2.0}},
        "incremental": {"ours": 0.1, "baseline": 0.5, "ours_big": 0.12, "speedup": 5.0,
                        "growth": 1.2},
        "full": {"ours": 1.0, "baseline": 2.0, "limit": 0.5, "speedup": 2.0, "of_limit": 2.0},
        "api": {"client": "wrk", "speedup": 5.0,
                "ours": {"rps": 2000, "p50": 0.004, "p99": 0.01, "errors": 0},
                "baseline": {"rps": 400, "p50": 0.02, "p99": 0.05, "errors": 0},
                "batch": {"ours": 0.05, "baseline": 0.1, "limit": 0.005},
                "cache": {"in_app": {"scoring": {"cached": 0.0001, "computed": 0.02,
                                                 "speedup": 200}},
                          "health_in_app": 0.00008, "scoring_miss_in_app": 0.004,
                          "http": {"scoring": 0.0004, "health": 0.0004,
                                   "scoring_miss": 0.012}}},
        "scale": [dict(stages, rows=1_000), dict(stages, rows=10_000, total=50.0)],
    }
    write_results(json.loads(json.dumps(results)), tmp_path / "RESULTS.md")
    text = (tmp_path / "RESULTS.md").read_text()
    for target in ("< 3x", ">= 3x", "<= 1.5x", ">= 1.5x", "<= 2.5x", ">= 4x", ">= 100x",
                   "< 4096 MiB", "<= 1.2x", "<= 0.60x"):
        assert target in text
    assert "**not met**" in text  # 50 s on 10x the rows: 1.25x per row
    # the shipped cycle side by side, stage by stage: 0.80x is not the 0.60x asked
    assert "| 6 | shipped re-deploying cycle: ours / 81bdcf6" in text
    assert "0.80x (4.00 s / 5.00 s) | <= 0.60x | **not met**" in text
    assert "| train | 2.00 | 2.00 | 1.00x |" in text
    assert ("| 6 | the same cycle with its API calls, no server running (as in `make run`): "
            "ours / 81bdcf6 | 0.50x (3.00 s / 6.00 s) | <= 0.60x | met |") in text



def test_cached_answers_are_timed_through_the_app_itself(deployed):
    from app import create_app
    from bench.run import _wsgi_get

    app = create_app(deployed.root / "config.json")
    body = json.loads(_wsgi_get(app, "/scoring")())
    assert body["model_version"] == 1 and 0 <= body["f1"] <= 1
    assert json.loads(_wsgi_get(app, "/nowhere")())["error"]
    assert _wsgi_get(app, "/scoring")() == _wsgi_get(app, "/scoring")()  # the cached bytes


def test_the_usual_scoring_computes_the_same_f1_as_ours(deployed, monkeypatch):
    from app import create_app
    from bench.run import _baseline_app, _wsgi_get

    monkeypatch.setenv("RISK_CONFIG", "unchanged")  # _baseline_app sets it; restored after
    ours = json.loads(_wsgi_get(create_app(deployed.root / "config.json"), "/scoring")())
    usual = json.loads(_wsgi_get(_baseline_app(deployed.root / "config.json"), "/scoring")())
    assert usual["f1"] == pytest.approx(ours["f1"], abs=1e-12)
    assert (deployed.model_folder / "baseline_latestscore.txt").is_file()


def test_a_section_run_alone_replaces_only_its_own_block(tmp_path):
    from bench.sections import update_section

    path = tmp_path / "RESULTS.md"
    update_section(path, "quality", ["## Quality", "", "AUC 0.82"])
    update_section(path, "performance", ["## Performance", "", "49x"])
    update_section(path, "quality", ["## Quality", "", "AUC 0.83"])
    text = path.read_text()
    assert text.startswith("# Benchmark results")
    assert "49x" in text and "AUC 0.83" in text and "AUC 0.82" not in text
    assert text.index("## Performance") < text.index("## Quality")  # in the fixed order


@pytest.mark.parametrize("gaps, constant, met", [
    ([0.01] * 9 + [-0.01], False, ["met", "met"]),
    ([0.01] * 8 + [-0.05, -0.03], False, ["met", "**not met**"]),  # 80% as good
    ([0.01] * 10, True, ["**not met**", "met"]),  # one constant model is one too many
])
def test_small_sample_section_judges_its_targets(tmp_path, gaps, constant, met):
    from bench.quality import _shares
    from bench.quality_report import write_small

    samples = [{"rows": 30, "change": 0.0, "chosen": "logistic", "gap": gap,
                "ours": {"roc_auc": 0.7 + gap, "constant": constant and i == 0,
                         "one_class": False},
                "course": {"roc_auc": 0.7, "constant": False, "one_class": False}}
               for i, gap in enumerate(gaps)]
    small = {"all": _shares(samples), "sizes": {30: _shares(samples)}, "skipped": 0,
             "margin": 0.02, "fresh_rows": 20_000, "samples": samples, "seconds": 6.0}
    results = json.loads(json.dumps({"machine": "2 cores", "quick": True, "small": small}))
    write_small(results, tmp_path / "RESULTS.md")
    rows = [line for line in (tmp_path / "RESULTS.md").read_text().splitlines()
            if line.startswith("| chosen model")]
    assert [row.rsplit("|", 2)[1].strip() for row in rows] == met
    assert "| 30 | 10 | 10 |" in (tmp_path / "RESULTS.md").read_text()  # all chose logistic


def _estimate_results(coverage: float, concept: float) -> dict:
    from bench.quality import wilson

    cell = {"trials": 200, "mae": 0.012, "oracle_mae": 0.011, "ratio": 12 / 11, "bias": 0.002,
            "oracle_bias": 0.0, "coverage": coverage, "coverage_interval": wilson(
                int(coverage * 200), 200), "oracle_coverage": 0.9,
            "oracle_coverage_interval": wilson(180, 200), "width": 0.04, "spread": 0.004}
    conditions = {f"{shift}|{rows}": {**cell, "shift": shift, "rows": rows}
                  for shift in (0.0, 1.0) for rows in (200, 1_000, 5_000)}
    check = {"rate": concept, "hits": int(concept * 200), "trials": 200,
             "interval": wilson(int(concept * 200), 200)}
    quiet = {"rate": 0.02, "hits": 4, "trials": 200, "interval": wilson(4, 200)}
    return {"machine": "2 cores", "quick": False, "seconds": 600.0,
            "quality": {"conditions": conditions, "checks": {"concept": check, "quiet": quiet},
                        "calibration": {"none": 200}, "seconds": 500.0},
            "cycle": {"estimate": 0.2, "total": 5.0, "share": 0.04,
                      "runs": [{"seconds": {"estimate": 0.2, "train": 1.0}}]},
            "scale": {1_000_000: {"estimate": 0.4, "check": 0.3},
                      10_000_000: {"estimate": 3.0, "check": 2.5}, "ratio": 7.5,
                      "rows_ratio": 10.0}}


@pytest.mark.parametrize("coverage, concept, failing", [
    (0.9, 0.99, []),
    (0.8, 0.99, ["the 90% band covers"] * 6),  # too narrow a band, everywhere
    (0.9, 0.90, ["concept shift"]),
])
def test_estimate_section_judges_every_target_of_the_issue(tmp_path, coverage, concept, failing):
    from bench.estimate_report import write_estimate

    write_estimate(_estimate_results(coverage, concept), tmp_path / "RESULTS.md")
    text = (tmp_path / "RESULTS.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "met" in line]
    assert len(rows) == 18  # MAE and bias x4, coverage x6, the two checks, cost x2
    missed = [row for row in rows if "**not met**" in row]
    assert len(missed) == len(failing)
    assert all(any(words in row for row in missed) for words in failing)
    assert "| 10,000,000 | 3.00 s | 2.50 s |" in text


def test_the_append_section_judges_both_targets(tmp_path, monkeypatch):
    from bench import append_process

    monkeypatch.setattr(append_process, "OUT", tmp_path / "RESULTS.md")
    small = {"rows": 1_000_000, "append": 0.2, "append_compiling": 0.25, "usual": 2.4,
             "numpy": 0.1, "speedup": 12.0}
    big = {"rows": 10_000_000, "append": 0.35, "append_compiling": 0.4, "usual": 20.0,
           "numpy": 0.1, "speedup": 57.1}
    append_process.write(small, big, 100.0)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| 12.0x (2,400 ms / 200 ms) | >= 10x | met |" in text
    assert "| 1.75x (350 ms / 200 ms) | <= 1.5x | **not met** |" in text
