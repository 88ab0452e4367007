"""/prediction guarded whatever the method: the bearer token and never the session cookie, and
no kept answer in front of Flask."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder

from pipeline.api.answers import KeptAnswers
from pipeline.api.auth import api_call_allowed, new_session

TOKEN = "pr3diction-token"


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT"])
def test_the_rule_itself_asks_the_bearer_token_for_prediction(method):
    cookie = new_session(TOKEN)
    assert not api_call_allowed(TOKEN, method, "/prediction", None, cookie)
    assert api_call_allowed(TOKEN, method, "/prediction", f"Bearer {TOKEN}", cookie)
    assert api_call_allowed(TOKEN, "GET", "/scoring", None, cookie)  # the control


def test_the_kept_answers_refuse_to_keep_prediction():
    answers = KeptAnswers()
    answers.keep("/prediction", lambda: (1,), (1,), b"{}", "application/json")
    answers.keep("/scoring", lambda: (1,), (1,), b"{}", "application/json")  # the control
    for path, found in (("/prediction", False), ("/scoring", True)):
        environ = EnvironBuilder(path=path).get_environ()
        assert (answers.find(environ, None) is not None) is found, path
