"""Every route, API and pages, fuzzed with hypothesis through WSGI: no input gets a 5xx.

Whatever a client sends, in the path and its segments, the query string (names and values), the
headers (Cookie, Authorization, Content-Type, X-Forwarded-Proto) or the body (JSON values and
keys, forms, multipart, CSV), the answer is no 5xx, a 4xx says why, and no HTML or JSON answer
carries a control character raw (an echo of what was sent). Texts are drawn from all
of Unicode (lone surrogates included) and from raw bytes (what is not UTF-8). The routes come
from the app's own URL map, so a new route is fuzzed without being named here. The number of
cases is bounded (MAX_EXAMPLES) to keep the test to a few seconds.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app import create_app
from pipeline.api.auth import SESSION_COOKIE
from pipeline.api.state import api_state
from pipeline.core.schema import FEATURES
from tests.helpers import copy_project, token_config

TOKEN = "fuzz-t0ken-of-16+chars"
SESSION = "a-session-opened-by-the-app"  # replaced by a real session of the app asked
MAX_EXAMPLES = 100  # per test and kind of body
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
# Control characters a page or an error must never carry raw (tab and line breaks are fine).
RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Text of all of Unicode, with lone surrogates and control characters made common: hypothesis
# leaves surrogates out unless asked, they are a sliver of the code points (its alphabets are
# drawn by code point), and two side by side pair up into one character once a JSON body is
# read. Numbers as text too, so that rows also get past the first checks.
ODD_CHARACTERS = ["\ud800", "\udbff", "\udc00", "\udc80", "\udfff", "\x00", "\x1b", "\x7f",
                  "\x85", "\u202e", "\ufeff"]
numbers = st.one_of(st.floats(allow_nan=True).map(str), st.integers().map(str))
texts = st.one_of(
    st.lists(st.one_of(st.text(st.characters(categories=["L", "M", "N", "P", "S", "Z", "C"]),
                               max_size=4),
                       st.sampled_from(ODD_CHARACTERS), numbers), min_size=1, max_size=4).map(
        "".join),
    numbers)
raw = st.binary(max_size=20)  # any bytes, UTF-8 or not
NAMES = [*FEATURES, "filepath", "file", "path", "records", "dataframe_records",
         "dataframe_split", "top", "q", "sort", "dir", "page", "name", "next", "token"]
names = st.one_of(st.sampled_from(NAMES), texts)


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate as CESU-8 bytes


segments = st.one_of(texts.map(_bytes), raw, st.sampled_from(
    [b"..", b".", b"%00", b"a\x00b", b"apireturns.txt", b"report.pdf", b"\xed\xa0\x80"]))


def _quoted(data: bytes) -> str:
    return quote_from_bytes(data, safe="")


queries = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES).map(str.encode), raw, segments),
                             st.one_of(segments, raw)), max_size=4).map(
    lambda pairs: "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in pairs))
raw_queries = raw.map(lambda data: data.decode("latin-1"))  # as a server may hand them over

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(names, inner, max_size=3)), max_leaves=6)
# Cells of rows are text (other JSON values are refused first: the shapes below try those).
record = st.fixed_dictionaries({feature: texts for feature in FEATURES},
                               optional={"extra": json_values, "\ud800": texts, "": texts})
rows = st.lists(record, min_size=1, max_size=2)
json_bodies = st.one_of(
    st.dictionaries(st.sampled_from(["filepath", "path", "file"]),
                    st.one_of(texts, json_values), min_size=1, max_size=2),
    st.builds(dict, records=rows),
    st.builds(dict, dataframe_records=rows),
    st.builds(dict, dataframe_split=st.fixed_dictionaries({
        "columns": st.lists(st.one_of(st.sampled_from(FEATURES), texts), min_size=3,
                            max_size=4),
        "data": st.lists(st.lists(texts, min_size=3, max_size=4), min_size=1, max_size=2)})),
    st.dictionaries(names, json_values, max_size=3),
    json_values,
).map(lambda body: json.dumps(body).encode())  # lone surrogates as \\ud800 escapes
csv_bodies = st.one_of(
    st.lists(st.lists(texts, max_size=4), max_size=3).map(
        lambda rows: _bytes(",".join(FEATURES) + "\n" + "\n".join(",".join(r) for r in rows))),
    raw)
forms = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES).map(str.encode), raw),
                           st.one_of(segments, raw)), max_size=3).map(
    lambda pairs: "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in pairs).encode())


def _multipart(parts: list[tuple[bytes, bytes, bytes]]) -> bytes:
    return b"".join(b'--B\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n\r\n'
                    b"%s\r\n" % part for part in parts) + b"--B--\r\n"


BODIES = {  # kind: (Content-Type, body)
    "json": st.tuples(st.just("application/json"), json_bodies),
    "csv": st.tuples(st.just("text/csv"), csv_bodies),
    "form": st.tuples(st.just("application/x-www-form-urlencoded"), forms),
    "multipart": st.tuples(st.just("multipart/form-data; boundary=B"),
                           st.lists(st.tuples(raw, raw, csv_bodies), max_size=2).map(_multipart)),
    "other": st.tuples(st.one_of(st.sampled_from(["", "application/octet-stream", "text/plain",
                                                  "multipart/form-data",
                                                  "application/json; charset=x"]),
                                 raw.map(lambda b: b.decode("latin-1"))), raw),
}
# Header values as a server hands them over: any byte but a line break, read as Latin-1.
header_texts = raw.map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1"))
headers = st.fixed_dictionaries({}, optional={
    "Cookie": st.one_of(header_texts, header_texts.map(lambda v: f"{SESSION_COOKIE}={v}"),
                        st.just(f"{SESSION_COOKIE}={SESSION}")),
    "Authorization": st.one_of(header_texts, header_texts.map(lambda v: "Bearer " + v),
                               st.just(f"Bearer {TOKEN}")),
    "X-Forwarded-Proto": header_texts,
    "Accept": header_texts,
})


@pytest.fixture(scope="module")
def apps(tmp_path_factory, redeployed_template):
    """Two apps of version 2 with a risk list: without a token, and with one."""
    from cycle.estimating import run_estimate
    from pipeline.core.deployed import current_deployment
    from reporting import build_risk_list

    production = copy_project(redeployed_template, tmp_path_factory.mktemp("routes-fuzz"))
    build_risk_list(production)
    run_estimate(production, current_deployment(production.deployment_folder))  # /estimate
    return [create_app(production.config_path),
            # Wrong tokens by the hundred from one address: the limit would answer 429 to all.
            create_app(token_config(production.root, TOKEN, auth_failure_limit=100_000))]


def _routes(app) -> list[tuple[str, list[str]]]:
    """(rule, methods) of every route of the app, and of a path it does not serve."""
    found = [(rule.rule, sorted(rule.methods)) for rule in app.url_map.iter_rules()]
    return [*found, ("/nowhere/<name>", ["GET", "POST"])]


def _path(rule: str, segment: bytes) -> str:
    """The rule's path with each <variable> given the segment, as WSGI's PATH_INFO (bytes read
    as Latin-1, percent-escapes decoded as a server decodes them)."""
    return re.sub(r"<[^>]+>", lambda _: segment.decode("latin-1"), rule)


def _answer(app, method: str, path: str, query: str, sent: dict, content_type: str = "",
            body: bytes = b"") -> None:
    """Send one request through WSGI, as a server hands it over; check the answer."""
    if SESSION in sent.get("Cookie", "") and api_state(app).auth is not None:
        sent = dict(sent, Cookie=f"{SESSION_COOKIE}={api_state(app).auth.new_session()}")
    environ = EnvironBuilder(method=method, data=body, headers=sent).get_environ()
    environ.update(PATH_INFO=path, QUERY_STRING=query)
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    answer, status, answered = run_wsgi_app(app, environ, buffered=True)
    code, data = int(status.split()[0]), b"".join(answer)
    assert code < 500, (status, data[:300])
    if code >= 400 and method != "HEAD":
        assert data.strip(), status  # a reason, not an empty answer
    if answered.get("Content-Type", "").split(";")[0] in ("text/html", "application/json"):
        assert not RAW_CONTROL.search(data), (status, data[:300])


@FUZZ
@given(data=st.data())
def test_no_path_query_or_header_gets_a_5xx(apps, data):
    app = data.draw(st.sampled_from(apps), label="app")
    rule, methods = data.draw(st.sampled_from(_routes(app)), label="route")
    method = data.draw(st.sampled_from([*methods, "PUT", "DELETE"]), label="method")
    _answer(app, method, _path(rule, data.draw(segments, label="segment")),
            data.draw(st.one_of(queries, raw_queries), label="query"),
            data.draw(headers, label="headers"))


@pytest.mark.parametrize("kind", list(BODIES))
def test_no_body_gets_a_5xx(apps, kind):
    # One run per kind of body: each gets its own MAX_EXAMPLES, most of them on /prediction.
    @FUZZ
    @given(data=st.data())
    def one_case(data):
        app = data.draw(st.sampled_from(apps), label="app")
        posted = [rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
        path = data.draw(st.one_of(st.just("/prediction"), st.sampled_from(sorted(posted))),
                         label="path")
        sent = data.draw(headers, label="headers")
        if app is apps[1] and path == "/prediction":
            sent["Authorization"] = f"Bearer {TOKEN}"  # else the guard answers before the body
        content_type, body = data.draw(BODIES[kind], label="body")
        _answer(app, "POST", path, data.draw(queries, label="query"), sent, content_type, body)

    one_case()
