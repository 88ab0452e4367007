"""What the state page shows of the estimate: the latest estimate.json, the current book's
estimates over time from the history (the chart of its band), and the self-checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pipeline.api.state import ApiState
from pipeline.core import recorded
from pipeline.core.history import History
from pipeline.core.names import ESTIMATE_FILE
from pipeline.report.figures import svg_figure
from pipeline.web.charts import MAX_EVENTS
from pipeline.web.format import tick_time

BOOK = "current book"  # cycle/estimating.py's name for the book's entry


@dataclass
class EstimateFacts:
    """The latest estimate (None: none yet), the book's past estimates and the checks."""

    latest: dict | None = None
    book_history: list[dict] = field(default_factory=list)  # oldest first
    checks: list[dict] = field(default_factory=list)  # newest first

    @property
    def broken_versions(self) -> set[int]:
        """Versions whose estimates a self-check found not to hold."""
        return {c.get("model_version") for c in self.checks if not c.get("holds", True)}


def read_estimates(model_folder, history: History, config_name: str) -> EstimateFacts:
    """estimate.json, and this config's estimates of the book and self-checks in the history."""
    facts = EstimateFacts()
    try:
        latest = json.loads((model_folder / ESTIMATE_FILE).read_text(encoding="utf-8"))
        facts.latest = latest if isinstance(latest, dict) else None
    except (OSError, ValueError):
        pass
    if not history.path.exists():
        return facts
    facts.book_history = recorded.estimate_history(history, config_name, BOOK)
    facts.checks = recorded.self_checks(history, 20)
    return facts


def estimate_facts(state: ApiState) -> EstimateFacts:
    """read_estimates, once per version of estimate.json and of the history."""
    db = state.settings.history_db
    stamp = state.cache.stamp(state.settings.model_folder / ESTIMATE_FILE, db,
                              db.with_name(db.name + "-wal"))
    return state.cache.get("web.estimate", stamp, lambda: read_estimates(
        state.settings.model_folder, History(db), state.settings.name))


def estimate_svg(book_history: list[dict], broken: set[int] = frozenset()) -> bytes:
    """The current book's estimated F1 and its band at each estimate, with the deployed
    version's F1 on the test data for comparison; a cross on the estimates of a version whose
    estimates a self-check found not to hold (``broken``)."""
    shown = book_history[-MAX_EVENTS:]

    def draw(fig) -> None:
        ax = fig.add_subplot()
        xs = list(range(len(shown)))
        if shown:
            ax.fill_between(xs, [e["f1_low"] for e in shown], [e["f1_high"] for e in shown],
                            color="#9bb8d8", alpha=0.6, step="mid",
                            label=f"{shown[-1].get('level', 0.9):.0%} band of the F1 to come")
            ax.plot(xs, [e["f1"] for e in shown], "o-", color="#1f5fa8",
                    label="estimated F1 of the current book")
            deployed = [(x, e.get("deployed_f1")) for x, e in zip(xs, shown, strict=True)
                        if e.get("deployed_f1") is not None]
            if deployed:
                ax.plot(*zip(*deployed, strict=True), "_", color="#444444", ms=16, mew=2,
                        label="the version's F1 on the test data")
            stale = [(x, e["f1"]) for x, e in zip(xs, shown, strict=True)
                     if e.get("model_version") in broken]
            if stale:
                ax.plot(*zip(*stale, strict=True), "x", color="#c0392b", ms=10, mew=2,
                        label="its version's estimates no longer hold (self-check)")
            ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
        else:
            ax.text(0.5, 0.5, "no estimate yet", ha="center", transform=ax.transAxes)
        every = max(1, len(xs) // 12)  # at most a dozen labels: the rest would overlap
        ax.set(xlim=(-0.6, max(len(shown) - 0.4, 0.6)), ylim=(0, 1), ylabel="F1",
               title="The current book's estimated F1 over time")
        ax.set_xticks(xs[::every], [f"v{e.get('model_version')}\n{tick_time(e['time'])}"
                                    for e in shown[::every]], fontsize=8)
        ax.grid(alpha=0.3)

    return svg_figure((8.0, 3.2), draw)
