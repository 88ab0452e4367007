"""The pages' benchmark (bench/pages.py) at a tiny size: it times every page through the app and
writes each figure beside its target."""

from __future__ import annotations

import bench.pages as pages
from tests.helpers import build_story


def test_every_page_is_timed_and_judged_against_its_target(tmp_path, datasets, monkeypatch):
    story = build_story(tmp_path / "story", datasets)
    monkeypatch.setattr(pages, "CALLS", 3)
    figures = pages.measure(story.root)
    assert set(figures["warm"]) == set(figures["cold"]) and len(figures["warm"]) == 9
    assert all(0 < s < 5 for s in figures["warm"].values())
    assert figures["clients_on_list"] > 5000
    slow = dict(figures, warm={**figures["warm"], "/": 0.06})  # over 50 ms at 10,000
    monkeypatch.setattr(pages, "OUT", tmp_path / "RESULTS.md")
    monkeypatch.setattr(pages, "QUICK", False)
    pages.write({10_000: slow, 1_000_000: figures}, 60.0)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "<!-- bench:pages -->" in text and "## Pages" in text
    assert text.count("| 50.0 ms |") == 9 and text.count("| 200.0 ms |") == 9
    assert text.count("**not met**") == 1
    assert "| `/` | 60.0 ms |" in text
