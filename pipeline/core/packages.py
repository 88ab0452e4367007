"""The dependency check's rules: reading requirements.txt and comparing version numbers."""

from __future__ import annotations

import re
from pathlib import Path

# name, optional [extras], then an exact pin when there is one: "pandas==3.1.1"
_REQUIREMENT = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==\s*([^\s;,]+))?")


def read_requirements(path: Path) -> list[tuple[str, str | None]]:
    """(name, pinned version or None) of each requirement line of a requirements file."""
    found = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = _REQUIREMENT.match(line)
        if match:
            found.append((match.group(1), match.group(2)))
    return found


def _version_key(version: str) -> tuple[int, ...]:
    """The release numbers of a version, trailing zeros dropped: '1.10.0rc1' -> (1, 10)."""
    release = re.match(r"\d+(?:\.\d+)*", version.strip().lstrip("vV"))
    key = [int(part) for part in release.group(0).split(".")] if release else []
    while key and key[-1] == 0:
        key.pop()
    return tuple(key)


def is_outdated(package: dict) -> bool:
    """True when a newer release than the one installed (or pinned) is known."""
    current = package.get("installed") or package.get("pinned")
    if not package.get("latest") or not current:
        return False
    return _version_key(package["latest"]) > _version_key(current)


def package_status(package: dict) -> str:
    """'outdated', 'unknown' (no latest version known) or 'up to date'."""
    if is_outdated(package):
        return "outdated"
    return "unknown" if package.get("latest") is None else "up to date"
