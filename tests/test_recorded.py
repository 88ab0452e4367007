"""Reading the history in one place (pipeline.core.recorded): each question asked one way, and
no other module writes SQL."""

from __future__ import annotations

import ast

from pipeline.core import recorded
from pipeline.core.history import History
from tests.helpers import PROJECT

LOSS = {"test": "loss", "used": "loss", "drift": True, "new_loss": 0.9, "reference_loss": 0.5,
        "relative_rise": 0.8, "p_value": 1e-9, "statistic": 7.5, "rows": 400,
        "action": "redeploy", "reason": "loss drift"}


def _cycle(history: History, config: str, detail: dict | None, *, deploy: int | None = None,
           refused: bool = False, status: str = "ok") -> int:
    """One cycle's records as cycle.steps writes them (through History, no SQL)."""
    run = history.start_run("fullprocess", config)
    if detail is None:
        history.record_metrics(run, "drift", {"new_rows": 3, "new_exits": 0, "tested": 0})
    else:
        history.record_metrics(run, "drift", {"new_f1": 0.5, "drift": detail["drift"],
                                              "statistic": detail["statistic"]}, detail)
    if deploy is not None:
        history.insert("deployments", {"run_id": run, "time": "2026-01-01T00:00:00",
                                       "action": "deploy", "version": deploy,
                                       "model_sha256": "ab", "f1": 0.6, "data_files": "[]"})
    if refused:
        history.record_metrics(run, "fullprocess", {recorded.REFUSED: 1},
                               {"retrained_f1": 0.4, "deployed_f1": 0.6, "version": 2})
    history.finish_run(run, status, "summary", 0.1)
    return run


def test_a_cycles_own_records_are_told_apart_from_earlier_ones_and_other_configs(tmp_path):
    history = History(tmp_path / "history.sqlite")
    _cycle(history, "config.json", LOSS, deploy=2)
    before = recorded.last_run_id(history)
    _cycle(history, "config.practice.json", dict(LOSS, drift=False), deploy=9)
    run = _cycle(history, "config.json", dict(LOSS, drift=False, p_value=0.4), refused=True)
    facts = recorded.cycle_facts(history, "config.json", before)
    assert [r["id"] for r in facts.runs] == [run]
    assert facts.deployed == []  # version 2 was an earlier cycle's, version 9 another config's
    assert facts.decision.drift is False and facts.decision.p_value == 0.4
    assert facts.refused == {"retrained_f1": 0.4, "deployed_f1": 0.6, "version": 2}
    assert recorded.cycle_facts(history, "config.json", run).runs == []


def test_the_last_drift_test_is_the_newest_that_judged_for_this_config(tmp_path):
    history = History(tmp_path / "history.sqlite")
    _cycle(history, "config.json", dict(LOSS, statistic=1.0))
    _cycle(history, "config.json", dict(LOSS, statistic=2.0, drift=False))
    _cycle(history, "config.json", None)  # too little data: not a test
    _cycle(history, "config.practice.json", dict(LOSS, statistic=3.0))
    last = recorded.last_drift_test(history, "config.json")
    assert (last.statistic, last.drift, last.used, last.rows) == (2.0, False, "loss", 400)
    decisions = recorded.drift_decisions(history, "config.json")
    assert [d.statistic for d in decisions] == [1.0, 2.0, None]
    assert decisions[-1].outcome == "not tested: too little new data"
    assert recorded.last_drift_test(History(tmp_path / "none.sqlite"), "config.json") is None


def test_the_latest_ingestion_falls_back_to_another_config_only_when_asked(tmp_path):
    history = History(tmp_path / "history.sqlite")
    with history.run("ingestion", "config.practice.json") as run:
        run.summary = {"rows_read": 5, "rows_rejected": 1}
    history.insert("ingested_files", {"run_id": run.id, "name": "a.csv", "status": "ingested"})
    assert recorded.latest_ingestion(history, "config.json") is None
    found = recorded.latest_ingestion(history, "config.json", any_config=True)
    assert found.summary == {"rows_read": 5, "rows_rejected": 1}
    assert [f["name"] for f in found.files] == ["a.csv"]
    assert recorded.latest_ingestion(history, "config.practice.json",
                                     with_files=False).files == []


def _sql_writers() -> dict[str, int]:
    """Modules outside pipeline.core.history and .recorded with a string of SQL in them (a
    History.query() call needs one). The API's own store of sessions and wrong tokens
    (pipeline.api.authstore) is another database, not the history, and keeps its SQL."""
    found = {}
    for path in PROJECT.rglob("*.py"):
        parts = path.relative_to(PROJECT).parts
        if parts[0] in ("tests", ".venv", "bench") or path.name in ("history.py", "recorded.py") \
                or parts == ("pipeline", "api", "authstore.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            sql = isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                node.value.lstrip().startswith(("SELECT ", "INSERT INTO ", "UPDATE ",
                                                "DELETE FROM ", "CREATE "))
            if sql:
                found[str(path.relative_to(PROJECT))] = node.lineno
                break
    return found


def test_no_module_but_the_historys_own_writes_sql():
    assert _sql_writers() == {}
