"""How the pages write numbers, times and names (Jinja filters)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from markupsafe import Markup

FEATURE_LABELS = {
    "lastmonth_activity": "last month's activity",
    "lastyear_activity": "last year's activity",
    "number_of_employees": "employees",
}
# Names of recorded figures people read more easily another way; any other name is shown with
# its underscores as spaces, so a figure nobody planned for still shows.
FIGURE_LABELS = {
    "new_score": "F1 on the new data", "new_f1": "F1 on the new data",
    "deployed_score": "deployed model's F1", "deployed_f1": "deployed model's F1",
    "threshold": "threshold", "history": "past scores used", "new_rows": "new rows",
    "new_exits": "exits among them", "p_value": "p-value", "pvalue": "p-value",
    "ks": "KS statistic", "ks_statistic": "KS statistic", "ks_pvalue": "KS p-value",
    "psi": "PSI", "effect_size": "effect size",
}


def tick_time(time: str) -> str:
    """A recorded time as a chart's tick label: month-day over hours:minutes ("?" unreadable)."""
    moment = parse_time(time)
    return moment.strftime("%m-%d\n%H:%M") if moment else "?"


def feature_label(name: str) -> str:
    """A feature's name as people say it."""
    return FEATURE_LABELS.get(name, name.replace("_", " "))


def figure_label(name: str) -> str:
    """A recorded figure's name as people read it."""
    return FIGURE_LABELS.get(name, name.replace("_", " ").replace(".", ": "))


def figure(value) -> str:
    """Any recorded value, short: numbers to four significant digits, booleans as yes/no."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        shown = ", ".join(figure(v) for v in value[:8])
        return shown + (", …" if len(value) > 8 else "")
    return str(value)


def number(value, digits: int = 0) -> str:
    """A number with thousands separators ("–" when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def score(value) -> str:
    """A score between 0 and 1, to three decimals."""
    return "–" if value is None else f"{float(value):.3f}"


def parse_time(text: str | None) -> datetime | None:
    """An ISO-8601 time as recorded, or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(text: str | None) -> str:
    """A recorded UTC time, to the minute."""
    moment = parse_time(text)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "–"


def ago(text: str | None, now: datetime | None = None) -> str:
    """How long ago a recorded time was, roughly."""
    moment = parse_time(text)
    if moment is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def epoch(seconds: float | None) -> str | None:
    """Seconds since the epoch (the cycle record's times) as an ISO-8601 UTC time."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def exp(value: float) -> float:
    """e to the power of value (an odds factor from a log-odds contribution)."""
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def odds(value: float) -> str:
    """An odds factor: two decimals when small, whole with separators when large."""
    if math.isnan(value):
        return ""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:,.0f}"


# Control characters but tab and line breaks: C0, DEL and C1. HTML escaping leaves them as they
# are, and a NUL or an ESC in a page breaks it for some readers.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def no_raw_controls(value):
    """A value as a page prints it (Jinja's ``finalize``): control characters in text shown as
    escapes (``\\x00``), so that nothing a client sent (a path, a query, a form field) nor a
    file's content is written raw into a page. Markup, the pages' own, is left as it is."""
    # isprintable() is false for every control character, and true for nearly all text a page
    # prints: the pattern runs on the few values that hold a space other than " ", a line
    # break or another non-printable character.
    if isinstance(value, str) and not value.isprintable() and not isinstance(value, Markup) \
            and _CONTROL.search(value):
        return _CONTROL.sub(lambda found: ascii(found.group())[1:-1], value)
    return value


FILTERS = {"exp": exp, "odds": odds, "feature": feature_label, "figure_label": figure_label,
           "figure": figure, "number": number, "score": score, "when": when, "ago": ago,
           "epoch": epoch}
