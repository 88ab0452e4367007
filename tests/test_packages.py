"""The dependency check: PEP 440 version order, and the index pip is configured to use (the
network is never reached: every fetch is stubbed)."""

from __future__ import annotations

import os
import sys

import pytest
import requests

import diagnostics
from pipeline.core import packages
from pipeline.core.packages import is_outdated, latest_release, pip_index_url

pytestmark = pytest.mark.usefixtures("no_network")


@pytest.mark.parametrize("current, latest, outdated", [
    ("1.10.0rc1", "1.10.0", True),  # a release candidate is older than its release
    ("2.0", "2.0.post1", True),  # a post-release is newer
    ("2.0.dev0", "2.0", True),  # a development release is older
    ("1!1.0", "2.0", False),  # an epoch outranks every version without one
    ("2.0", "1!1.0", True),
    ("1.9.1", "1.10.0", True),
    ("1.10", "1.10.0", False),
    ("1.10.0", "1.10.0rc2", False),
    ("2.0", "not a version", False),  # unknown order: never called outdated
    ("not a version", "2.0", False),
])
def test_versions_are_compared_by_pep_440(current, latest, outdated):
    assert is_outdated({"installed": current, "pinned": None, "latest": latest}) is outdated
    assert is_outdated({"installed": None, "pinned": current, "latest": latest}) is outdated


@pytest.mark.parametrize("versions, latest", [
    (["1.9.0", "1.10.0", "1.2"], "1.10.0"),
    (["1.0", "2.0rc1", "2.0.dev3"], "1.0"),  # pip passes over pre-releases
    (["2.0rc1", "2.0b2"], "2.0rc1"),  # unless there is nothing else
    (["1!0.1", "9.0"], "1!0.1"),
    (["junk"], None),
])
def test_the_latest_release_is_the_newest_final_one(versions, latest):
    assert latest_release(versions) == latest


