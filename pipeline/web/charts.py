"""Charts drawn on the server as SVG (matplotlib): the score history of the state page.

Events are placed in the order they happened, one step each, labelled with their time: cycles
come in bursts (several in a minute, then nothing for weeks), which a time axis would crush.
"""

from __future__ import annotations

from pipeline.core.decisions import Decision
from pipeline.report.figures import svg_figure
from pipeline.web.format import tick_time

MAX_EVENTS = 60  # the latest shown; the charts of the estimate (pipeline.web.estimates) too


def score_history_svg(deployments: list[dict], decisions: list[Decision]) -> bytes:
    """The deployed model's F1 over deployments, and each drift check's score and threshold."""
    events = sorted([(d.get("time") or "", 0, d) for d in deployments] +
                    [(x.time, 1, x) for x in decisions
                     if x.new_score is not None or x.threshold is not None],
                    key=lambda e: (e[0], e[1]))
    shown = events[-MAX_EVENTS:]

    def draw(fig) -> None:
        ax = fig.add_subplot()
        xs = list(range(len(shown)))
        step_x, step_y = [], []
        for x, (_, kind, item) in zip(xs, shown, strict=True):
            if kind == 0 and item.get("f1") is not None:
                step_x.append(x)
                step_y.append(item["f1"])
                ax.annotate(f"v{item.get('version')}", (x, item["f1"]), xytext=(0, 8),
                            textcoords="offset points", ha="center", fontsize=9)
        if step_x:
            ax.step([*step_x, len(shown) - 0.5], [*step_y, step_y[-1]], where="post",
                    color="#1f5fa8", lw=2, label="deployed model: F1 on the test data")
            ax.plot(step_x, step_y, "o", color="#1f5fa8")
        for drift, color, label in ((True, "#c0392b", "drift check: drift"),
                                    (False, "#2e8b57", "drift check: no drift"),
                                    (None, "#888888", "drift check")):
            points = [(x, item) for x, (_, kind, item) in zip(xs, shown, strict=True)
                      if kind == 1 and item.drift is drift]
            scored = [(x, i.new_score) for x, i in points if i.new_score is not None]
            if scored:
                ax.plot(*zip(*scored, strict=True), "s", color=color, ms=7,
                        label=f"{label} (F1 on new data)")
            limits = [(x, i.threshold) for x, i in points if i.threshold is not None]
            if limits:
                ax.plot(*zip(*limits, strict=True), "_", color=color, ms=18, mew=2)
        if any(kind == 1 for _, kind, _ in shown):
            ax.plot([], [], "_", color="#444444", ms=14, mew=2, label="threshold of the test")
        ax.set_xticks(xs, [tick_time(time) for time, _, _ in shown], fontsize=8)
        if len(xs) > 12:
            for i, tick in enumerate(ax.get_xticklabels()):
                tick.set_visible(i % max(1, len(xs) // 12) == 0)
        ax.set_xlim(-0.6, max(len(shown) - 0.4, 0.6))
        ax.set_ylim(0, 1)
        ax.set_ylabel("F1")
        ax.grid(alpha=0.3)
        title = "Scores over time"
        if len(events) > len(shown):
            title += f" (the latest {len(shown)} of {len(events)} events)"
        ax.set_title(title, fontsize=11)
        if shown:
            ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
        else:
            ax.text(0.5, 0.5, "nothing recorded yet", ha="center", transform=ax.transAxes)

    return svg_figure((8.0, 3.6), draw)
