"""Diagnostics: predictions of the deployed model, data statistics, timings and dependency status.

Results are recorded in the history database and written to ``diagnostics.json`` in the model
folder, so the API serves the last measured figures without re-running any stage.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from importlib import metadata
from pathlib import Path

import pandas as pd

from pipeline.core.cli import base_parser, setup_logging
from pipeline.core.config import PROJECT_ROOT, ConfigError, Settings, load_settings
from pipeline.core.deployed import load_deployed_model
from pipeline.core.files import atomic_write_text
from pipeline.core.history import History, utc_now
from pipeline.core.modelfile import ModelIntegrityError
from pipeline.core.names import (
    CONFIG_FILE,
    DIAGNOSTICS_FILE,
    FINAL_DATA,
    HISTORY_DB,
    REQUIREMENTS,
)
from pipeline.core.packages import (
    Fetcher,
    fetch_json,
    is_outdated,
    latest_version,
    pip_index_url,
    read_requirements,
    shown_url,
)
from pipeline.core.processes import dies_with_this_process
from pipeline.core.schema import FEATURES
from pipeline.data.final import FinalData
from pipeline.ingest.records import read_input_file, read_labelled_data
from pipeline.report.facts import Evaluated

logger = logging.getLogger(__name__)

SCRIPTS = ("ingestion.py", "training.py", "scoring.py")
SCRIPT_FOLDER = Path(__file__).resolve().parent



def _features(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [col for col in FEATURES if col not in frame.columns]
    if missing:
        raise ValueError(f"missing column(s) {', '.join(missing)}")
    return frame[list(FEATURES)]


def _test_or_given(data, settings: Settings) -> pd.DataFrame:
    """The rows to predict: the configured test file when data is None, a DataFrame as it is,
    else the CSV file at the path given (validated with the ingestion rules)."""
    if data is None:
        return read_labelled_data(settings.test_file)
    if isinstance(data, pd.DataFrame):
        return data
    result = read_input_file(Path(data), FEATURES)
    if not result.usable or result.rejects:
        reason = result.reason or "; ".join(f"line {r['line']}: {r['reason']}"
                                            for r in result.rejects[:3])
        raise ValueError(f"cannot predict from {data}: {reason}")
    return result.frame


def _model(settings: Settings, model) -> object:
    """The model given (already loaded and checked), else the deployed one, loaded here."""
    return model if model is not None else load_deployed_model(settings.deployment_folder)[0]


def model_predictions(data: pd.DataFrame | str | Path | None = None,
                      settings: Settings | None = None, model=None) -> list[int]:
    """The deployed model's predictions (0 or 1), one per row: of the test data named by the
    config (config.json beside the scripts when no settings are given, as the course calls it
    with no arguments), of a DataFrame, or of the CSV file at a path. ``model``: the deployed
    model already loaded (else it is loaded here)."""
    settings = settings or load_settings()
    frame = _test_or_given(data, settings)
    return [int(p) for p in _model(settings, model).predict(_features(frame))]


def model_probabilities(frame: pd.DataFrame, settings: Settings, model=None) -> list[float]:
    """The deployed model's probability of attrition, one per row of frame (``model``: the
    deployed model already loaded, else it is loaded here)."""
    return [float(p) for p in _model(settings, model).predict_proba(_features(frame))[:, 1]]


def _data(settings: Settings, data: FinalData | None) -> FinalData:
    """finaldata.csv: the one given (already read, or to be read once for several stages), else
    the configuration's, read here."""
    return data if data is not None else FinalData(settings.output_folder / FINAL_DATA)


def summary_by_column(settings: Settings, data: FinalData | None = None
                      ) -> dict[str, dict[str, float | None]]:
    """Mean, median, std, min, max, quartiles and mode of each numeric column of finaldata.csv."""
    return _data(settings, data).summary


def missing_by_column(settings: Settings, data: FinalData | None = None) -> dict[str, float]:
    """The fraction of missing values in each column of finaldata.csv."""
    return _data(settings, data).missing


def dataframe_summary(settings: Settings | None = None,
                      data: FinalData | None = None) -> list[float]:
    """The course's list: for each numeric column of finaldata.csv in turn, its mean, median
    and standard deviation (summary_by_column has these and more, by name)."""
    summary = summary_by_column(settings or load_settings(), data)
    return [stats[key] for stats in summary.values() for key in ("mean", "median", "std")]


def missing_data(settings: Settings | None = None, data: FinalData | None = None) -> list[float]:
    """The course's list: the share of missing values of each column of finaldata.csv, in the
    file's column order (missing_by_column has them by name)."""
    return list(missing_by_column(settings or load_settings(), data).values())


