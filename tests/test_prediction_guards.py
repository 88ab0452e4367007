"""/prediction by GET as guarded as by POST: the bearer token and never the session cookie, no
kept answer in front of Flask, and a 4xx with a reason (never a 500) for odd values, forms and
query strings."""

from __future__ import annotations

import gc
import warnings

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app import create_app
from pipeline.api.answers import KeptAnswers
from pipeline.api.auth import SESSION_COOKIE, api_call_allowed
from pipeline.api.state import api_state
from tests.helpers import copy_project, counting_views, token_config

TOKEN = "pr3diction-token"
QUERY = {"filename": "testdata/testdata.csv"}


@pytest.fixture(scope="module")
def project(tmp_path_factory, redeployed_template):
    """Version 2 of a project, shared by the tests here (they only read it)."""
    return copy_project(redeployed_template, tmp_path_factory.mktemp("guards"))


@pytest.fixture(scope="module")
def guarded(project):
    """A test client of the app with a bearer token configured, and a valid session cookie."""
    client = create_app(token_config(project.root, TOKEN)).test_client()
    client.set_cookie(SESSION_COOKIE, api_state(client.application).auth.new_session())
    return client


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_the_cookie_alone_never_computes_predictions(guarded, method):
    assert guarded.get("/scoring").status_code == 200  # the control: the cookie reads the API
    response = guarded.open("/prediction", method=method, query_string=QUERY)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    ok = guarded.open("/prediction", method=method, query_string=QUERY,
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_a_doubled_slash_does_not_slip_the_cookie_through(guarded):
    response = guarded.get("//prediction", query_string=QUERY, follow_redirects=True)
    assert response.status_code == 401


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT"])
def test_the_rule_itself_asks_the_bearer_token_for_prediction(guarded, method):
    auth = api_state(guarded.application).auth
    cookie = auth.new_session()
    assert not api_call_allowed(auth, method, "/prediction", None, cookie, "192.0.2.1")
    assert api_call_allowed(auth, method, "/prediction", f"Bearer {TOKEN}", cookie, "192.0.2.1")
    assert api_call_allowed(auth, "GET", "/scoring", None, cookie, "192.0.2.1")  # the control


def test_prediction_by_get_is_computed_by_flask_every_time(project):
    app = create_app(project.config_path)
    client = app.test_client()
    first = client.get("/prediction", query_string=QUERY)
    assert first.status_code == 200
    calls = counting_views(app)
    assert client.get("/prediction", query_string=QUERY).data == first.data
    assert client.get("/prediction", json=QUERY).data == first.data  # no query string
    assert calls == ["api.prediction", "api.prediction"]


def test_the_kept_answers_refuse_to_keep_prediction():
    answers = KeptAnswers()
    answers.keep("/prediction", lambda: (1,), (1,), b"{}", "application/json")
    answers.keep("/scoring", lambda: (1,), (1,), b"{}", "application/json")  # the control
    for path, found in (("/prediction", False), ("/scoring", True)):
        environ = EnvironBuilder(path=path).get_environ()
        assert (answers.find(environ, None) is not None) is found, path


ODD = {
    "lone surrogate in JSON": dict(data=b'{"filepath": "testdata/\\ud800.csv"}',
                                   content_type="application/json"),
    "lone low surrogate in JSON": dict(data=b'{"path": "\\udcff.csv"}',
                                       content_type="application/json"),
    "lone surrogate as a JSON key": dict(data=b'{"\\ud800": 1, "file": "testdata/x.csv"}',
                                         content_type="application/json"),
    "lone surrogate in a record": dict(
        data=b'{"records": [{"lastmonth_activity": "\\ud800", "lastyear_activity": 1, '
             b'"number_of_employees": 2}]}', content_type="application/json"),
    "lone surrogate in dataframe_records": dict(
        data=b'{"dataframe_records": [{"lastmonth_activity": 1, "lastyear_activity": '
             b'"1\\udfff", "number_of_employees": 2}]}', content_type="application/json"),
    "lone surrogate in dataframe_split data": dict(
        data=b'{"dataframe_split": {"columns": ["lastmonth_activity", "lastyear_activity", '
             b'"number_of_employees"], "data": [["\\udbff", 2, 3]]}}',
        content_type="application/json"),
    "lone surrogate as a dataframe_split column": dict(
        data=b'{"dataframe_split": {"columns": ["\\ud800", "lastmonth_activity", '
             b'"lastyear_activity", "number_of_employees"], "data": [["x", 1, 2, 3]]}}',
        content_type="application/json"),
    "lone surrogate as a record's key": dict(
        data=b'{"records": [{"lastmonth_activity": 1, "lastyear_activity": 1, '
             b'"number_of_employees": 2, "\\ud800": 1}]}', content_type="application/json"),
    "lone surrogate as raw bytes in JSON": dict(data=b'{"filepath": "testdata/\xed\xa0\x80.csv"}',
                                                content_type="application/json"),
    "non-UTF-8 form": dict(data=b"path=testdata/\xff.csv",
                           content_type="application/x-www-form-urlencoded"),
    "percent-encoded non-UTF-8 form": dict(data=b"path=%ff%ed%a0%80.csv",
                                           content_type="application/x-www-form-urlencoded"),
    "form without a value": dict(data=b"path", content_type="application/x-www-form-urlencoded"),
    "form of separators": dict(data=b"&&==&;", content_type="application/x-www-form-urlencoded"),
    "multipart without a boundary": dict(data=b"x", content_type="multipart/form-data"),
    "multipart with a wrong boundary": dict(data=b"--y\r\n\r\nz\r\n--y--\r\n",
                                            content_type="multipart/form-data; boundary=x"),
    "multipart cut short": dict(
        data=b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n1,2',
        content_type="multipart/form-data; boundary=x"),
    "multipart with a non-UTF-8 name": dict(
        data=b'--x\r\nContent-Disposition: form-data; name="\xff"; filename="\xfe.csv"\r\n\r\n'
             b"1\r\n--x--\r\n", content_type="multipart/form-data; boundary=x"),
    "percent-encoded non-UTF-8 query": dict(query_string="path=%ff%ed%a0%80.csv"),
    "a key given 5000 times": dict(query_string="&".join(["path=a.csv"] * 5000)),
    "an empty value": dict(query_string="filepath="),
    "a value of spaces": dict(query_string="file=%20%20"),
    "a NUL": dict(query_string="file=testdata/testdata.csv%00.txt"),
}


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", list(ODD))
def test_odd_values_forms_and_queries_get_a_4xx_with_a_reason(project, name, method):
    client = create_app(project.config_path).test_client()
    response = getattr(client, method)("/prediction", **ODD[name])
    assert 400 <= response.status_code < 500, (name, response.status_code)
    assert response.is_json and response.get_json()["error"], name
    assert len(response.data) < 2000, name  # values are not echoed whole
    if "surrogate" in name:  # wherever it is, the reason is the same
        assert "lone surrogate" in response.get_json()["error"], name


@pytest.mark.parametrize("path", ["/prediction", "/risk"])
def test_a_query_string_that_is_not_utf8_is_400(project, path):
    app = create_app(project.config_path)
    environ = EnvironBuilder(path=path).get_environ()
    environ["QUERY_STRING"] = "path=\xff\xfe.csv"  # raw bytes, as a server may hand them over
    body, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("400"), status
    assert b"not UTF-8" in b"".join(body)


@pytest.mark.parametrize("path", ["/prediction", "/signin"])
def test_a_form_cut_short_mid_file_leaves_no_file_open(project, path):
    """Werkzeug reads a broken form as an empty one, dropping the files it began; the app's
    request closes them (pipeline.api.hooks.Request)."""
    client = create_app(project.config_path).test_client()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.post(path, data=ODD["multipart cut short"]["data"],
                               content_type=ODD["multipart cut short"]["content_type"])
        del response
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
