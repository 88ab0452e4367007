"""SIGKILL a drift-and-redeploy cycle at many points; production must stay consistent throughout.

The project is a temporary copy with the shipped data: the practice cycle deploys version 1,
then the production cycle finds the newer data, detects drift, retrains and deploys version 2.
That second cycle is first traced (bench/killpoint.py counts its checkpoints: calls into the
project's code and the file operations that publish results), then run again from the same
starting state once per kill point, each time killed with SIGKILL on entering its checkpoint.
After every kill: the current version's model, score and record belong together and the model's
SHA-256 matches its manifest; then a normal cycle must complete (exit 0) and leave version >= 2
whose recorded F1 is the deployed model's F1 on the test data, with the reports (outputs.json)
describing that model.

    python bench/kill_test.py                  # 24 points spread over the whole cycle (~4 min)
    python bench/kill_test.py --points 4       # the points the test suite tries (one test each)
Prints one JSON object with the figures; exits 1 if any point failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from pipeline.core.files import sha256_file  # noqa: E402
from pipeline.data.datagen import generate, to_csv_bytes  # noqa: E402

CONFIG = {"input_folder_path": "sourcedata", "output_folder_path": "ingesteddata",
          "test_data_path": "testdata", "output_model_path": "models",
          "prod_deployment_path": "production_deployment",
          "check_outdated_packages": False, "measure_execution_time": False,
          "api_url": "http://127.0.0.1:9"}
PRACTICE = dict(CONFIG, input_folder_path="practicedata", output_model_path="practicemodels")
# Checkpoints that publish something: each of them is always among the points tried.
CRITICAL = ("os.replace", "os.rename", "os.symlink", "publish.switch_to",
            "publish._claim_version", "changes.save_state")


def make_project(folder: Path) -> Path:
    """A project with the shipped data, both configs, and version 1 deployed by practice."""
    for relative, frame in generate().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(to_csv_bytes(frame))
    (folder / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    (folder / "config.practice.json").write_text(json.dumps(PRACTICE), encoding="utf-8")
    run_cycle(folder, "config.practice.json", check=True)
    return folder


def run_cycle(folder: Path, config: str = "config.json", *, at: int | None = None,
              trace: Path | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """fullprocess.py on folder's config, under the kill-point wrapper when at/trace are given."""
    command = [sys.executable, str(PROJECT / "fullprocess.py")]
    if at is not None or trace is not None:
        command = [sys.executable, str(PROJECT / "bench" / "killpoint.py")]
        command += ["--at", str(at)] if at is not None else ["--trace", str(trace)]
        command.append("--")
    command += ["--config", str(folder / config), "--no-api"]
    proc = subprocess.run(command, cwd="/", capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, RISK_LOG_LEVEL="WARNING"))
    if check and proc.returncode != 0:
        raise RuntimeError(f"cycle exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def check_consistent(folder: Path) -> int:
    """The current version's files match its manifest; returns the version (or raises)."""
    deployment = folder / "production_deployment"
    current = (deployment / "current").resolve()
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    if sha256_file(deployment / "trainedmodel.pkl") != manifest["model_sha256"]:
        raise AssertionError("the deployed model does not match its manifest")
    for name, digest in manifest["files"].items():
        if sha256_file(current / name) != digest:
            raise AssertionError(f"{name} of version {manifest['version']} does not match")
    if float((deployment / "latestscore.txt").read_text()) != manifest["f1"]:
        raise AssertionError("latestscore.txt is not the score of the deployed model")
    return int(manifest["version"])


def reports_follow(folder: Path) -> bool:
    """The reports (outputs.json in the model folder) describe the deployed model."""
    try:
        outputs = json.loads((folder / "models" / "outputs.json").read_text(encoding="utf-8"))
        current = (folder / "production_deployment" / "current" / "manifest.json").read_text(
            encoding="utf-8")
    except (OSError, ValueError):
        return False
    return outputs.get("model_sha256") == json.loads(current)["model_sha256"]


def deployed_f1_matches(folder: Path) -> bool:
    """The recorded F1 of the deployed version is its model's F1 on the test data."""
    import pandas as pd
    from sklearn.metrics import f1_score

    from pipeline.core.deployed import load_deployed_model
    from pipeline.core.schema import FEATURES, TARGET

    model, deployed = load_deployed_model(folder / "production_deployment")
    test = pd.read_csv(folder / "testdata" / "testdata.csv")
    f1 = f1_score(test[TARGET], model.predict(test[list(FEATURES)]))
    return abs(f1 - deployed.score) < 1e-9


def choose_points(names: list[str], count: int) -> list[int]:
    """count checkpoints: half spread evenly over the cycle, half among the publishing ones."""
    total = len(names)
    critical = [i for i, name in enumerate(names, 1) if name.startswith(CRITICAL)]
    if len(critical) > count // 2:  # keep half of the budget for the even spread
        step = len(critical) / (count // 2)
        critical = [critical[int(k * step)] for k in range(count // 2)]
    spread = count - len(critical)
    even = [max(1, round(total * (k + 0.5) / spread)) for k in range(spread)]
    points = set(critical) | set(even)
    offset = 1
    while len(points) < min(count, total):  # collisions: take neighbours of the even points
        for point in even:
            if len(points) < count and 1 <= point + offset <= total:
                points.add(point + offset)
        offset += 1
    return sorted(points)


def prepare(workdir: Path) -> tuple[Path, list[str], float]:
    """The starting state (version 1 deployed, new data waiting) and the traced cycle's
    checkpoints: the template, the checkpoint names in order, and the traced cycle's seconds."""
    template = make_project(workdir / "template")
    traced = workdir / "traced"
    shutil.copytree(template, traced, symlinks=True)
    trace_file = workdir / "trace.txt"
    started = time.perf_counter()
    proc = run_cycle(traced, trace=trace_file)
    if proc.returncode != 0 or "deployed version 2" not in proc.stdout:
        raise RuntimeError(f"the traced cycle did not redeploy: {proc.stdout}{proc.stderr}")
    names = [line.split("\t")[1] for line in trace_file.read_text().splitlines()]
    shutil.rmtree(traced, ignore_errors=True)
    return template, names, time.perf_counter() - started


def try_point(template: Path, names: list[str], at: int, workdir: Path) -> dict:
    """A copy of the template killed on entering checkpoint ``at``, then a normal cycle: what
    was found after each."""
    folder = workdir / f"kill{at}"
    shutil.copytree(template, folder, symlinks=True)
    result = {"at": at, "checkpoint": names[at - 1], "of": len(names)}
    try:
        killed = run_cycle(folder, at=at)
        result["killed"] = killed.returncode == -9
        result["version_after_kill"] = check_consistent(folder)
        after = run_cycle(folder)
        result["next_cycle_exit"] = after.returncode
        result["next_cycle"] = after.stdout.strip()
        result["version_after_next"] = check_consistent(folder)
        result["f1_matches"] = deployed_f1_matches(folder)
        result["reports_follow"] = reports_follow(folder)
        result["ok"] = bool(result["killed"] and after.returncode == 0
                            and result["version_after_next"] >= 2 and result["f1_matches"]
                            and result["reports_follow"])
    except (AssertionError, OSError, ValueError, KeyError) as exc:
        result.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    shutil.rmtree(folder, ignore_errors=True)
    return result


def run(points: int, workdir: Path) -> dict:
    """Trace the cycle, then kill it at each chosen point; the figures."""
    template, names, cycle_seconds = prepare(workdir)
    results = [try_point(template, names, at, workdir) for at in choose_points(names, points)]
    return {"checkpoints_in_cycle": len(names), "traced_cycle_seconds": round(cycle_seconds, 1),
            "points_tried": len(results), "points_survived": sum(r["ok"] for r in results),
            "killed_by_sigkill": sum(bool(r.get("killed")) for r in results),
            "inconsistent_deployments": sum("error" in r for r in results), "points": results}


def main(argv: list[str] | None = None) -> int:
    """Run the kill test and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=24, help="kill points (default 24)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kill_test-"))
    try:
        figures = run(args.points, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures, indent=1))
    return 0 if figures["points_survived"] == figures["points_tried"] else 1


if __name__ == "__main__":
    sys.exit(main())
