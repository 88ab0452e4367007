"""What the test modules share besides fixtures: paths, configs, builders, readers, assertions.

conftest.py holds the fixtures; every other shared name lives here, so that no test module
imports another test module or conftest.py (and runs its module-level code as a side effect).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import f1_score

from pipeline.core.config import Settings, load_settings
from pipeline.core.deployed import current_deployment, load_deployed_model
from pipeline.core.files import sha256_file
from pipeline.core.schema import COLUMNS, FEATURES
from pipeline.data.datagen import to_csv_bytes

# The project and its configs -------------------------------------------------------------------

PROJECT = Path(__file__).resolve().parent.parent
SHARED_COURSE_DATA = PROJECT.parent / "shared" / "course-data"
needs_course_data = pytest.mark.skipif(
    not SHARED_COURSE_DATA.is_dir(),
    reason="../shared/course-data (the original course datasets) is not beside the repository "
           "on this machine")

CONFIG = {
    "input_folder_path": "sourcedata",
    "output_folder_path": "ingesteddata",
    "test_data_path": "testdata",
    "output_model_path": "models",
    "prod_deployment_path": "production_deployment",
}
PRACTICE = dict(CONFIG, input_folder_path="practicedata", output_model_path="practicemodels")
# Cycle configs that never reach the network and never time the scripts.
QUIET = {"check_outdated_packages": False, "measure_execution_time": False}


def write_config(folder: Path, name: str = "config.json", **values) -> Path:
    """Write a config file into folder; returns its path."""
    path = folder / name
    path.write_text(json.dumps(values), encoding="utf-8")
    return path


def write_project(root: Path, datasets: dict[str, pd.DataFrame]) -> Path:
    """Lay out the shipped data and both configs in root; returns root."""
    for relative, frame in datasets.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(to_csv_bytes(frame))
    write_config(root, "config.json", **CONFIG)
    write_config(root, "config.practice.json", **PRACTICE)
    return root


def copy_project(source: Path, target: Path, config: str = "config.json") -> Settings:
    """Copy a built project into target; the settings of its config there.

    Links stay links (the deployment's ``current`` is relative), and files keep their times. A
    moved project finds nothing new (its states key the input folder relative to the config), so
    the next ingestion of the copy appends and its next cycle finds nothing new, as in the
    project that was built. The history and the provenance records (training, scoring,
    deployment) keep naming the source: they only describe.
    """
    source, target = source.resolve(), target.resolve()
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    return load_settings(target / config)


# Running the pipeline --------------------------------------------------------------------------

def run_script(script: str, *args: str, cwd: Path, check: bool = True,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one of the project's scripts with this interpreter from cwd."""
    env = dict(os.environ, PYTHONPATH="", RISK_LOG_LEVEL="WARNING")
    proc = subprocess.run([sys.executable, str(PROJECT / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def build_and_deploy(settings) -> None:
    """Ingest, train, score and deploy with one configuration."""
    from deployment import deploy
    from ingestion import run_ingestion
    from scoring import run_scoring
    from training import run_training

    run_ingestion(settings)
    run_training(settings)
    run_scoring(settings)
    deploy(settings)


def practice_template(root: Path, datasets, **config) -> Path:
    """A project in root where the practice cycle deployed version 1 (the production data not
    yet seen); both configs take the extra keys. For module fixtures that tests copy."""
    from cycle.run import run_cycle

    write_project(root, datasets)
    write_config(root, "config.json", **CONFIG, **config)
    write_config(root, "config.practice.json", **PRACTICE, **config)
    run_cycle(load_settings(root / "config.practice.json"), call_api=False)
    return root


def production_template(practice: Path) -> Path:
    """A copy of a practice_template beside it after the production cycle: version 2 deployed,
    reports written, nothing new."""
    from cycle.run import run_cycle

    root = practice.parent / "production"
    shutil.copytree(practice, root, symlinks=True)
    run_cycle(load_settings(root / "config.json"), call_api=False)
    return root


@contextmanager
def immutable(folder: Path):
    """folder made immutable for the block (chattr +i: root ignores permission bits, not this);
    skips the test where the file system does not allow it."""
    folder.mkdir(exist_ok=True)
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)


def cycle(project, config="config.json", *args, check=True, timeout=300):
    """Run fullprocess.py as cron would: from another directory, as a subprocess."""
    proc = subprocess.run([sys.executable, str(PROJECT / "fullprocess.py"), "--config",
                           str(project / config), *args], cwd="/", capture_output=True,
                          text=True, timeout=timeout,
                          env=dict(os.environ, RISK_LOG_LEVEL="WARNING"))
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def assert_consistent(folder):
    """Model, score and ingestion record of the current version belong together."""
    deployed = current_deployment(folder)
    manifest = deployed.manifest
    assert sha256_file(folder / "trainedmodel.pkl") == manifest["model_sha256"]
    for name, digest in manifest["files"].items():
        assert sha256_file(deployed.folder / name) == digest, name
    assert float((folder / "latestscore.txt").read_text()) == manifest["f1"]
    return deployed


def deployed_f1_on_test(project):
    """The F1 of the project's deployed model on its test data, computed here."""
    model, _ = load_deployed_model(project / "production_deployment")
    test = pd.read_csv(project / "testdata/testdata.csv")
    return f1_score(test["exited"], model.predict(test[list(FEATURES)]))


# Counting what Flask runs ---------------------------------------------------------------------

def counting_views(app) -> list[str]:
    """A list that gets the endpoint's name each time Flask runs one of the app's views."""
    calls: list[str] = []
    for endpoint, view in list(app.view_functions.items()):
        def counted(*args, _view=view, _endpoint=endpoint, **kwargs):
            calls.append(_endpoint)
            return _view(*args, **kwargs)
        app.view_functions[endpoint] = counted
    return calls


# Watching what is opened -----------------------------------------------------------------------

# Every file opened or folder listed while the watch is on. Audit hooks cannot be removed, so the
# hook is installed the first time a watch starts (never by importing this module) and records
# only while _WATCH["on"] is set.
_WATCH: dict = {"on": False, "seen": [], "installed": False}


def _audit(event: str, args: tuple) -> None:
    if _WATCH["on"] and event in ("open", "os.scandir", "os.listdir") and args:
        target = args[0]
        if isinstance(target, (str, bytes, os.PathLike)):
            _WATCH["seen"].append(os.path.realpath(os.fsdecode(target)))


@contextmanager
def watch_opens():
    """The real paths of the files and folders opened inside the block."""
    if not _WATCH["installed"]:
        sys.addaudithook(_audit)
        _WATCH["installed"] = True
    _WATCH["seen"] = []
    _WATCH["on"] = True
    try:
        yield _WATCH["seen"]
    finally:
        _WATCH["on"] = False


# Ingestion: input files and what a run left behind ----------------------------------------------

HEADER = ",".join(COLUMNS)
GOOD = ["acme,10,120,50,0", "bolt,3,40,12,1", "core,0,0,1,0"]
# Rows of a file that must never be ingested (a link target, an archive member, ...).
FOREIGN = ["outsider,1,2,3,0", "stranger,4,5,6,1"]


def csv_bytes(rows: list[str | bytes], header: str | None = HEADER, newline: bytes = b"\n",
              bom: bool = False) -> bytes:
    """The bytes of a CSV file: an optional header, then one line per row."""
    lines = ([header] if header is not None else []) + rows
    data = b"".join((r if isinstance(r, bytes) else r.encode("utf-8")) + newline for r in lines)
    return (b"\xef\xbb\xbf" if bom else b"") + data


def record(row: str) -> tuple:
    """A CSV row of the five columns (in schema order) as comparable values."""
    corporation, *features, exited = next(csv.reader([row]))
    return (corporation.strip(), *(float(v) for v in features), int(exited))


def write_ingestion_config(root: Path, **values: str) -> Path:
    """A config file in root whose input folder is root/in and output folder root/out."""
    config = {"input_folder_path": "in", "output_folder_path": "out", "test_data_path": "test",
              "output_model_path": "models", "prod_deployment_path": "deploy", **values}
    path = root / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@dataclass
class Outputs:
    """What one ingestion run left behind."""

    final_header: list[str]
    final_text: list[list[str]]
    rejected: list[dict]
    ingested: list[dict]
    history: list[dict]
    run: dict

    @property
    def final(self) -> list[tuple]:
        """The rows of finaldata.csv as comparable values (exited must be written as an int)."""
        return [(r[0], *(float(v) for v in r[1:4]), int(r[4])) for r in self.final_text]

    def history_of(self, name: str) -> dict:
        """The history row of one file in this run."""
        (row,) = [r for r in self.history if r["name"] == name]
        return row

    def rejected_of(self, name: str) -> list[dict]:
        """The rejected.csv rows of one file."""
        return [r for r in self.rejected if r["source_file"] == name]


def parse_ingested(text: str) -> list[dict]:
    """ingestedfiles.txt as specified: a name, then tab-separated key=value fields, per line."""
    records = []
    for line in text.splitlines():
        name, *pairs = line.split("\t")
        assert pairs and all("=" in pair for pair in pairs), line
        records.append({"name": name, **dict(pair.split("=", 1) for pair in pairs)})
    return records


def read_outputs(settings: Settings) -> Outputs:
    """Every output of the last ingestion run of settings."""
    out = settings.output_folder
    final_header, final_text = [], []
    if (out / "finaldata.csv").exists():
        with open(out / "finaldata.csv", newline="", encoding="utf-8") as handle:
            final_header, *final_text = list(csv.reader(handle))
    with open(out / "rejected.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rejected = list(reader)
        assert reader.fieldnames == ["source_file", "line", "reason", "raw"]
    listing = out / "ingestedfiles.txt"
    ingested = parse_ingested(listing.read_text(encoding="utf-8")) if listing.exists() else []
    conn = sqlite3.connect(settings.history_db)
    try:
        conn.row_factory = sqlite3.Row
        run = dict(conn.execute(
            "SELECT * FROM runs WHERE stage = 'ingestion' ORDER BY id DESC LIMIT 1").fetchone())
        history = [dict(r) for r in conn.execute(
            "SELECT * FROM ingested_files WHERE run_id = ? ORDER BY rowid", (run["id"],))]
    finally:
        conn.close()
    return Outputs(final_header, final_text, rejected, ingested, history, run)


def assert_counts_add_up(out: Outputs) -> None:
    """For every ingested file, accepted + rejected == read, in ingestedfiles.txt and history."""
    assert out.ingested, "no file ingested"
    for line in out.ingested:
        assert int(line["rows_accepted"]) + int(line["rows_rejected"]) == int(line["rows_read"])
    for row in out.history:
        if row["status"] == "ingested":
            assert row["rows_accepted"] + row["rows_rejected"] == row["rows_read"], row


# The shipped story, for the page tests: the practice cycle deploys version 1, the production
# cycle finds drift and deploys version 2, with every report. ----------------------------------

HOSTILE = ("<script>alert('x')</script>", '"><img src=x onerror=alert(1)>', "..",
           "../../config.json", "a/b?c#d", "=HYPERLINK(\"http://127.0.0.1\")", "ça & co")


def build_story(root: Path, datasets, **extra):
    """Run both cycles of make run (no API call) in root; the production Settings."""
    from cycle.run import run_cycle

    write_project(root, datasets)
    write_config(root, "config.json", **CONFIG, **QUIET, **extra)
    write_config(root, "config.practice.json", **PRACTICE, **QUIET, **extra)
    run_cycle(load_settings(root / "config.practice.json"), call_api=False)
    production = load_settings(root / "config.json")
    summary = run_cycle(production, call_api=False)
    assert "deployed version 2" in summary, summary
    return production


def add_hostile_clients(settings, names=HOSTILE) -> None:
    """Clients with names that would break an unescaped page, on the risk list (high risk)."""
    from reporting import build_risk_list

    path = settings.output_folder / "finaldata.csv"
    lines = "".join('"' + name.replace('"', '""') + '",0,5000,900,0\n' for name in names)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(lines)
    build_risk_list(settings)


def token_config(root: Path, token: str, **extra) -> Path:
    """A second config for the same project whose API (and pages) need a token (16 characters
    at least, or allow_short_token=True among the extra keys)."""
    (root / "token.txt").write_text(token + "\n", encoding="utf-8")
    raw = json.loads((root / "config.json").read_text())
    return write_config(root, "config.token.json", **{**raw, **extra},
                        api_token_file="token.txt")


class _Table(HTMLParser):
    """The text of each cell of one table's body rows."""

    def __init__(self, table_id: str):
        super().__init__(convert_charrefs=True)
        self.table_id, self.inside, self.depth = table_id, False, 0
        self.in_body, self.rows, self.cell = False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.rows.append([])
        elif self.in_body and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if self.in_body and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tbody" and self.in_body:
            self.in_body = self.inside = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str = "clients") -> list[list[str]]:
    """The cells of the body rows of the table with that id in a page."""
    parser = _Table(table_id)
    parser.feed(html)
    return parser.rows


# Incremental ingestion: rows of an older and a newer extract (duplicates, a bad row, a row that
# parses to an older one), and the outputs an append must share with a rebuild. ----------------

OLD = ["acme,10,120,50,0", "bolt,3,40,12,1", "core,0,0,1,0", "acme,10,120,50,0"]
NEW = ["dune,4,48,9,1", "bolt,3,40,12,1", "echo,7,80,20,0", "dune,4,48,9,1", "fizz,-1,2,3,0",
       " core , 0.0,0,1,0"]


def outputs(folder) -> dict[str, bytes]:
    """The outputs a person reads; ingestedfiles.txt without its times; the rows of unlabelled
    batches (None when there are none)."""
    found = {name: (folder / name).read_bytes() for name in ("finaldata.csv", "rejected.csv")}
    unlabelled = folder / "unlabelleddata.csv"
    found["unlabelleddata.csv"] = unlabelled.read_bytes() if unlabelled.exists() else None
    listing = (folder / "ingestedfiles.txt").read_text(encoding="utf-8")
    found["ingestedfiles.txt"] = re.sub(r"ingested_at=[^\t]*", "", listing).encode()
    return found


def rebuilt(settings, tmp_path) -> dict[str, bytes]:
    """The outputs of a rebuild of the same input folder, in another output folder."""
    other = load_settings(write_config(
        tmp_path, "rebuild.json", input_folder_path=str(settings.input_folder),
        output_folder_path="rebuilt", test_data_path="test", output_model_path="models",
        prod_deployment_path="deploy"))
    from ingestion import run_ingestion

    assert run_ingestion(other).mode == "rebuild"
    return outputs(other.output_folder)
