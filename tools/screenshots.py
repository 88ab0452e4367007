"""The README's screenshots of each page (``make screenshots``), from the shipped story.

Copies the shipped data into a temporary project, runs the two cycles of ``make run`` there
(version 1, then drift and version 2, with every report and the API's answers), serves it with
gunicorn on a free loopback port and photographs /, /clients and the top client's page with
headless Chromium, at a laptop's width (the whole page) and a phone's (the first screen).
Writes docs/screenshots/*.png whole (temporary file, then os.replace).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from cycle.local_server import free_port, running_server
from pipeline.core.config import PROJECT_ROOT
from pipeline.report.risk import read_risk_list
from pipeline.web.routes import client_url
from tools.browser import LAPTOP, PHONE, chromium, full_page_screenshot, resize

OUT = PROJECT_ROOT / "docs" / "screenshots"
SHIPPED = ("practicedata", "sourcedata", "testdata")
PAGES = (("state", "/"), ("clients", "/clients"), ("client", None))


def shipped_story(root: Path) -> Path:
    """The shipped data after make run's two cycles in root; the production config."""
    from app import create_app
    from cycle.run import run_cycle
    from pipeline.core.config import load_settings

    for folder in SHIPPED:
        shutil.copytree(PROJECT_ROOT / folder, root / folder)
    for name in ("config.json", "config.practice.json"):
        raw = json.loads((PROJECT_ROOT / name).read_text(encoding="utf-8"))
        # Nothing listens there, so the cycle calls the app in its own process, as make run's.
        raw["api_url"] = f"http://127.0.0.1:{free_port()}"
        (root / name).write_text(json.dumps(raw, indent=1), encoding="utf-8")
    for name in ("config.practice.json", "config.json"):
        print(run_cycle(load_settings(root / name), call_api=create_app))
    return root / "config.json"


def _save(session, name: str) -> Path:
    tmp = OUT / f".{name}.tmp.png"
    session.save_screenshot(str(tmp))
    os.replace(tmp, OUT / f"{name}.png")
    return OUT / f"{name}.png"


def main() -> int:
    """Write docs/screenshots/{state,clients,client}-{laptop,phone}.png."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="risk-screenshots-") as tmp:
        config = shipped_story(Path(tmp))
        # The top client's name as the system reads it (riskscores.csv quotes and protects it).
        top = read_risk_list(Path(tmp) / "models", top=1)["corporation"].iloc[0]
        with running_server(config) as url, chromium(LAPTOP) as session:
            for name, path in PAGES:
                session.get(url + (path or client_url(top)))
                full = full_page_screenshot(session, OUT / f".{name}-laptop.tmp.png", LAPTOP[0])
                os.replace(full, OUT / f"{name}-laptop.png")
                resize(session, PHONE)
                print(_save(session, f"{name}-phone"))
                print(OUT / f"{name}-laptop.png")
                resize(session, LAPTOP)
    return 0


if __name__ == "__main__":
    sys.exit(main())
