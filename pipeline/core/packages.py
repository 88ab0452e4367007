"""The dependency check's rules: reading requirements.txt, comparing versions, and which package
index pip would ask.

Versions are compared by the standard (PEP 440) through ``packaging``, the library pip itself
uses; it is imported when versions are compared, so that the rest of the core stays standard
library only.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from pathlib import Path

PYPI_SIMPLE = "https://pypi.org/simple"

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


def parse_version(text: str | None):
    """A packaging Version, or None when the text is no PEP 440 version."""
    from packaging.version import InvalidVersion, Version

    if not text:
        return None
    try:
        return Version(str(text).strip())
    except InvalidVersion:
        return None


def is_outdated(package: dict) -> bool:
    """True when a newer release than the one installed (or pinned) is known.

    PEP 440 order: 1.10.0rc1 < 1.10.0 < 1.10.0.post1, 2.0.dev0 < 2.0, and an epoch (1!1.0)
    outranks every version without one. A version that is not PEP 440 is never called outdated.
    """
    latest = parse_version(package.get("latest"))
    current = parse_version(package.get("installed") or package.get("pinned"))
    return latest is not None and current is not None and latest > current


def package_status(package: dict) -> str:
    """'outdated', 'unknown' (no latest version known) or 'up to date'."""
    if is_outdated(package):
        return "outdated"
    return "unknown" if package.get("latest") is None else "up to date"


def latest_release(versions) -> str | None:
    """The newest final release among version strings (the newest pre-release when there is
    no final one), as pip would pick it; None when none is a PEP 440 version."""
    parsed = [v for v in map(parse_version, versions) if v is not None]
    final = [v for v in parsed if not v.is_prerelease]
    best = max(final or parsed, default=None)
    return None if best is None else str(best)


def normalized_name(name: str) -> str:
    """A project name as the simple API spells it in URLs (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_config_files() -> list[Path]:
    """pip's configuration files, lowest priority first (pip's own order: global, user, site,
    then $PIP_CONFIG_FILE, which also hides the user's files when it exists)."""
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    if not (env_file and os.path.exists(env_file)):
        home = Path(os.path.expanduser("~"))
        config_home = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        files += [home / ".pip" / "pip.conf", Path(config_home) / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if env_file:
        files.append(Path(env_file))
    return files


def pip_index_url() -> str:
    """The index pip installs from: $PIP_INDEX_URL, else index-url of pip's configuration files
    ([install] over [global], a later file over an earlier), else PyPI."""
    found = os.environ.get("PIP_INDEX_URL", "").split()
    if found:
        return found[0].rstrip("/")
    url = PYPI_SIMPLE
    for path in _pip_config_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            for key in ("index-url", "index_url"):
                if parser.has_option(section, key) and parser.get(section, key).strip():
                    url = parser.get(section, key).split()[0]
    return url.rstrip("/")


def is_pypi(index_url: str) -> bool:
    """True for PyPI's own simple index, which also answers its JSON API."""
    return index_url.rstrip("/") in (PYPI_SIMPLE, "https://pypi.python.org/simple")


def shown_url(url: str) -> str:
    """A URL without the user and password it may carry (for logs)."""
    return re.sub(r"//[^/@]*@", "//", url)
