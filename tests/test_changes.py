"""What changed in the input folder: the one comparison (pipeline.ingest.inputs) and the quick
path's standard-library copy of it (cycle.quick) must agree, and the run bookkeeping."""

from __future__ import annotations

import os

import pytest

from cycle.quick import folder_unchanged
from pipeline.core.history import History
from pipeline.ingest.inputs import compare_folder, scan_input_folder


def _touch(path, seconds=5):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 10**9))


def _make(folder):
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n")
    (folder / "b.csv").write_text("x\n2\n")
    (folder / "notes.txt").write_text("not data")


def _rewrite_same_size_and_time(path):
    stat = path.stat()
    path.write_text(path.read_text().replace("1", "7"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


# (what is done to the folder after it was recorded, quick says unchanged, full says unchanged)
CASES = {
    "nothing": (lambda f: None, True, True),
    "a note added": (lambda f: (f / "more.txt").write_text("x"), True, True),
    "touched": (lambda f: _touch(f / "a.csv"), False, True),  # quick is only cautious
    "rewritten, same size and time": (lambda f: _rewrite_same_size_and_time(f / "a.csv"),
                                      True, True),  # by design: neither reads it
    "grown": (lambda f: (f / "a.csv").write_text("x\n1\n3\n"), False, False),
    "added": (lambda f: (f / "c.csv").write_text("x\n3\n"), False, False),
    "vanished": (lambda f: (f / "b.csv").unlink(), False, False),
    "a link added": (lambda f: (f / "l.csv").symlink_to(f / "a.csv"), False, False),
    "replaced by a link": (lambda f: ((f / "b.csv").unlink(),
                                      (f / "b.csv").symlink_to(f / "a.csv")), False, False),
    "a folder named *.csv": (lambda f: (f / "d.csv").mkdir(), False, False),
    # Refused for its name, but a file: recorded by size and time, so the quick path agrees.
    "an unprintable name, untouched": (lambda f: None, True, True),
    "an unprintable name, rewritten": (lambda f: (f / "bad\x01.csv").write_text("x\n9\n"),
                                       False, True),
}


@pytest.mark.parametrize("case", CASES)
def test_the_quick_copy_agrees_with_the_comparison(tmp_path, case):
    folder = tmp_path / "in"
    _make(folder)
    (folder / "old.csv").symlink_to(folder / "a.csv")  # a refused entry, recorded as such
    (folder / "bad\x01.csv").write_text("x\n1\n")  # refused for its name, recorded so
    before = compare_folder(scan_input_folder(folder), {}).records
    change, quick_same, full_same = CASES[case]
    change(folder)
    found = compare_folder(scan_input_folder(folder), before)
    assert folder_unchanged(str(folder), before) is quick_same
    assert found.same is full_same
    assert not quick_same or found.same  # quick never says "nothing new" when there is


def test_a_file_unreadable_now_is_retried_and_changes_once_readable(tmp_path, monkeypatch):
    import pipeline.ingest.inputs as inputs

    folder = tmp_path / "in"
    _make(folder)
    real = inputs.sha256_file

    def denied(path, *args):
        if path.name == "a.csv":
            raise PermissionError(13, "Permission denied")
        return real(path, *args)

    monkeypatch.setattr(inputs, "sha256_file", denied)
    first = compare_folder(scan_input_folder(folder), {})
    assert first.records["a.csv"]["retry"] and first.records["a.csv"]["refused"]
    again = compare_folder(scan_input_folder(folder), first.records)
    assert again.same  # still unreadable: nothing new to read
    assert not folder_unchanged(str(folder), first.records)  # the quick path leaves it to retry
    monkeypatch.setattr(inputs, "sha256_file", real)
    readable = compare_folder(scan_input_folder(folder), first.records)
    assert [e.name for e in readable.changed] == ["a.csv"]


def test_added_files_need_not_be_read_twice(tmp_path):
    folder = tmp_path / "in"
    _make(folder)
    found = compare_folder(scan_input_folder(folder), {}, hash_added=False)
    assert [e.name for e in found.added] == ["a.csv", "b.csv"] and found.records == {}


def test_a_run_is_recorded_ok_with_its_summary_or_failed_with_the_error(tmp_path):
    history = History(tmp_path / "history.sqlite")
    with history.run("training", "config.json") as run:
        run.summary = {"rows": 3}
    with pytest.raises(KeyboardInterrupt), history.run("scoring", "config.json") as run:
        raise KeyboardInterrupt("stopped by hand")
    with history.run("ingestion", "config.json") as run:
        run.status = "no-data"
    rows = history.query("SELECT stage, status, summary, finished FROM runs ORDER BY id")
    assert [(r["stage"], r["status"], r["summary"]) for r in rows] == [
        ("training", "ok", '{"rows": 3}'), ("scoring", "failed", "stopped by hand"),
        ("ingestion", "no-data", None)]
    assert all(r["finished"] for r in rows)
