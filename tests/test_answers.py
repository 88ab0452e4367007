"""Kept answers served in front of Flask (pipeline.api.answers): the same bytes Flask would send,
only while what they were computed from is unchanged, and only to callers who may read them."""

from __future__ import annotations

import os

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app import create_app
from deployment import rollback
from pipeline.api.auth import SESSION_COOKIE
from pipeline.api.state import api_state
from tests.helpers import counting_views, token_config

TOKEN = "kept-answers-t0ken"


def test_a_kept_answer_is_the_same_response_without_flask(client, app):
    first = client.get("/scoring")
    assert first.status_code == 200
    calls = counting_views(app)
    again = client.get("/scoring")
    assert calls == [], "Flask ran the view although the answer was kept"
    assert (again.status, again.headers.to_wsgi_list(), again.data) == \
        (first.status, first.headers.to_wsgi_list(), first.data)
    # Flask's after_request does not run for it: the kept answer carries the headers itself.
    assert again.headers["Cache-Control"] == "no-store"
    assert again.headers["X-Content-Type-Options"] == "nosniff"


def test_a_changed_test_file_or_deployment_goes_back_to_flask(client, app, redeployed):
    first = client.get("/scoring").get_json()
    calls = counting_views(app)
    stat = os.stat(redeployed.test_file)
    os.utime(redeployed.test_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert client.get("/scoring").get_json() == first  # same scores, computed again
    assert calls == ["api.scoring"]
    assert client.get("/scoring").get_json() == first and calls == ["api.scoring"]
    rollback(redeployed)
    assert client.get("/scoring").get_json()["model_version"] == 1
    assert calls == ["api.scoring", "api.scoring"]


@pytest.mark.parametrize("how", ["in place", "replaced"])
def test_a_test_file_changed_with_its_size_and_time_kept_goes_back_to_flask(client, app,
                                                                             redeployed, how):
    """cp -p, rsync -a and tar restore the modification time; the size can stay the same."""
    first = client.get("/scoring").get_json()
    path = redeployed.test_file
    before = os.stat(path)
    text = path.read_text()
    flipped = text.replace(",1\n", ",X\n").replace(",0\n", ",1\n").replace(",X\n", ",0\n")
    assert len(flipped) == len(text) and flipped != text
    target = path if how == "in place" else path.with_name("new.csv")
    target.write_text(flipped)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    if how == "replaced":
        os.replace(target, path)
    assert os.stat(path).st_size == before.st_size
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    calls = counting_views(app)
    again = client.get("/scoring").get_json()
    assert calls == ["api.scoring"] and again["f1"] != first["f1"]


@pytest.mark.parametrize("remove", ["test file", "current link"])
def test_what_a_kept_answer_came_from_removed_is_flasks_503(client, redeployed, remove):
    assert client.get("/scoring").status_code == 200
    if remove == "test file":
        redeployed.test_file.unlink()
    else:
        (redeployed.deployment_folder / "current").unlink()
    response = client.get("/scoring")
    assert response.status_code == 503 and response.get_json()["error"]


def test_a_tampered_model_is_refused_by_flask_not_served_from_the_kept_answer(client, redeployed):
    assert client.get("/scoring").status_code == 200
    path = (redeployed.deployment_folder / "trainedmodel.pkl").resolve()
    path.write_bytes(path.read_bytes() + b"junk")
    response = client.get("/scoring")
    assert response.status_code == 503 and "checksum" in response.get_json()["error"]


@pytest.mark.parametrize("method, path, flask_answer", [
    ("HEAD", "/scoring", 200), ("GET", "/scoring?x=1", 200), ("POST", "/scoring", 405),
    ("GET", "/scoring/", 404)])
def test_other_methods_paths_and_query_strings_go_to_flask(client, app, method, path,
                                                           flask_answer):
    client.get("/scoring")
    calls = counting_views(app)
    response = client.open(path, method=method)
    assert response.status_code == flask_answer
    assert calls == (["api.scoring"] if flask_answer == 200 else [])
    if method == "POST":
        assert response.get_json()["error"]  # Flask's JSON error, not the kept answer


def test_with_a_token_only_callers_who_may_read_get_the_kept_answer(redeployed):
    app = create_app(token_config(redeployed.root, TOKEN))
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    kept = client.get("/scoring", headers=bearer)
    assert kept.status_code == 200
    calls = counting_views(app)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = client.get("/scoring", headers=headers)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"]
        assert refused.headers["Cache-Control"] == "no-store"
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
    auth = api_state(app).auth
    session = auth.new_session()
    client.set_cookie(SESSION_COOKIE, session[:-1] + ("0" if session[-1] != "0" else "1"))
    assert client.get("/scoring").status_code == 401
    assert calls == []  # refused by the guard, before any view
    again = client.get("/scoring", headers=bearer)
    assert again.data == kept.data and again.headers["Cache-Control"] == "no-store"
    assert again.headers["X-Content-Type-Options"] == "nosniff"
    client.set_cookie(SESSION_COOKIE, session)
    assert client.get("/scoring").data == kept.data
    auth.end_session(session)  # signed out (by any worker): the kept answer is refused too
    assert client.get("/scoring").status_code == 401
    assert calls == []


def test_an_odd_cookie_beside_the_token_is_answered_as_flask_answers_it(redeployed):
    """A cookie that is not UTF-8 (another service on the same host may set one): Flask reads
    the request as it is, so must the layer in front of it (it once raised: a 500)."""
    app = create_app(token_config(redeployed.root, TOKEN))

    def get(headers: dict) -> tuple[str, bytes]:
        # Through WSGI as gunicorn calls it: Flask's test client would drop the Cookie header.
        environ = EnvironBuilder(path="/scoring", headers=headers).get_environ()
        assert environ["HTTP_COOKIE"] == headers["Cookie"]
        body, status, _ = run_wsgi_app(app, environ, buffered=True)
        return status, b"".join(body)

    odd = {"Authorization": f"Bearer {TOKEN}", "Cookie": "other=\xff; risk_session=x"}
    status, kept = get(odd)
    assert status == "200 OK"
    calls = counting_views(app)
    assert get(odd) == ("200 OK", kept) and calls == []
    assert get({"Cookie": "other=\xff"})[0] == "401 UNAUTHORIZED"
