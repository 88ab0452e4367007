"""The pages (pipeline.web) through Flask's test client, on the shipped story: what each shows,
search, sort, pages and CSV, one client, escaping, files, sign-in, errors, caches."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import time
from html import unescape
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app import create_app
from pipeline.api.auth import SESSION_COOKIE, SESSION_SECONDS
from pipeline.api.state import api_state
from pipeline.core.config import load_settings
from pipeline.core.decisions import feature_drift, group_decisions
from pipeline.core.deployed import read_version, version_dirs
from pipeline.core.history import History
from pipeline.core.schema import FEATURES
from pipeline.core.spreadsheet import unprotect_text
from pipeline.report.explain import explain_clients, read_reference
from pipeline.report.risk import read_risk_list
from pipeline.web.routes import client_url
from tests.helpers import (
    HOSTILE,
    add_hostile_clients,
    build_story,
    table_rows,
    token_config,
    watch_opens,
)

TOKEN = "t0ken-for-the-pages"


@pytest.fixture(scope="module")
def story(tmp_path_factory, datasets):
    """Version 2 deployed after drift, with hostile names on the risk list."""
    settings = build_story(tmp_path_factory.mktemp("story"), datasets)
    add_hostile_clients(settings)
    return settings


@pytest.fixture(scope="module")
def client(story):
    return create_app(story.config_path).test_client()


@pytest.fixture
def own_story(story, tmp_path):
    """A copy of the story that a test may change."""
    root = tmp_path / "copy"
    shutil.copytree(story.root, root, symlinks=True)
    return load_settings(root / "config.json")


def risk_list(settings) -> pd.DataFrame:
    """riskscores.csv as the system reads it: its names exact (protected in the file)."""
    return read_risk_list(settings.model_folder)


def page(client, path, status=200) -> str:
    """The HTML of a page (its status checked), entities left as they are."""
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


# The state of the system ---------------------------------------------------------------------

def test_state_page_tells_the_shipped_story(client, story):
    html = page(client, "/")
    story_text = re.search(r'<p class="story">(.*?)</p>', html, re.S).group(1)
    assert "Version 2</strong> is deployed" in story_text
    assert "loss drift: deployed version 2" in story_text
    assert re.search(r"<strong>loss</strong> test found a mean log-loss of 0\.96\d+ on the new "
                     r"data against 0\.56\d+ at deployment \(\+\d+\.\d%, p [\de.-]+\)",
                     story_text) and ">drift</span>" in story_text
    assert "Healthy: the API serves version 2" in html
    decisions = table_rows(html, "decisions-table")
    assert len(decisions) == 1
    assert decisions[0][2] == "loss" and decisions[0][4].startswith("drift")
    figures = re.sub(r"\s+", "", decisions[0][3])
    assert figures.startswith("newloss0.96") and "referenceloss0.56" in figures  # first
    assert "p-value" in figures and "statistic" in figures
    for text in ("v1", "v2", "first model: deployed version 1", "dataset3.csv", "dataset4.csv",
                 "extract.csv", "unlabelled: no exited column",
                 "16,119 rows read", "500 exact duplicates dropped", "last month's activity",
                 "KS p-value", "Missing values in finaldata.csv"):
        assert text in unescape(html), text
    for link in ("/files/report.pdf", "/files/confusionmatrix.png", "/openapi.json",
                 "/charts/scores.svg"):
        assert f'"{link}"' in html, link
    assert "apireturns.txt): not written yet" in html  # the story ran without calling the API


def test_the_score_chart_is_an_svg_drawn_once_per_history(client, story):
    first = client.get("/charts/scores.svg")
    assert first.status_code == 200 and first.mimetype == "image/svg+xml"
    svg = first.get_data(as_text=True)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert ">v1<" in svg and ">v2<" in svg
    again = client.get("/charts/scores.svg", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_every_recorded_decision_shows_whatever_figures_it_has(own_story):
    history = History(own_story.history_db)
    run = history.start_run("fullprocess", "config.json")
    history.record_metrics(run, "drift", {"statistic": 3.2, "p_value": 0.0004, "drift": 1}, {
        "test": "welch", "statistic": 3.2, "p_value": 0.0004, "effect_size": {"cohen_d": 0.61},
        "used": "welch", "drift": True, "threshold": 0.05, "alpha": 0.01})
    run2 = history.start_run("fullprocess", "config.json")
    history.record_metrics(run2, "drift", {"new_rows": 7, "new_exits": 0, "tested": 0})
    run3 = history.start_run("fullprocess", "config.json")
    history.insert("metrics", {"run_id": run3, "time": "2030-01-01T00:00:00+00:00",
                               "stage": "drift", "name": "odd", "value": None,
                               "detail": "not json {"})
    other = history.start_run("fullprocess", "config.practice.json")  # another config's
    history.record_metrics(other, "drift", {"drift": 1}, {"test": "practice-only-test"})
    html = page(create_app(own_story.config_path).test_client(), "/")
    assert "practice-only-test" not in html
    for text in ("welch", "statistic", "3.2", "p-value", "0.0004", "effect size: cohen d",
                 "0.61", "alpha", "not tested: too little new data", "new rows", "odd"):
        assert text in html, text
    all_of_them = page(create_app(own_story.config_path).test_client(), "/decisions")
    assert all_of_them.count('<span class="outcome') == 4


@pytest.mark.parametrize("rows, test, outcome, figures", [
    ([{"run_id": 1, "time": "t", "name": "new_f1", "value": 0.39, "detail": json.dumps(
        {"test": "parametric", "used": "raw", "new_score": 0.39, "threshold": 0.44,
         "drift": True, "note": "fell back"})}], "raw (asked for parametric)", "drift",
     {"new_score", "threshold"}),
    ([{"run_id": 2, "time": "t", "name": "drift", "value": 0.0, "detail": None},
      {"run_id": 2, "time": "t", "name": "new_f1", "value": 0.5, "detail": None}],
     "–", "no drift", {"new_f1"}),
    ([{"run_id": 3, "time": "t", "name": "x", "value": 1.0, "detail": "[1, 2]"}], "–",
     "unknown", {"x"}),
    ([{"run_id": 4, "time": "t", "name": "ks", "value": 0.2, "detail": json.dumps(
        {"test": "ks", "decision": "retrain", "nested": {"a": [1, 2], "b": None}})}],
     "ks", "retrain", {"nested.a", "nested.b"}),
])
def test_decisions_are_read_from_old_new_and_broken_records(rows, test, outcome, figures):
    (decision,) = group_decisions(rows)
    assert decision.test == test and decision.outcome == outcome
    assert figures <= {name for name, _ in decision.figures}


def test_data_drift_is_grouped_by_feature_and_judged_by_the_monitors_rules():
    rows = [{"name": "lastmonth_activity_psi", "value": 0.3},
            {"name": "lastmonth_activity_ks_pvalue", "value": 0.5},
            {"name": "lastyear_activity_psi", "value": 0.01},
            {"name": "lastyear_activity_ks_pvalue", "value": 0.5},
            {"name": "number_of_employees_wasserstein", "value": 3.0}]
    found = {f.feature: f for f in feature_drift(rows, psi_alert=0.2, p_alert=0.01)}
    assert found["lastmonth_activity"].alert is True
    assert found["lastyear_activity"].alert is False
    assert found["number_of_employees"].alert is None
    assert found["number_of_employees"].figures == [("wasserstein", 3.0)]


def test_rows_set_aside_and_diagnostics_are_shown_with_their_reasons(own_story):
    from ingestion import run_ingestion

    (own_story.input_folder / "late.csv").write_text(
        "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
        "<b>bad</b>,-3,10,5,0\nfine,1,2,3,0\nworse,x,10,5,7\n", encoding="utf-8")
    (own_story.input_folder / "empty.csv").write_text("", encoding="utf-8")
    run_ingestion(own_story)
    (own_story.model_folder / "diagnostics.json").write_text(json.dumps({
        "measured_at": "2030-01-02T03:04:05+00:00", "model_version": 2,
        "execution_time": {"ingestion": 0.5, "training": 1.25, "scoring": 0.75},
        "missing_data": {"corporation": 0.0, "exited": 0.125},
        "outdated_packages": [{"name": "numpy", "pinned": "2.4.6", "installed": "2.4.6",
                               "latest": "2.5.5"}]}), encoding="utf-8")
    html = page(create_app(own_story.config_path).test_client(), "/")
    text = unescape(html)
    assert "2 rows and 1 whole files set aside" in text
    for expected in ("late.csv", "empty.csv", "lastmonth_activity is negative", "1.25",
                     "12.50%", "2030-01-02 03:04 UTC", "outdated", "2.5.5"):
        assert expected in text, expected
    assert "&lt;b&gt;bad&lt;/b&gt;" in html and "<b>bad</b>" not in html


def test_the_clients_page_tells_the_story_too(client):
    html = unescape(page(client, "/clients"))
    assert "Version 2 is deployed" in re.sub(r"<[^>]+>", "", html)
    assert "loss drift: deployed version 2" in html and ">drift</span>" in html


# Whom to call --------------------------------------------------------------------------------

def test_clients_are_listed_as_riskscores_ranks_them_fifty_a_page(client, story):
    written = risk_list(story)
    rows = table_rows(page(client, "/clients"))
    assert len(rows) == 50
    assert [r[1] for r in rows] == written["corporation"].head(50).tolist()
    assert [r[0] for r in rows] == [str(n) for n in range(1, 51)]
    assert [float(r[2]) for r in rows] == pytest.approx(written["probability"].head(50), abs=5e-4)
    second = table_rows(page(client, "/clients?page=2"))
    assert [r[1] for r in second] == written["corporation"].iloc[50:100].tolist()
    pages = math.ceil(len(written) / 50)
    assert f"Page 1 of {pages}" in page(client, "/clients")
    last = table_rows(page(client, f"/clients?page={pages + 40}"))  # clamped to the last page
    assert [r[1] for r in last] == written["corporation"].iloc[(pages - 1) * 50:].tolist()


def test_each_row_shows_the_figures_behind_the_risk_and_the_top_factor(client, story):
    written = risk_list(story).set_index("corporation")
    for row in table_rows(page(client, "/clients?page=3")):
        r = written.loc[row[1]]
        assert row[3] == str(r["lastmonth_activity"])
        assert row[4] == f"{r['lastyear_activity'] / 12:.1f}"
        assert row[6] == str(r["number_of_employees"])
        assert row[7] == {"": "none", "lastmonth_activity": "last month's activity",
                          "lastyear_activity": "last year's activity",
                          "number_of_employees": "employees"}[r["top_factor"]]
        if r["top_factor"]:
            odds = math.exp(r["top_contribution"])
            assert float(row[8].replace(",", "")) == pytest.approx(odds, rel=0.01, abs=0.01)


@pytest.mark.parametrize("query", ["sw", "SW", "a", "zzzzz", " ç", "<script>"])
def test_search_finds_every_name_containing_the_text_in_any_case(client, story, query):
    written = risk_list(story)
    expected = written[written["corporation"].str.lower().str.contains(
        query.strip().lower(), regex=False)]
    html = page(client, "/clients?" + f"q={quote(query)}")
    rows = table_rows(html)
    if len(expected) == 0:
        assert rows == [["No client matches."]]
    else:
        assert [r[1] for r in rows] == expected["corporation"].head(50).tolist()
    assert f"{len(expected):,} of {len(written):,} clients match" in html


@pytest.mark.parametrize("key, column, cell", [
    ("employees", "number_of_employees", 6), ("lastmonth", "lastmonth_activity", 3),
    ("probability", "probability", 2), ("monthly", "lastyear_activity", 4),
])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorting_by_a_column_orders_every_page(client, story, key, column, cell, direction):
    written = risk_list(story)
    expected = written.assign(_key=written[column] * (1 if direction == "asc" else -1)) \
        .sort_values(["_key", "rank"], kind="mergesort")
    for number in (1, 4):
        rows = table_rows(page(client, f"/clients?sort={key}&dir={direction}&page={number}"))
        assert [r[1] for r in rows] == \
            expected["corporation"].iloc[(number - 1) * 50:number * 50].tolist()
    html = page(client, f"/clients?sort={key}&dir={direction}")
    assert f'aria-sort="{"ascending" if direction == "asc" else "descending"}"' in html


def test_sorting_by_name_and_change_and_unknown_keys(client, story):
    written = risk_list(story)
    rows = table_rows(page(client, "/clients?sort=corporation&dir=asc"))
    names = written["corporation"].tolist()
    assert [r[1] for r in rows] == sorted(names, key=str.lower)[:50]
    ratio = written["lastmonth_activity"] / (written["lastyear_activity"] / 12) - 1
    rows = table_rows(page(client, "/clients?sort=change&dir=asc"))
    assert [r[1] for r in rows] == written.assign(r=ratio).sort_values(
        ["r", "rank"], kind="mergesort")["corporation"].head(50).tolist()
    for wrong in ("sort=evil&dir=sideways", "sort=rank&page=-3", "page=%F0%9F%98%80", "q=" +
                  "x" * 5000):
        assert table_rows(page(client, "/clients?" + wrong))


def test_the_csv_download_is_exactly_the_rows_shown(client):
    for query in ("", "q=a&sort=employees&dir=desc&page=2", "q=zzzz", "sort=factor&page=3"):
        html = page(client, "/clients?" + query)
        shown = table_rows(html)
        link = re.search(r'class="download" href="([^"]+)"', html).group(1).replace("&amp;", "&")
        response = client.get(link)
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert rows[0][:3] == ["Rank", "Corporation", "Probability"]
        body = [[unprotect_text(c) if i in (1, 7) else c for i, c in enumerate(r)]  # the text
                for r in rows[1:]]
        assert body == ([] if shown == [["No client matches."]] else shown)


def test_a_name_a_spreadsheet_would_run_is_written_as_text_in_the_csv(client):
    rows = list(csv.reader(io.StringIO(client.get("/clients.csv?q=hyperlink").get_data(
        as_text=True))))
    assert rows[1][1] == "'=HYPERLINK(\"http://127.0.0.1\")"


# One client ----------------------------------------------------------------------------------

def test_a_clients_page_shows_its_records_versions_and_explanation(client, story):
    written = risk_list(story)
    name = written["corporation"].iloc[10]
    html = page(client, client_url(name))
    final = pd.read_csv(story.output_folder / "finaldata.csv", dtype={"corporation": str},
                        keep_default_na=False)
    # Every current client of the story is in the unlabelled extract, after its labelled row.
    extract = pd.read_csv(story.input_folder / "extract.csv", dtype={"corporation": str},
                          keep_default_na=False)
    records = pd.concat([final[final["corporation"] == name].astype(str),
                         extract[extract["corporation"] == name].astype(str).assign(
                             exited="not known yet")])
    shown = table_rows(html, "records-table")
    assert len(records) == 2
    assert [r[:5] for r in shown] == records.to_numpy().tolist()
    assert shown[1][5] == "extract.csv"
    latest = extract.loc[extract["corporation"] == name, list(FEATURES)]
    for number, folder in version_dirs(story.deployment_folder).items():
        probability = read_version(folder).load_model().predict_proba(latest)[0, 1]
        assert re.search(rf"v{number}\b.*?{probability:.3f}", html, re.S), number
    assert "v2 (deployed now)" in html
    deployed = read_version(version_dirs(story.deployment_folder)[2])
    expected = explain_clients(deployed.load_model(), latest,
                               read_reference(deployed.folder)).iloc[0]
    assert expected["top_factor"] == written["top_factor"].iloc[10]
    top_label = {"lastmonth_activity": "last month's activity",
                 "lastyear_activity": "last year's activity",
                 "number_of_employees": "employees"}[expected["top_factor"]]
    assert f"What raises its risk most is <strong>{top_label}</strong>" in unescape(html)
    for feature in FEATURES:
        assert f"{expected[f'contribution_{feature}']:+.3f}" in html
    assert f"Rank <strong>11</strong> of {len(written):,}" in html


def test_an_unknown_client_is_an_html_404_that_echoes_the_name_as_text(client):
    html = page(client, "/clients/" + quote("<b>nobody</b>", safe=""), status=404)
    assert "&lt;b&gt;nobody&lt;/b&gt;" in html and "<b>nobody</b>" not in html
    assert page(client, "/client", status=404)


@pytest.mark.parametrize("path", ["/clients/a%00b%1b%7f%C2%9b", "/client?name=a%00b%1b%7f%C2%9b",
                                  "/clients?q=a%00b%1b%7f%C2%9b"])
def test_control_characters_a_client_sent_are_shown_escaped_never_raw(client, guarded, path):
    for pages in (guarded, client):  # guarded: the sign-in page keeps the path to go back to
        response = pages.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code in (200, 401, 404) and response.mimetype == "text/html"
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", html), path
    assert "a\\x00b\\x1b\\x7f\\x9b" in html, path  # the 404 or the search: shown escaped


@pytest.mark.parametrize("path", ["/clients", "/clients.csv", "/decisions", "/client", "/"])
def test_a_query_string_that_is_not_utf8_is_an_html_400(client, guarded, path):
    for pages in (client, guarded):  # guarded: the sign-in page would link back to it
        environ = EnvironBuilder(path=path).get_environ()
        environ["QUERY_STRING"] = "q=\xff\xfe"  # raw bytes, as a server may hand them over
        body, status, headers = run_wsgi_app(pages.application, environ, buffered=True)
        assert status.startswith("400") and headers["Content-Type"].startswith("text/html")
        assert b"not UTF-8" in b"".join(body)


def test_hostile_names_render_as_text_everywhere(client, story):
    listing = page(client, "/clients")
    for name in HOSTILE:
        assert str(escape(name)) in listing
        html = page(client, client_url(name))
        assert f'<h1 class="name">{escape(name)}</h1>' in html
    for html in (listing, page(client, client_url(HOSTILE[0])), page(client, client_url(
            HOSTILE[1]))):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<script" not in html.lower()  # the pages carry no script at all
    assert client_url("..") == "/client?name=.."


# Files and paths -----------------------------------------------------------------------------

def test_only_the_linked_files_of_the_model_folder_are_served(client, story):
    with client.get("/files/report.pdf") as response:
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.get_data() == (story.model_folder / "report.pdf").read_bytes()
    with client.get("/files/confusionmatrix.png") as response:
        assert response.mimetype == "image/png"
    allowed = [os.path.realpath(p) for p in (story.model_folder, story.output_folder,
                                             story.deployment_folder, story.test_data,
                                             story.history_db.parent / "history.sqlite")]
    hostile = ["/files/trainedmodel.pkl", "/files/..%2fconfig.json", "/files/%2e%2e%2fconfig.json",
               "/files/latestscore.txt", "/files/%2Fetc%2Fpasswd", "/clients/..%2F..%2Fconfig.json",
               "/clients/%2Fetc%2Fpasswd", "/client?name=/etc/passwd",
               "/client?name=../../../etc/passwd", "/clients/../../etc/passwd",
               "/charts/..%2f..%2fconfig.json", "/files/report.pdf%00.txt", "/files/",
               "/decisions?page=../../etc/passwd"]
    for path in hostile:
        with watch_opens() as opened:
            response = client.get(path)
            response.close()
        assert response.status_code in (200, 308, 404), path
        outside = [p for p in opened if not any(p.startswith(a) for a in allowed)
                   and "site-packages" not in p and "/pipeline/web/" not in p]
        assert outside == [], (path, outside)
        assert b"root:" not in response.get_data()


def test_the_linked_files_name_their_charset_once_and_are_not_stored(client, story):
    (story.model_folder / "apireturns.txt").write_text("{}\n", encoding="utf-8")
    for name in ("apireturns.txt", "report.pdf"):
        with client.get(f"/files/{name}") as response:
            assert response.status_code == 200
            assert response.headers.getlist("Content-Type") == [
                {"apireturns.txt": "text/plain; charset=utf-8",
                 "report.pdf": "application/pdf"}[name]]
            assert response.headers["Cache-Control"] == "no-store"  # the report names clients
            assert "Date" not in response.headers  # the server's own: it would be sent twice


def test_a_linked_file_that_leads_outside_the_model_folder_is_refused(own_story, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    target = own_story.model_folder / "apireturns.txt"
    target.unlink(missing_ok=True)
    target.symlink_to(secret)
    response = create_app(own_story.config_path).test_client().get("/files/apireturns.txt")
    assert response.status_code == 403 and b"secret" not in response.get_data()


# Sign-in -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guarded(story):
    return create_app(token_config(story.root, TOKEN)).test_client()


def test_with_a_token_every_page_asks_to_sign_in(guarded):
    for path in ("/", "/clients", "/clients.csv", "/clients/swoi", "/charts/scores.svg",
                 "/files/report.pdf", "/decisions", "/client?name=swoi"):
        response = guarded.get(path)
        assert response.status_code == 401, path
        html = response.get_data(as_text=True)
        assert response.mimetype == "text/html" and '<form class="signin"' in html
        assert "swoi" not in html.replace('value="/clients/swoi"', "").replace(
            'value="/client?name=swoi"', "")
    assert guarded.get("/risk").is_json and guarded.get("/risk").status_code == 401


def test_signing_in_sets_a_strict_httponly_cookie_that_is_not_the_token(guarded):
    guarded.delete_cookie(SESSION_COOKIE)
    wrong = guarded.post("/signin", data={"token": "nope", "next": "/clients"})
    assert wrong.status_code == 401 and "That is not the token." in wrong.get_data(as_text=True)
    assert "Set-Cookie" not in wrong.headers
    right = guarded.post("/signin", data={"token": TOKEN, "next": "/clients?page=2"})
    assert right.status_code == 303 and right.headers["Location"] == "/clients?page=2"
    cookie = right.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Path=/" in cookie
    assert TOKEN not in cookie
    assert guarded.get("/clients").status_code == 200
    assert guarded.get("/scoring").status_code == 200  # the API reads with the cookie...
    assert guarded.post("/prediction", json={"records": [
        {"lastmonth_activity": 1, "lastyear_activity": 2, "number_of_employees": 3}]}
    ).status_code == 401  # ...but never predicts with it
    assert b"Sign out" in guarded.get("/").get_data()
    out = guarded.post("/signout")
    assert out.status_code == 303 and f"{SESSION_COOKIE}=;" in out.headers["Set-Cookie"]
    assert guarded.get("/clients").status_code == 401


def test_behind_a_tls_proxy_the_cookie_is_secure(guarded):
    plain = guarded.post("/signin", data={"token": TOKEN})
    assert "Secure" not in plain.headers["Set-Cookie"]  # http://127.0.0.1:8000 must still work
    proxied = guarded.post("/signin", data={"token": TOKEN},
                           headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in proxied.headers["Set-Cookie"]
    guarded.delete_cookie(SESSION_COOKIE)


def test_the_bearer_token_opens_the_pages_too(guarded):
    guarded.delete_cookie(SESSION_COOKIE)
    response = guarded.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and b"Sign out" not in response.get_data()


def _cookie(kind: str, guarded, story, monkeypatch) -> str:
    """A cookie value that must not open the pages."""
    auth = api_state(guarded.application).auth
    if kind == "another token":  # opened by the same project's server under another token
        monkeypatch.setenv("RISK_API_TOKEN", "another-token-of-16-chars")
        return api_state(create_app(story.config_path)).auth.new_session()
    if kind == "expired":  # opened 12 hours and a second ago
        now, auth.clock = auth.clock, lambda: time.time() - SESSION_SECONDS - 1
        try:
            return auth.new_session()
        finally:
            auth.clock = now
    if kind == "tampered":
        value = auth.new_session()
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    return kind


@pytest.mark.parametrize("kind", ["", "garbage", "1.2.3", f"{2**40}.abc", "another token",
                                  "expired", "tampered"])
def test_a_forged_expired_or_foreign_cookie_is_refused(guarded, story, monkeypatch, kind):
    guarded.set_cookie(SESSION_COOKIE, _cookie(kind, guarded, story, monkeypatch))
    assert guarded.get("/").status_code == 401
    assert guarded.get("/scoring").status_code == 401
    guarded.delete_cookie(SESSION_COOKIE)


@pytest.mark.parametrize("target", ["//127.0.0.2/x", "http://127.0.0.2/", "/\\127.0.0.2",
                                    "javascript:alert(1)", " /clients", "/a b"])
def test_signing_in_never_sends_people_elsewhere(guarded, target):
    response = guarded.post("/signin", data={"token": TOKEN, "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"


# Errors, headers, caches ---------------------------------------------------------------------

def test_page_errors_are_html_and_api_errors_stay_json(client, story, monkeypatch):
    assert client.get("/risk?top=0").is_json
    assert client.get("/nowhere").is_json
    import pipeline.web.routes as routes

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes.system, "history_facts", boom)
    app = create_app(story.config_path)
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    response = app.test_client().get("/")
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert "secret" not in response.get_data(as_text=True)


def test_pages_without_data_say_so(settings):
    client = create_app(settings.config_path).test_client()
    html = page(client, "/")
    assert "Unhealthy: no model deployed" in html and "No ingestion recorded yet" in html
    assert "No risk list yet" in page(client, "/clients", status=503)
    assert "No ingested data yet" in page(client, "/clients/abcd", status=503)


def test_pages_forbid_scripts_and_framing(client):
    response = client.get("/clients")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", policy)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_lists_are_prepared_once_per_version_of_their_files(own_story, monkeypatch):
    import pipeline.web.tables as tables

    built = []
    original = tables.RiskView.__init__

    def counting(self, frame):
        built.append(len(frame))
        original(self, frame)

    monkeypatch.setattr(tables.RiskView, "__init__", counting)
    client = create_app(own_story.config_path).test_client()
    for path in ("/clients", "/clients?q=a", "/clients?sort=employees", "/clients.csv"):
        client.get(path)
    assert len(built) == 1
    written = risk_list(own_story)
    written.head(10).to_csv(own_story.model_folder / "riskscores.csv", index=False)
    rows = table_rows(page(client, "/clients"))
    assert len(built) == 2 and len(rows) == 10
    assert client.get("/risk?top=50").get_json()["count"] == 10  # /risk shares the cache


def test_an_old_risk_list_without_explanations_still_shows(own_story):
    written = risk_list(own_story)[["corporation", "probability", "rank"]]
    written.to_csv(own_story.model_folder / "riskscores.csv", index=False)
    rows = table_rows(page(create_app(own_story.config_path).test_client(), "/clients"))
    assert rows[0][:3] == ["1", written["corporation"][0], f"{written['probability'][0]:.3f}"]
    assert rows[0][3:] == ["–", "–", "–", "–", "–", ""]
    assert np.isfinite(written["probability"]).all()
