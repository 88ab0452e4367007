"""/metrics: the Prometheus text format, through prometheus_client.

Two kinds of figures. The model's, the cycle's, the last drift test's, the last ingestion's and
the alerts' are read from what the system recorded, at scrape time, by a collector
(``RecordsCollector``): the deployment's manifest, the cycle record and alert state beside the
config (pipeline.watch), the history database (pipeline.core.recorded). They are read once per
version of those files, so a scrape between two cycles costs a few stats. The requests' count
and duration per route are counted by a WSGI layer around the whole app (``counting_requests``:
the answers served in front of Flask included).

Under gunicorn the workers are separate processes: prometheus_client's multiprocess mode adds
their counts up, from files in $PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets and cleans it
before any worker starts, and the mode is chosen when prometheus_client is first imported).
Without it (tests, an app made in a process of one's own) each process has a registry of its
own. prometheus_client is imported when an app is made, never by importing this module.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from pathlib import Path

from flask import Flask, Response

from pipeline.api.state import ApiState
from pipeline.api.watching import cycle_record, cycle_verdict
from pipeline.core import recorded
from pipeline.core.deployed import current_deployment
from pipeline.core.history import History
from pipeline.core.modelfile import ModelIntegrityError
from pipeline.core.names import CURRENT, MANIFEST
from pipeline.watch import alerts, events, ledger

EXTENSION = "risk.metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORES = ("f1", "precision", "recall", "roc_auc", "log_loss", "brier")
INGEST = {"rows_read": "rows read", "rows_rejected": "rows set aside",
          "duplicates_dropped": "exact duplicates dropped", "files": "files ingested",
          "files_rejected": "files set aside", "rows_kept": "rows in finaldata.csv after it"}
_PROCESS: dict = {}  # multiprocess mode: one set of request metrics per process


def multiprocess_dir() -> str | None:
    """The multiprocess folder when one is set up (gunicorn.conf.py), else None."""
    folder = os.environ.get(MULTIPROC_ENV)
    return folder if folder and os.path.isdir(folder) else None


class RequestMetrics:
    """The registry an app's /metrics answers from, and its request counter and histogram."""

    def __init__(self, state: ApiState):
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Histogram,
            disable_created_metrics,
        )

        disable_created_metrics()  # a *_created series beside each count says nothing here
        self.registry = CollectorRegistry()
        shared = multiprocess_dir()
        if shared:
            from prometheus_client.multiprocess import MultiProcessCollector

            MultiProcessCollector(self.registry, path=shared)
            if "requests" not in _PROCESS:  # two of one name in a process would overwrite
                _PROCESS["requests"] = self._made(Counter, Histogram, None)
            self.requests, self.duration = _PROCESS["requests"]
        else:
            self.requests, self.duration = self._made(Counter, Histogram, self.registry)
        self.registry.register(RecordsCollector(state))

    @staticmethod
    def _made(counter, histogram, registry):
        return (counter("risk_http_requests", "HTTP requests answered, by route and status "
                        "code", ("route", "code"), registry=registry),
                histogram("risk_http_request_duration_seconds", "Seconds to answer a request, "
                          "by route", ("route",), buckets=BUCKETS, registry=registry))


def init_metrics(app: Flask, state: ApiState) -> None:
    """Give an app its metrics, and count every request it answers."""
    metrics = app.extensions[EXTENSION] = RequestMetrics(state)
    app.wsgi_app = counting_requests(app.wsgi_app, app, metrics)


def route_of(app: Flask, method: str, path: str) -> str:
    """The route a request matched ("/clients/<path:name>"), never the path itself (one
    series per client would be unbounded); "(unmatched)" for a path no route serves."""
    from werkzeug.exceptions import HTTPException, MethodNotAllowed

    adapter = app.url_map.bind("localhost")
    try:
        return adapter.match(path, method=method, return_rule=True)[0].rule
    except MethodNotAllowed as exc:
        methods = sorted(exc.valid_methods or ["GET"])
        try:
            return adapter.match(path, method=methods[0], return_rule=True)[0].rule
        except HTTPException:
            return "(unmatched)"
    except HTTPException:
        return "(unmatched)"


def counting_requests(wsgi_app, app: Flask, metrics: RequestMetrics):
    """A WSGI app that counts and times every request wsgi_app answers, by route and code."""
    routes: dict[tuple[str, str], str] = {}  # the routes of paths already seen, bounded

    def application(environ, start_response):
        started = time.perf_counter()
        codes: list[str] = []

        def recording(status, headers, exc_info=None):
            codes.append(status[:3])
            return start_response(status, headers, exc_info)

        try:
            return wsgi_app(environ, recording)
        finally:
            key = (environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""))
            route = routes.get(key)
            if route is None:
                route = route_of(app, *key)
                if len(routes) < 1024:
                    routes[key] = route
            metrics.requests.labels(route, codes[0] if codes else "500").inc()
            metrics.duration.labels(route).observe(time.perf_counter() - started)

    return application


def metrics_response(app: Flask, state: ApiState) -> Response:
    """The text format of every metric of the app (all workers' counts in multiprocess mode)."""
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

    return Response(generate_latest(app.extensions[EXTENSION].registry),
                    content_type=CONTENT_TYPE_PLAIN_0_0_4)


