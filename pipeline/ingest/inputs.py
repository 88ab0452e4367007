"""The input folder: its *.csv entries, and what changed in it since a recorded look.

Standard library only. The cron quick path (cycle/quick.py) keeps its own copy of the comparison,
without checksums, so that it imports nothing of the project but its file names; a test checks
that the two agree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.files import sha256_file


@dataclass(frozen=True)
class InputFile:
    """A *.csv entry of the input folder, with what stat says of it."""

    name: str
    path: Path
    size: int
    mtime_ns: int
    refused: str | None = None  # why the entry cannot be read as a file, if it cannot


def printable(text: str) -> str:
    """Text with undecodable bytes (lone surrogates) shown as backslash escapes."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no byte decodes to, e.g. from a JSON "\\ud800"
        return "".join(ascii(ch)[1:-1] if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def safe_name(name: str) -> str:
    """A file name as printable text: undecodable bytes and control characters escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in printable(name))


def scan_input_folder(folder: Path) -> list[InputFile]:
    """The *.csv entries of a folder, sorted by name; links and non-files carry a reason."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.lower().endswith(".csv"):
                continue  # e.g. macOS "Icon\r" files, notes, archives
            path = Path(entry.path)
            if entry.is_symlink():
                found.append(InputFile(entry.name, path, 0, 0,
                                       "a symbolic link: links are not followed"))
            elif not entry.is_file(follow_symlinks=False):
                found.append(InputFile(entry.name, path, 0, 0, "not a regular file"))
            elif safe_name(entry.name) != entry.name:
                # Such a name cannot be written to ingestedfiles.txt or the history faithfully.
                # Its real size and time are kept: the cron quick path compares them.
                stat = entry.stat(follow_symlinks=False)
                found.append(InputFile(entry.name, path, stat.st_size, stat.st_mtime_ns,
                                       "file name is not printable UTF-8 text"))
            else:
                stat = entry.stat(follow_symlinks=False)
                found.append(InputFile(entry.name, path, stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda f: f.name)


def skipped_entries(folder: Path) -> list[InputFile]:
    """The entries of a folder that ingestion does not read, each with why: subfolders (their
    files are not read) and files not named *.csv. Hidden entries (".gitkeep") are left out:
    they are hidden on purpose."""
    skipped = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.name.lower().endswith(".csv"):
                continue
            name = safe_name(entry.name)
            if entry.is_dir(follow_symlinks=False):
                skipped.append(InputFile(name, Path(entry.path), 0, 0,
                                         "a folder: files in subfolders are not read"))
            else:
                stat = entry.stat(follow_symlinks=False)
                skipped.append(InputFile(name, Path(entry.path), stat.st_size, stat.st_mtime_ns,
                                         "not a .csv file: not read"))
    return sorted(skipped, key=lambda f: f.name)


def in_ingestion_order(entries: list[InputFile], order: Sequence[str]) -> list[InputFile]:
    """Entries in ingestion order: the names of ``order`` first, as they come there, then the
    others by name (a folder never ingested is in name order)."""
    rank = {name: i for i, name in enumerate(order)}
    return sorted(entries, key=lambda e: (0, rank[e.name], "") if e.name in rank
                  else (1, 0, e.name))


@dataclass
class Comparison:
    """The input folder against a record of it: {name: {size, mtime_ns, sha256 | refused}}."""

    added: list[InputFile] = field(default_factory=list)
    changed: list[InputFile] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    records: dict[str, dict] = field(default_factory=dict)  # the record of the folder now

    @property
    def same(self) -> bool:
        """True when every file is as recorded (touched files count as the same)."""
        return not (self.added or self.changed or self.vanished)


def file_record(entry: InputFile, before: dict | None = None) -> dict:
    """The record of one entry: size and time, and its SHA-256 or why it was refused.

    The checksum is read only when the size or time moved since ``before`` (a file that cannot
    be read now is marked ``retry``, so the next look reads it again).
    """
    record = {"size": entry.size, "mtime_ns": entry.mtime_ns}
    before = before or {}
    if entry.refused:
        record["refused"] = entry.refused
    elif (before.get("size"), before.get("mtime_ns")) == (entry.size, entry.mtime_ns) \
            and before.get("sha256") and not before.get("retry"):
        record["sha256"] = before["sha256"]
    else:
        try:
            record["sha256"] = sha256_file(entry.path)
        except OSError as exc:  # permissions can be fixed without touching the file
            record.update(refused=f"unreadable: {exc.strerror or exc}", retry=True)
    return record


def compare_folder(entries: list[InputFile], before: dict[str, dict], *,
                   hash_added: bool = True) -> Comparison:
    """What is added, changed (by content, or between a file and an entry refused) and vanished.

    A file whose size and time match its record is unchanged without being read; one whose time
    alone moved (touched) is unchanged when its checksum matches. ``hash_added=False`` leaves
    added files unread (and out of ``records``), for a caller about to read them anyway.
    """
    found = Comparison()
    for entry in entries:
        old = before.get(entry.name)
        if not isinstance(old, dict):
            found.added.append(entry)
            if hash_added:
                found.records[entry.name] = file_record(entry)
            continue
        record = found.records[entry.name] = file_record(entry, old)
        if bool(old.get("refused")) != bool(record.get("refused")) \
                or old.get("sha256") != record.get("sha256"):
            found.changed.append(entry)
    found.vanished = sorted(set(before) - {entry.name for entry in entries})
    return found