@pytest.fixture
def pip_home(tmp_path, monkeypatch):
    """pip's configuration locations moved into tmp_path (nothing configured there yet)."""
    for name in ("PIP_INDEX_URL", "PIP_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "xdg"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    return tmp_path


def _conf(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_pip_index_settings_are_read_in_pips_order(pip_home, monkeypatch):
    if packages.Path("/etc/pip.conf").is_file() and "index-url" in \
            packages.Path("/etc/pip.conf").read_text(encoding="utf-8"):
        pytest.skip("/etc/pip.conf names an index on this machine")
    assert pip_index_url() == "https://pypi.org/simple"
    _conf(pip_home / "home" / ".config" / "pip" / "pip.conf",
          "[global]\nindex-url = https://user.example/simple/\n")
    assert pip_index_url() == "https://user.example/simple"
    _conf(pip_home / "venv" / "pip.conf",  # the virtual environment's file wins over the user's
          "[global]\nindex-url = https://site.example/simple\n"
          "[install]\nindex-url = https://site.example/install\n")
    assert pip_index_url() == "https://site.example/install"  # [install] over [global]
    env_file = _conf(pip_home / "env.conf", "[global]\nindex-url = https://env.example/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(env_file))
    assert pip_index_url() == "https://env.example/simple"
    monkeypatch.setenv("PIP_INDEX_URL", "https://var.example/simple https://ignored")
    assert pip_index_url() == "https://var.example/simple"
    monkeypatch.delenv("PIP_INDEX_URL")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # pip reads no file at all then
    assert pip_index_url() == "https://pypi.org/simple"


class SimpleIndex:
    """A stand-in for a simple-API-only index (PEP 691 JSON): answers by project URL."""

    def __init__(self, answers: dict[str, dict]):
        self.answers, self.calls = answers, []

    def __call__(self, url: str, timeout: float) -> dict:
        self.calls.append(url)
        if "/pypi/" in url:
            raise AssertionError(f"PyPI's JSON API asked of a custom index: {url}")
        name = url.rstrip("/").rsplit("/", 1)[1]
        if name not in self.answers:
            raise requests.HTTPError(f"404 for {url}")
        return self.answers[name]


def test_a_custom_index_is_asked_through_the_simple_api(settings, monkeypatch):
    (settings.root / "requirements.txt").write_text(
        "scikit_learn==1.9.1\nNumPy==2.4.6\nmissing==1.0\nflask==3.1.3\n", encoding="utf-8")
    monkeypatch.setenv("PIP_INDEX_URL", "https://user:secret@mirror.example/simple/")
    index = SimpleIndex({
        "scikit-learn": {"meta": {"api-version": "1.1"}, "name": "scikit-learn", "files": [
            {"filename": "scikit_learn-1.9.1-cp311-cp311-manylinux_2_17_x86_64.whl"},
            {"filename": "scikit_learn-1.10.0rc1.tar.gz"},
            {"filename": "scikit_learn-1.9.2.tar.gz"},
            {"filename": "scikit_learn-1.11.0-py3-none-any.whl", "yanked": "broken"},
        ]},
        "numpy": {"meta": {"api-version": "1.1"}, "name": "numpy", "files": [],
                  "versions": ["2.4.6", "2.5.0"]},
        "flask": {"meta": {"api-version": "1.0"}, "name": "flask", "files": [
            {"filename": "Flask-3.1.3.tar.gz"}, {"filename": "flask-3.1.3-py3-none-any.whl"}]},
    })
    found = diagnostics.outdated_packages_list(settings, fetch=index)
    assert index.calls == [f"https://user:secret@mirror.example/simple/{n}/"
                           for n in ("scikit-learn", "numpy", "missing", "flask")]
    assert {p["name"]: p["latest"] for p in found} == {
        "scikit_learn": "1.9.2", "NumPy": "2.5.0", "missing": None, "flask": "3.1.3"}
    assert [p["name"] for p in found if is_outdated(p)] == ["scikit_learn", "NumPy"]


def test_pypi_itself_is_asked_through_its_json_api(settings, pip_home):
    (settings.root / "requirements.txt").write_text("pandas==3.1.1\n", encoding="utf-8")
    calls = []

    def fetch(url, timeout):
        calls.append(url)
        return {"info": {"version": "3.2.0"}}

    found = diagnostics.outdated_packages_list(settings, fetch=fetch)
    assert calls == ["https://pypi.org/pypi/pandas/json"]
    assert found[0]["latest"] == "3.2.0"


class Response:
    def __init__(self, content_type: str, body):
        self.headers, self.body = {"Content-Type": content_type}, body
        self.text = body if isinstance(body, str) else ""

    def raise_for_status(self):
        pass

    def json(self):
        if isinstance(self.body, str):
            raise ValueError("Expecting value: line 1 column 1 (char 0)")
        return self.body


def test_the_fetcher_asks_for_pep_691_json_and_reads_an_html_index(monkeypatch):
    seen = {}
    page = ('<html><body><a href="x/a-1.0.tar.gz#sha256=00">a-1.0.tar.gz</a>\n'
            '<a href="x/a-2.0.tar.gz" data-yanked="">a-2.0.tar.gz</a></body></html>')

    def fake_get(url, timeout, headers):
        seen.update(url=url, timeout=timeout, accept=headers["Accept"])
        return Response("text/html; charset=utf-8", page)

    monkeypatch.setattr(requests, "get", fake_get)
    document = packages.fetch_json("https://old.example/simple/a/", 2.0)
    assert seen["accept"].startswith("application/vnd.pypi.simple.v1+json")
    assert seen["timeout"] == 2.0
    assert document == {"files": [{"filename": "a-1.0.tar.gz", "yanked": False},
                                  {"filename": "a-2.0.tar.gz", "yanked": True}]}
    assert packages.latest_from_simple(document, "a") == "1.0"


def test_an_index_with_an_unusable_address_is_given_up_at_once(settings, monkeypatch):
    (settings.root / "requirements.txt").write_text("pandas==3.1.1\nnumpy==2.4.6\n",
                                                    encoding="utf-8")
    monkeypatch.setenv("PIP_INDEX_URL", "file:///opt/pypi/simple")
    calls = []

    def fetch(url, timeout):
        calls.append(url)
        raise requests.exceptions.InvalidSchema(f"No connection adapters were found for {url}")

    found = diagnostics.outdated_packages_list(settings, fetch=fetch)
    assert len(calls) == 1 and [p["latest"] for p in found] == [None, None]