def read_records(state: ApiState) -> dict:
    """What the collector reports, read from the files and the history (not cached)."""
    settings = state.settings
    out: dict = {"model": None, "drift": None, "ingestion": None}
    with suppress(ModelIntegrityError):  # nothing deployed, or a broken deployment
        out["model"] = current_deployment(settings.deployment_folder).manifest
    history = History(settings.history_db)
    if history.path.exists():
        out["drift"] = recorded.last_drift_test(history, settings.name)
        out["ingestion"] = recorded.latest_ingestion(history, settings.name, any_config=True,
                                                     with_files=False)
    out["alerts"] = alerts.read_state(settings.config_path)
    return out


def records(state: ApiState) -> dict:
    """read_records, once per version of the files it reads (a few stats when unchanged)."""
    settings = state.settings
    db = settings.history_db
    stamp = state.cache.stamp(db, db.with_name(db.name + "-wal"),
                              Path(ledger.paths(settings.config_path)[1]),
                              settings.deployment_folder / CURRENT / MANIFEST)
    return state.cache.get("metrics.records", stamp, lambda: read_records(state))


class RecordsCollector:
    """The figures the system recorded, as Prometheus metric families, read at scrape time."""

    def __init__(self, state: ApiState):
        self.state = state

    def describe(self):
        """No fixed names to register: the families are built at each scrape."""
        return []

    def collect(self):
        """Every family that has a value, from records() and the cycle record."""
        return [family for family in self._families() if family is not None]

    def _families(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        found = records(self.state)
        cycle = cycle_record(self.state)

        def gauge(name, text, value, labels=None):  # None when there is nothing to report
            if value is None:
                return None
            family = GaugeMetricFamily(name, text, labels=list(labels or {}))
            family.add_metric(list((labels or {}).values()), float(value))
            return family

        model = found["model"]
        if model is not None:
            yield gauge("risk_model_deployed_version", "Version of the deployed model",
                        model.get("version"))
            scores = model.get("scores") or {}
            for score in SCORES:
                if scores.get(score) is not None:
                    yield gauge(f"risk_model_test_{score}", f"{score} of the deployed model on "
                                "the test data, recorded at deployment", scores[score])
        runs = CounterMetricFamily("risk_cycle_runs", "Cycles run, by outcome", labels=["outcome"])
        for outcome in ledger.OUTCOMES:
            runs.add_metric([outcome], (cycle.get("runs") or {}).get(outcome, 0))
        yield runs
        for name, key, which in (("last_run", "finished", "last cycle"),
                                 ("last_success", "time", "last successful cycle"),
                                 ("last_failure", "time", "last failed cycle")):
            yield gauge(f"risk_cycle_{name}_timestamp_seconds", f"When the {which} ended",
                        (cycle.get(name) or {}).get(key))
        yield gauge("risk_cycle_failed_in_a_row", "Cycles in a row that failed",
                    cycle.get("failed_in_a_row", 0) if cycle else None)
        verdict = cycle_verdict(self.state)
        yield gauge("risk_health_ok", "1 when /health's rule finds the cycle healthy",
                    int(verdict.ok) if verdict.recorded else None)
        yield from _drift(gauge, found["drift"])
        yield from _ingestion(gauge, found["ingestion"])
        state = found["alerts"]
        raised = CounterMetricFamily("risk_alerts", "Alerts raised, by event", labels=["event"])
        for event in events.EVENTS:
            raised.add_metric([event], (state.get("raised") or {}).get(event, 0))
        yield raised
        yield gauge("risk_alerts_undelivered", "Alerts not yet delivered on every channel",
                    len(state.get("pending") or []))


def _drift(gauge, decision):
    """The last drift test's statistic, p-value and effect (the loss's relative rise)."""
    if decision is None:
        return
    labels = {"test": decision.used or "unknown"}
    for name, value, text in (
            ("statistic", decision.statistic, "statistic"), ("p_value", decision.p_value,
                                                             "p-value"),
            ("effect", decision.relative_rise, "effect: the mean log-loss's relative rise"),
            ("f1", decision.new_score, "F1 on the new rows"),
            ("threshold", decision.threshold, "F1 threshold of an F1 test"),
            ("rows", decision.rows, "new rows judged")):
        if value is not None:
            yield gauge(f"risk_drift_last_{name}", f"The last drift test's {text}", value, labels)
    yield gauge("risk_drift_last_detected", "1 when the last drift test found drift",
                int(bool(decision.drift)), labels)
    moment = _epoch(decision.time)
    if moment is not None:
        yield gauge("risk_drift_last_timestamp_seconds", "When the last drift test ran", moment)


def _ingestion(gauge, ingestion):
    """The last ingestion's counts: rows read, accepted, set aside, duplicates, files."""
    if ingestion is None:
        return
    s = ingestion.summary
    for key, text in INGEST.items():
        if isinstance(s.get(key), (int, float)):
            yield gauge(f"risk_ingest_last_{key}", f"The last ingestion's {text}", s[key])
    if isinstance(s.get("rows_read"), int) and isinstance(s.get("rows_rejected"), int):
        yield gauge("risk_ingest_last_rows_accepted", "The last ingestion's rows accepted",
                    s["rows_read"] - s["rows_rejected"])
    moment = _epoch(ingestion.run.get("finished") or ingestion.run.get("started"))
    if moment is not None:
        yield gauge("risk_ingest_last_timestamp_seconds", "When the last ingestion ended", moment)


def _epoch(text: str | None) -> float | None:
    """A recorded ISO-8601 time as seconds since the epoch."""
    from datetime import UTC, datetime

    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
