"""The cycle at scale does the same work once: the same figures as the straightforward
computations (pandas, scipy), finaldata.csv read once per refresh, stage timings from the
history instead of a re-run."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import diagnostics
from cycle import steps
from pipeline.core.config import ConfigError, load_settings
from pipeline.core.deployed import current_deployment
from pipeline.core.history import History
from pipeline.core.schema import ID
from pipeline.data import final
from pipeline.data.final import FinalData, read_final_data, summarize_columns
from pipeline.ingest.merge import distinct_rows
from pipeline.ingest.records import FileResult
from pipeline.ingest.rowhash import row_hashes
from pipeline.monitor import ecdf
from pipeline.monitor.drift import data_drift, population_stability_index
from tests.helpers import write_config

RNG = np.random.default_rng(12)
BIG = 30_000  # above the 10,000 values up to which scipy computes exact KS p-values


def _samples():
    yield "counts", RNG.poisson(30, 10_000), RNG.poisson(33, BIG)
    yield "wide ints", RNG.integers(0, 50_000, 10_000), RNG.integers(0, 50_000, BIG)
    yield "zeros and ones", RNG.integers(0, 2, 10_000), RNG.integers(0, 2, BIG)
    yield "whole floats", RNG.poisson(7, 10_000) * 1.0, RNG.poisson(7, BIG) * 1.0
    yield "negative", RNG.integers(-50, 50, 12_000), RNG.integers(-40, 60, BIG)
    yield "fractions", RNG.normal(size=10_000), RNG.normal(size=BIG)  # scipy's own path
    yield "too wide", RNG.integers(0, 10**12, 10_000), RNG.integers(0, 10**12, BIG)
    yield "small", RNG.poisson(3, 300), RNG.poisson(3, 500)  # scipy's exact p-values


@pytest.mark.parametrize("name, first, second", list(_samples()))
def test_ks_from_value_counts_is_scipys_result(name, first, second):
    for a, b in ((first, second), (second, first)):
        expected, found = stats.ks_2samp(a, b), ecdf.ks_2samp(a, b)
        assert found.statistic == expected.statistic
        assert found.pvalue == expected.pvalue
        assert found.statistic_location == expected.statistic_location
        assert found.statistic_sign == expected.statistic_sign


@pytest.mark.parametrize("name, first, second", list(_samples()))
def test_psi_bins_from_value_counts_are_the_direct_ones(name, first, second):
    edges = np.unique(np.quantile(first, np.linspace(0, 1, 11)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, second, side="right"),
                           minlength=len(edges) + 1)
    assert ecdf.bin_counts(edges, second).tolist() == expected.tolist()
    assert np.isfinite(population_stability_index(first, second))


def test_data_drift_figures_do_not_change(monkeypatch):
    reference = pd.DataFrame({"a": RNG.poisson(20, 10_000), "b": RNG.integers(0, 900, 10_000)})
    new = pd.DataFrame({"a": RNG.poisson(22, BIG), "b": RNG.integers(0, 1000, BIG)})
    fast = data_drift(reference, new, ["a", "b"])
    # The straightforward computation: scipy's test, a searchsorted per value.
    monkeypatch.setattr(ecdf, "value_counts", lambda *args, **kwargs: None)
    assert data_drift(reference, new, ["a", "b"]) == fast
    assert fast["a"]["alert"] and fast["b"]["alert"]


def _pandas_summary(frame: pd.DataFrame) -> dict:
    """The summary statistics as the previous release computed them, with pandas."""
    summary = {}
    for col in frame.select_dtypes("number").columns:
        values = frame[col].dropna()
        modes = values.mode()
        summary[col] = {"count": float(len(values)), "mean": values.mean(),
                        "median": values.median(), "std": values.std(), "min": values.min(),
                        "max": values.max(), "q1": values.quantile(0.25),
                        "q3": values.quantile(0.75), "mode": modes.iloc[0]}
    return summary


def test_summary_statistics_are_pandas_figures():
    n = 20_001
    frame = pd.DataFrame({
        ID: [f"c{i % 997}" for i in range(n)],
        "small": RNG.poisson(4, n), "wide": RNG.integers(0, 10**9, n),
        "negative": RNG.integers(-30, 30, n), "floats": RNG.normal(50, 9, n),
        "gaps": np.where(RNG.random(n) < 0.1, np.nan, RNG.poisson(9, n)),
        "ties": np.repeat([3, 1, 2, 1, 3], n // 5 + 1)[:n],  # two most frequent: the smaller
    })
    found, expected = summarize_columns(frame), _pandas_summary(frame)
    assert set(found) == set(expected)
    for col, figures in expected.items():
        for stat, value in figures.items():
            assert found[col][stat] == pytest.approx(float(value), rel=1e-12, abs=1e-9), \
                (col, stat)
    assert found["ties"]["mode"] == 1.0


FINAL = [
    "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
    "acme,1,10,5,0\nnull,2,20,,1\nNA,3,30,7,0\n,4,40,9,1\n\"Smith, Jr.\",5,50,1,0\n",
    "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n",
    "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
    "acme,1,10,5,0\nbolt,2,20\n",  # ragged: pandas reads it, pyarrow does not
    "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
    "acme,1.5,10,5,0\nbolt,2,x,6,1\n",
]


@pytest.mark.parametrize("text", FINAL)
def test_finaldata_is_read_as_pandas_reads_it(tmp_path, text):
    path = tmp_path / "finaldata.csv"
    path.write_text(text, encoding="utf-8")
    expected = pd.read_csv(io.StringIO(text), dtype={ID: str}, keep_default_na=False,
                           na_values=[""])
    found = read_final_data(path)
    assert list(found.columns) == list(expected.columns)
    assert found.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    pd.testing.assert_frame_equal(found, expected)


def test_new_rows_drop_repeats_among_the_new_files_as_pandas_does():
    frames = [pd.DataFrame({ID: ["a", "b", "a", "c"], "lastmonth_activity": [1, 2, 1, 3],
                            "lastyear_activity": [1, 2, 1, 3], "number_of_employees": [1, 2, 1, 3],
                            "exited": [0, 1, 0, 0]}),
              pd.DataFrame({ID: ["c", "a", "d"], "lastmonth_activity": [3.0, 1.0, 4.5],
                            "lastyear_activity": [3.0, 2.0, 4.0],
                            "number_of_employees": [3.0, 1.0, 4.0], "exited": [0, 0, 1]})]
    files = []
    for i, frame in enumerate(frames):
        result = FileResult(name=f"f{i}.csv", path=None, frame=frame)
        result.hashes = row_hashes(frame)
        files.append(result)
    files.insert(1, FileResult(name="bad.csv", path=None, reason="empty"))
    expected = pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)
    pd.testing.assert_frame_equal(distinct_rows(files), expected)
    assert distinct_rows([files[1]]).empty


def test_one_refresh_reads_finaldata_once_and_writes_what_each_stage_writes_alone(
        deployed, monkeypatch):
    import reporting

    reads = []
    real = final.read_final_data
    monkeypatch.setattr(final, "read_final_data", lambda path: reads.append(path) or real(path))
    problems: list[str] = []
    steps._refresh_reports(deployed, current_deployment(deployed.deployment_folder), problems)
    assert problems == [] and len(reads) == 1  # estimate, diagnostics, risk list, report
    shared = (deployed.model_folder / "riskscores.csv").read_bytes()
    reporting.build_risk_list(deployed)  # alone: it reads the data itself
    facts = reporting.gather_facts(deployed)
    assert len(reads) == 3
    assert (deployed.model_folder / "riskscores.csv").read_bytes() == shared
    data = FinalData(deployed.output_folder / "finaldata.csv")
    summary = data.summary
    together = reporting.gather_facts(deployed, data=data)  # takes what was computed before
    assert len(reads) == 4
    assert (together.records, together.distinct) == (facts.records, facts.distinct)
    assert together.summary == facts.summary == summary and together.missing == facts.missing
    pd.testing.assert_frame_equal(together.clients, facts.clients)
    assert facts.distinct == read_final_data(deployed.output_folder / "finaldata.csv")[
        ID].nunique()


def test_diagnostics_take_the_stage_timings_from_the_history(deployed, monkeypatch):
    def no_rerun(*args, **kwargs):
        raise AssertionError("a stage script was run again")

    monkeypatch.setattr(subprocess, "run", no_rerun)
    history = History(deployed.history_db)
    expected = {}
    for stage in ("ingestion", "training", "scoring"):
        runs = history.query("SELECT seconds FROM runs WHERE stage = ? AND status = 'ok' "
                             "ORDER BY id DESC", (stage,))
        expected[stage] = runs[0]["seconds"]
    results = diagnostics.run_diagnostics(deployed, measure_time="history",
                                          check_packages=False)
    assert results["execution_time"] == expected
    assert results["execution_time_source"] == "history"
    assert all(s > 0 for s in expected.values())
    names = {r["name"]: r["value"] for r in history.query(
        "SELECT name, value FROM metrics WHERE stage = 'diagnostics'")}
    assert names["seconds_training"] == expected["training"]


def test_the_rerun_is_kept_as_an_option(deployed, monkeypatch):
    calls = []
    monkeypatch.setattr(diagnostics, "stage_execution_times",
                        lambda settings: calls.append(settings) or {"ingestion": 1.0})
    for how in ("rerun", True):
        results = diagnostics.run_diagnostics(deployed, measure_time=how, check_packages=False)
        assert results["execution_time"] == {"ingestion": 1.0}
        assert results["execution_time_source"] == "rerun"
    assert len(calls) == 2
    assert diagnostics.run_diagnostics(deployed, measure_time=False,
                                       check_packages=False)["execution_time"] is None


@pytest.mark.parametrize("value, kept", [("history", "history"), ("rerun", "rerun"),
                                         (True, "rerun"), (False, False)])
def test_measure_execution_time_takes_a_source_or_false(tmp_path, value, kept):
    config = write_config(tmp_path, input_folder_path="in", output_folder_path="out",
                          test_data_path="t", output_model_path="m", prod_deployment_path="d",
                          measure_execution_time=value)
    assert load_settings(config).measure_execution_time == kept


@pytest.mark.parametrize("value", ["History", "scratch", 1, None, ["rerun"]])
def test_measure_execution_time_refuses_anything_else(tmp_path, value):
    config = write_config(tmp_path, input_folder_path="in", output_folder_path="out",
                          test_data_path="t", output_model_path="m", prod_deployment_path="d",
                          measure_execution_time=value)
    with pytest.raises(ConfigError, match=r'measure_execution_time .* "history", "rerun"'):
        load_settings(config)


def _cycle(total: float, ingest: float, peak: float) -> dict:
    return {"seconds": {"ingest": ingest, "train": 1.0}, "total": total, "rows": 10_000_000,
            "tree_peak_mb": peak}


@pytest.mark.parametrize("ours, reference, verdicts", [
    (_cycle(20.0, 5.0, 2000), _cycle(73.0, 12.0, 2600), ["met", "met", "met"]),
    (_cycle(30.0, 12.5, 2000), _cycle(73.0, 12.0, 2600), ["met", "met", "met"]),  # 2.4x ingest
    (_cycle(30.0, 5.0, 2900), _cycle(73.0, 12.0, 2600), ["**not met**"] * 3),
])
def test_the_bench_reports_the_cycle_against_the_old_code_and_its_ingestion(
        ours, reference, verdicts):
    from bench.report import _cycle_targets

    lines = _cycle_targets(ours, dict(reference, commit="683780d"))
    assert [line.rsplit("|", 2)[1].strip() for line in lines] == verdicts
    assert "<= 0.33x" in lines[0] and "<= 1.0x" in lines[1] and "<= 2.5x" in lines[2]
    alone = _cycle_targets(ours, None)  # no reference code: the ingestion ratio decides
    assert len(alone) == 1
    met = ours["total"] / ours["seconds"]["ingest"] <= 2.5
    assert alone[0].endswith("| met |" if met else "| **not met** |")
