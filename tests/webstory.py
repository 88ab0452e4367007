"""The shipped story in a temporary project, for the page tests: the practice cycle deploys
version 1, the production cycle finds score drift and deploys version 2, with every report."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from pipeline.core.config import load_settings
from pipeline.data.datagen import to_csv_bytes
from tests.conftest import CONFIG, PRACTICE, write_config

QUICK = {"check_outdated_packages": False, "measure_execution_time": False}
HOSTILE = ("<script>alert('x')</script>", '"><img src=x onerror=alert(1)>', "..",
           "../../config.json", "a/b?c#d", "=HYPERLINK(\"http://127.0.0.1\")", "ça & co")


def build_story(root: Path, datasets, **extra):
    """Run both cycles of make run (no API call) in root; the production Settings."""
    from cycle.run import run_cycle

    for relative, frame in datasets.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(to_csv_bytes(frame))
    write_config(root, "config.json", **CONFIG, **QUICK, **extra)
    write_config(root, "config.practice.json", **PRACTICE, **QUICK, **extra)
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


def token_config(root: Path, token: str) -> Path:
    """A second config for the same project whose API (and pages) need a token."""
    (root / "token.txt").write_text(token + "\n", encoding="utf-8")
    raw = json.loads((root / "config.json").read_text())
    return write_config(root, "config.token.json", **raw, api_token_file="token.txt")


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
