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
from collections.abc import Callable
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


# Asking a package index for the newest release (requests is imported when it is asked) ------

PYPI_URL = "https://pypi.org/pypi/{name}/json"
Fetcher = Callable[[str, float], dict]
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"  # PEP 691


def fetch_json(url: str, timeout: float, session=None) -> dict:
    """GET a package index's answer as a dict; raises requests.RequestException when it cannot.

    Asks for PEP 691 JSON (PyPI's JSON API answers JSON anyway); an index that only speaks the
    HTML simple API (PEP 503) has its links read into the same shape: {"files": [...]}. Given a
    requests ``session``, through it: one connection and one TLS set-up for every package.
    """
    import requests

    response = (session or requests).get(url, timeout=timeout, headers={
        "Accept": f"{SIMPLE_JSON}, application/json;q=0.9, text/html;q=0.1"})
    response.raise_for_status()
    try:
        return response.json()
    except ValueError:
        if "<a" not in response.text:
            raise
        return {"files": _html_files(response.text)}


def _html_files(text: str) -> list[dict]:
    """The files a PEP 503 page links to: {"filename", "yanked"} each."""
    from html.parser import HTMLParser

    files: list[dict] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "a":
                files.append({"filename": "", "yanked": "data-yanked" in dict(attrs)})

        def handle_data(self, data):
            if files and not files[-1]["filename"]:
                files[-1]["filename"] = data.strip()

    Links().feed(text)
    return files


def _file_version(filename: str, name: str) -> str | None:
    """The version in a wheel's or an sdist's file name; None for anything else."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except ValueError:  # a legacy sdist name: "<name>-<version>.<archive>"
        stem = re.sub(r"\.(tar\.gz|tar\.bz2|tar\.xz|zip|tgz)$", "", filename)
        project, _, version = stem.rpartition("-")
        return version if project and normalized_name(project) == normalized_name(name) \
            else None


def latest_from_simple(document: dict, name: str) -> str | None:
    """The newest release in a simple API answer (PEP 691 JSON): from its files, yanked ones
    left out, else from its ``versions`` list (PEP 700)."""
    files = document.get("files")
    if isinstance(files, list) and files:
        versions = {_file_version(str(f.get("filename", "")), name) for f in files
                    if isinstance(f, dict) and not f.get("yanked")}
        return latest_release(v for v in versions if v)
    versions = document.get("versions")
    return latest_release(versions) if isinstance(versions, list) else None


def latest_version(name: str, index_url: str, fetch: Fetcher, timeout: float) -> str | None:
    """The newest release of a package on an index: PyPI's JSON API on PyPI, the simple API
    (PEP 691) on any other index."""
    if is_pypi(index_url):
        return str(fetch(PYPI_URL.format(name=name), timeout)["info"]["version"])
    url = f"{index_url.rstrip('/')}/{normalized_name(name)}/"
    return latest_from_simple(fetch(url, timeout), name)