def scratch_config(settings: Settings, folder: Path) -> Path:
    """A config in folder reading the real input and test data, writing everything in folder."""
    raw = dict(settings.raw)
    raw.update(
        input_folder_path=str(settings.input_folder.resolve()),
        test_data_path=str(settings.test_data.resolve()),
        output_folder_path=str(folder / "ingesteddata"),
        output_model_path=str(folder / "models"),
        prod_deployment_path=str(folder / "production_deployment"),
        history_db_path=str(folder / HISTORY_DB),
    )
    path = folder / CONFIG_FILE
    atomic_write_text(path, json.dumps(raw, indent=2) + "\n")
    return path


def _run_timed(script: str, config: Path, cwd: Path, timeout: float) -> float:
    env = dict(os.environ, RISK_LOG_LEVEL="WARNING")
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(SCRIPT_FOLDER / script), "--config",
                               str(config)], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False,
                              preexec_fn=dies_with_this_process())  # dies with a killed cycle
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{script} did not finish within {timeout:.0f} s") from None
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise RuntimeError(f"{script} failed (exit {proc.returncode}): "
                           f"{lines[-1] if lines else 'no error output'}")
    return seconds


def stage_execution_times(settings: Settings, timeout: float = 600.0,
                          scripts: tuple[str, ...] = SCRIPTS) -> dict[str, float]:
    """Seconds taken by ingestion.py, training.py and scoring.py, run on a scratch copy.

    The course's measure, kept as an option (``measure_execution_time: "rerun"``): it costs
    what the stages cost. The cycle's default reads the real runs' times instead
    (recorded_execution_time).
    """
    with tempfile.TemporaryDirectory(prefix="risk-timing-") as tmp:
        folder = Path(tmp)
        config = scratch_config(settings, folder)
        times = {}
        for script in scripts:
            times[Path(script).stem] = _run_timed(script, config, folder, timeout)
            logger.info("%s took %.2f s", script, times[Path(script).stem])
    return times


def execution_time(settings: Settings | None = None, timeout: float = 600.0) -> list[float]:
    """The course's list: seconds taken by ingestion.py and training.py, each run again (on a
    scratch copy, so the real outputs are left alone)."""
    times = stage_execution_times(settings or load_settings(), timeout, SCRIPTS[:2])
    return [times["ingestion"], times["training"]]


def recorded_execution_time(settings: Settings) -> dict[str, float]:
    """Seconds the last successful run of ingestion, training and scoring took with this config,
    from the history database (History.run times every stage run); a stage never run is left
    out. Nothing is re-run."""
    history = History(settings.history_db)
    times = {}
    for script in SCRIPTS:
        stage = Path(script).stem
        seconds = history.last_run_seconds(stage, settings.name)
        if seconds is not None:
            times[stage] = seconds
    return times


def stage_timings(settings: Settings, how: bool | str | None) -> dict[str, float] | None:
    """The stage timings diagnostics reports: "history" (the real runs), "rerun" or True (the
    scripts run again on a scratch copy), or None / False (not measured)."""
    if how in (True, "rerun"):
        return stage_execution_times(settings)
    if how == "history":
        return recorded_execution_time(settings)
    if how in (False, None):
        return None
    raise ValueError(f"unknown source of stage timings {how!r}")


def requirements_file(settings: Settings) -> Path:
    """requirements.txt beside the config, else the one beside the scripts."""
    beside_config = settings.root / REQUIREMENTS
    return beside_config if beside_config.is_file() else PROJECT_ROOT / REQUIREMENTS


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def outdated_packages_list(settings: Settings | None = None, index_url: str | None = None,
                           timeout: float = 5.0, fetch: Fetcher | None = None) -> list[dict]:
    """A table, one row per requirement: its name, pinned, installed and latest version
    (latest None when unknown). With no settings, the requirements beside config.json of the
    scripts, as the course calls it.

    The index is the one pip installs from ($PIP_INDEX_URL, pip.conf's index-url, else PyPI)
    unless ``index_url`` names one.
    """
    import requests

    settings = settings or load_settings()
    index_url = index_url or pip_index_url()
    if fetch is None:
        # One session for every package: the certificates are loaded, and the index connected
        # to, once instead of once a package (PyPI, 15 requirements: 0.51 s of CPU -> 0.14 s).
        with requests.Session() as session:
            return outdated_packages_list(settings, index_url, timeout,
                                          partial(fetch_json, session=session))
    reachable = True
    packages = []
    for name, pinned in read_requirements(requirements_file(settings)):
        latest = None
        if reachable:
            try:
                latest = latest_version(name, index_url, fetch, timeout)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.InvalidSchema,
                    requests.exceptions.InvalidURL) as exc:
                # One unreachable index means all are: do not wait a timeout per package.
                logger.warning("package index %s unreachable (%s): latest versions unknown",
                               shown_url(index_url), type(exc).__name__)
                reachable = False
            except (requests.RequestException, ValueError, KeyError, TypeError,
                    AttributeError) as exc:
                logger.warning("no latest version of %s: %s", name, exc)
        packages.append({"name": name, "pinned": pinned, "installed": _installed(name),
                         "latest": latest})
    return packages


