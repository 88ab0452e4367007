"""Finding input files, with the standard library only (the quiet path of fullprocess.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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
                found.append(InputFile(entry.name, path, 0, 0,
                                       "file name is not printable UTF-8 text"))
            else:
                stat = entry.stat(follow_symlinks=False)
                found.append(InputFile(entry.name, path, stat.st_size, stat.st_mtime_ns))
    return sorted(found, key=lambda f: f.name)
