"""The cycle's drift decisions and data drift figures, read from history rows defensively.

The drift tests change (new tests record a statistic, a p-value, an effect size...), so nothing
here expects a fixed set of fields: a decision is shown with whatever its ``detail`` JSON and
its metric rows hold. Pure functions of rows, tested on old and new shapes of record; the one
parser of decisions for the pages, the report, /metrics and the alerts
(pipeline.core.recorded reads the rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pipeline.core.schema import FEATURES

# Fields of a detail that are the test's name or outcome, not one of its figures.
_NOT_FIGURES = {"test", "used", "drift", "note", "decision", "outcome", "action", "reason"}
# The figures people read first, in this order; any others follow as recorded.
_FIRST = ("new_loss", "reference_loss", "relative_rise", "p_value", "statistic", "rows",
          "new_score", "threshold", "deployed_score")


@dataclass
class Decision:
    """One drift decision of a cycle: the test, its figures and the outcome."""

    run_id: int | None
    time: str
    config: str | None = None
    summary: str | None = None
    test: str = "–"
    drift: bool | None = None
    outcome: str = "unknown"
    figures: list[tuple[str, object]] = field(default_factory=list)
    note: str = ""
    new_score: float | None = None
    threshold: float | None = None
    new_loss: float | None = None  # the loss test's: mean log-loss on the new rows ...
    reference_loss: float | None = None  # ... and at deployment
    relative_rise: float | None = None
    p_value: float | None = None
    statistic: float | None = None
    used: str | None = None  # the test that judged (the loss test falls back to raw, say)
    rows: int | None = None  # new rows judged
    reason: str = ""  # the verdict's reason, as recorded


def parse_detail(text) -> dict:
    """A metric row's detail as a dict; {} when it is missing or not a JSON object."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _flatten(detail: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for key, value in detail.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, name + ".")
        elif value is None or isinstance(value, (bool, int, float, str, list)):
            out.append((name, value))
        else:
            out.append((name, str(value)))
    return out


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _outcome(detail: dict, values: dict) -> tuple[bool | None, str]:
    for source in (detail.get("drift"), values.get("drift")):
        if isinstance(source, bool) or _number(source) is not None:
            drift = bool(source)
            return drift, "drift" if drift else "no drift"
    for key in ("decision", "outcome"):
        if isinstance(detail.get(key), str):
            return None, detail[key]
    if values.get("tested") == 0:
        return None, "not tested: too little new data"
    return None, "unknown"


def decision_from_rows(rows: list[dict]) -> Decision:
    """One decision from the 'drift' metric rows of one run (with its run's config, summary)."""
    first = rows[0]
    detail: dict = {}
    for row in rows:
        detail = parse_detail(row.get("detail"))
        if detail:
            break
    values = {row["name"]: row.get("value") for row in rows if row.get("name")}
    drift, outcome = _outcome(detail, values)
    test, used = detail.get("test"), detail.get("used")
    label = str(used or test or detail.get("method") or detail.get("name") or "–")
    if test and used and test != used:
        label = f"{used} (asked for {test})"
    if detail:
        figures = [(k, v) for k, v in _flatten(detail) if k not in _NOT_FIGURES]
        rank = {name: i for i, name in enumerate(_FIRST)}
        figures.sort(key=lambda item: rank.get(item[0], len(rank)))  # stable for the rest
    else:
        figures = [(k, v) for k, v in values.items() if k not in ("drift", "tested")]
    new = _number(detail.get("new_score", values.get("new_f1")))
    threshold = _number(detail.get("threshold", values.get("threshold")))
    rows_judged = _number(detail.get("rows", values.get("new_rows")))
    return Decision(run_id=first.get("run_id"), time=first.get("time") or "",
                    config=first.get("config"), summary=first.get("summary"), test=label,
                    drift=drift, outcome=outcome, figures=figures,
                    note=str(detail.get("note") or ""), new_score=new, threshold=threshold,
                    used=str(used or test) if (used or test) else None,
                    rows=None if rows_judged is None else int(rows_judged),
                    reason=str(detail.get("reason") or ""),
                    **{key: _number(detail.get(key)) for key in
                       ("new_loss", "reference_loss", "relative_rise", "p_value", "statistic")})


def group_decisions(rows: list[dict]) -> list[Decision]:
    """Decisions from 'drift' metric rows in time order: one per run (or per time without one)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = ("run", row["run_id"]) if row.get("run_id") is not None else ("time", row["time"])
        groups.setdefault(key, []).append(row)
    return [decision_from_rows(group) for group in groups.values()]


@dataclass
class FeatureDrift:
    """The data drift figures of one feature in one batch."""

    feature: str
    figures: list[tuple[str, object]]
    alert: bool | None
    psi: float | None = None


def feature_drift(rows: list[dict], psi_alert: float, p_alert: float) -> list[FeatureDrift]:
    """Per feature, the figures of 'data_drift' metric rows named ``<feature>_<figure>``.

    The alert is the recorded one when a row says so, else PSI above ``psi_alert`` or a KS
    p-value below ``p_alert`` (the rules of pipeline.monitor.drift).
    """
    found: dict[str, dict[str, object]] = {}
    for row in rows:
        name = str(row.get("name") or "")
        feature = next((f for f in sorted(FEATURES, key=len, reverse=True)
                        if name.startswith(f + "_")), None)
        owner, figure_name = (feature, name[len(feature) + 1:]) if feature else ("other", name)
        found.setdefault(owner, {})[figure_name] = row.get("value")
        for key, value in parse_detail(row.get("detail")).items():
            found[owner].setdefault(key, value)
    out = []
    for feature, figures in found.items():
        psi, p = _number(figures.get("psi")), _number(figures.get("ks_pvalue"))
        alert = figures.get("alert")
        if not isinstance(alert, bool):
            alert = None if psi is None and p is None else bool(
                (psi is not None and psi > psi_alert) or (p is not None and p < p_alert))
        out.append(FeatureDrift(feature, [(k, v) for k, v in figures.items() if k != "alert"],
                                alert, psi))
    return out