def _predictions_summary(settings: Settings, evaluated: Evaluated | None) -> dict:
    """The deployed model's predictions on the test data, counted: from its evaluation when
    it was loaded and scored for the whole refresh (flagged rows are tp + fp), else here."""
    if evaluated is not None:
        counts = evaluated.evaluation
        return {"model_version": evaluated.deployed.version, "data": str(settings.test_file),
                "rows": counts["rows"], "predicted_exited": counts["tp"] + counts["fp"]}
    try:
        model, deployed = load_deployed_model(settings.deployment_folder)
        frame = read_labelled_data(settings.test_file)
    except (ModelIntegrityError, OSError, ValueError) as exc:
        logger.error("no predictions: %s", exc)
        return {"error": str(exc)}
    predicted = [int(p) for p in model.predict(_features(frame))]
    return {"model_version": deployed.version, "data": str(settings.test_file),
            "rows": len(predicted), "predicted_exited": sum(predicted)}


def run_diagnostics(settings: Settings, measure_time: bool | str = "history",
                    check_packages: bool = True, fetch: Fetcher | None = None, *,
                    evaluated: Evaluated | None = None, data: FinalData | None = None) -> dict:
    """Run every diagnostic, record the figures in the history and write diagnostics.json.

    ``measure_time``: where the stage timings come from (stage_timings): True or "rerun" runs
    the scripts again, "history" reads the real runs' times, False leaves them out.
    ``evaluated`` and ``data``: the deployed model loaded and scored on the test data, and
    finaldata.csv, as the refresh that runs every output has them (else read here).
    """
    history = History(settings.history_db)
    with history.run("diagnostics", settings.name) as run:
        data = _data(settings, data)
        results = {
            "measured_at": utc_now(),
            "config": str(settings.config_path),
            "predictions": _predictions_summary(settings, evaluated),
            "summary": data.summary,
            "missing_data": data.missing,
            "execution_time": stage_timings(settings, measure_time),
            "execution_time_source": "rerun" if measure_time is True else measure_time or None,
            "outdated_packages": outdated_packages_list(settings, fetch=fetch)
            if check_packages else None,
        }
        results["model_version"] = results["predictions"].get("model_version")
        record_diagnostics(history, run.id, results)
        atomic_write_text(settings.model_folder / DIAGNOSTICS_FILE,
                          json.dumps(results, indent=2, sort_keys=True) + "\n")
        run.summary = {"model_version": results["model_version"]}
    return results


def record_diagnostics(history: History, run_id: int | None, results: dict) -> None:
    """Store diagnostic figures as metrics of a run."""
    values = {f"missing_{col}": share for col, share in results["missing_data"].items()}
    values.update({f"seconds_{name}": s for name, s in (results["execution_time"] or {}).items()})
    history.record_metrics(run_id, "diagnostics", values)
    history.record_metrics(run_id, "diagnostics", {"summary": len(results["summary"])},
                           detail=results["summary"])
    packages = results["outdated_packages"]
    if packages is not None:
        history.record_metrics(run_id, "diagnostics",
                               {"outdated_packages": sum(map(is_outdated, packages))},
                               detail={"packages": packages})


def describe(results: dict) -> str:
    """A short human summary of diagnostics results."""
    lines = [f"diagnostics of model version {results.get('model_version') or 'none deployed'}"]
    missing = {col: share for col, share in results["missing_data"].items() if share}
    lines.append("missing data: " + (", ".join(f"{c} {s:.1%}" for c, s in missing.items())
                                     if missing else "none"))
    times = results.get("execution_time")
    source = {"history": " (their last runs)", "rerun": " (run again on a scratch copy)"}.get(
        results.get("execution_time_source"), "")
    lines.append("execution time: " + (", ".join(f"{k} {v:.2f} s" for k, v in times.items())
                                       + source if times else "not measured"))
    packages = results.get("outdated_packages")
    if packages is None:
        lines.append("packages: not checked")
    else:
        old = [f"{p['name']} {p['installed'] or p['pinned']} -> {p['latest']}"
               for p in packages if is_outdated(p)]
        unknown = sum(p["latest"] is None for p in packages)
        lines.append(f"packages: {len(old)} outdated" + (f" ({', '.join(old)})" if old else "")
                     + (f", {unknown} with unknown latest version" if unknown else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the diagnostics of the configuration and print a summary."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--no-timing", action="store_true", help="do not report stage timings")
    parser.add_argument("--rerun", action="store_true",
                        help="time the stage scripts by running them again on a scratch copy "
                             "(default: as measure_execution_time says)")
    parser.add_argument("--offline", action="store_true", help="do not ask the package index")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        timing = False if args.no_timing else "rerun" if args.rerun \
            else settings.measure_execution_time
        results = run_diagnostics(settings, measure_time=timing,
                                  check_packages=not args.offline)
    except (ConfigError, FileNotFoundError, RuntimeError, OSError, ValueError) as exc:
        print(f"diagnostics failed: {exc}", file=sys.stderr)
        return 1
    print(describe(results))
    print(f"-> {settings.model_folder / DIAGNOSTICS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
