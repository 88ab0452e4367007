"""The watch benchmark (bench/watch.py) at a tiny size: it records cycles in a real history,
times /metrics over them and writes each figure beside its target."""

from __future__ import annotations

import bench.watch as watch
from app import create_app
from pipeline.core.history import History
from tests.helpers import build_story


def test_scrapes_are_timed_over_the_recorded_cycles_and_judged(tmp_path, datasets, monkeypatch):
    story = build_story(tmp_path / "story", datasets)
    before = create_app(story.config_path).test_client().get("/metrics").get_data(as_text=True)
    assert 'risk_cycle_runs_total{outcome="redeployed"} 0.0' in before
    history = History(story.history_db)
    counts = {r["config"]: r["n"] for r in history.query(
        "SELECT config, COUNT(*) AS n FROM runs GROUP BY config")}
    runs = watch.record_cycles(story.root, cycles=5)
    assert runs == counts["config.practice.json"] + 5 * counts["config.json"]
    monkeypatch.setattr(watch, "CALLS", 5)
    figures = watch.time_scrapes(story.root)
    assert 0 < figures["warm"] < 1 and 0 < figures["cold"] < 1
    after = create_app(story.config_path).test_client().get("/metrics").get_data(as_text=True)
    assert 'risk_cycle_runs_total{outcome="redeployed"} 5.0' in after
    monkeypatch.setattr(watch, "OUT", tmp_path / "RESULTS.md")
    slow = dict(figures, runs=runs, cold=0.02,
                quick={"ratio": 2.1, "cycle": 0.025, "pass": 0.012})
    watch.write(slow, 10.0)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "<!-- bench:watch -->" in text and "## Watching the cycle" in text
    assert text.count("| < 10.00 ms |") == 2 and text.count("**not met**") == 1
    assert "| 20.00 ms | < 10.00 ms | **not met** |" in text and "2.10x" in text
