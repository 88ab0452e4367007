"""/prediction as clients of the original course call it: the test file named under eight keys,
in a JSON body, a form body or the query string, by POST or GET, by a relative or an absolute
path, or uploaded; and what stays refused (outside the data folders, pickles, two sources at
once), each with its reason."""

from __future__ import annotations

import io
import os
import pickle

import pandas as pd
import pytest

from app import create_app
from pipeline.core.deployed import load_deployed_model
from pipeline.core.schema import FEATURES
from tests.helpers import SHARED_COURSE_DATA, copy_project, needs_course_data, watch_opens

# The keys course clients were seen to use, written out here (not imported): a name dropped from
# the API's list must fail these tests.
NAMES = ("filepath", "datafile", "data_file", "data_path", "dataset_path", "filename", "file",
         "path")
RELATIVE = "testdata/testdata.csv"
COURSE_TEST_FILE = SHARED_COURSE_DATA / "testdata" / "testdata.csv"


def _send(client, how: str, key: str, value: str):
    """One request naming the file under key, in the way how."""
    if how == "JSON POST":
        return client.post("/prediction", json={key: value})
    if how == "urlencoded form POST":
        return client.post("/prediction", data={key: value})
    if how == "multipart form POST":
        return client.post("/prediction", data={key: value}, content_type="multipart/form-data")
    if how == "query POST, no body":
        return client.post("/prediction", query_string={key: value})
    assert how == "GET query"
    return client.get("/prediction", query_string={key: value})


HOWS = ("JSON POST", "urlencoded form POST", "multipart form POST", "query POST, no body",
        "GET query")


@pytest.fixture(scope="module")
def served(tmp_path_factory, redeployed_template):
    """(settings, test client) of version 2 of a project, shared by the read-only tests here."""
    settings = copy_project(redeployed_template, tmp_path_factory.mktemp("sources"))
    return settings, create_app(settings.config_path).test_client()


@pytest.fixture(scope="module")
def expected(served):
    """The deployed model's own predictions on the project's test file."""
    settings, _ = served
    model, _ = load_deployed_model(settings.deployment_folder)
    return [int(p) for p in model.predict(pd.read_csv(settings.test_file)[list(FEATURES)])]


def _assert_answers_every_row(response, expected: list[int]) -> None:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["predictions"] == expected
    assert len(body["probabilities"]) == len(expected)
    assert body["model_version"] == 2


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("key", NAMES)
def test_every_name_in_every_place_gives_one_prediction_per_row(served, expected, key, how):
    _, client = served
    _assert_answers_every_row(_send(client, how, key, RELATIVE), expected)


@pytest.mark.parametrize("how", HOWS)
def test_an_absolute_path_inside_the_data_folders_is_read(served, expected, how):
    settings, client = served
    _assert_answers_every_row(_send(client, how, "data_path", str(settings.test_file)), expected)


def test_an_absolute_path_through_a_link_to_the_project_is_read(served, expected, tmp_path):
    settings, client = served
    (tmp_path / "project").symlink_to(settings.root)
    via_link = tmp_path / "project" / RELATIVE
    _assert_answers_every_row(client.post("/prediction", json={"filepath": str(via_link)}),
                              expected)


@pytest.fixture
def outside(served):
    """A copy of the test file beside the project, and a link to it inside the test folder."""
    settings, _ = served
    copy = settings.root.parent / "outside.csv"
    copy.write_bytes(settings.test_file.read_bytes())
    link = settings.test_data / "outside-link.csv"
    link.symlink_to(copy)
    yield copy, link
    link.unlink()
    copy.unlink()


@pytest.mark.parametrize("how", HOWS)
def test_absolute_paths_resolving_outside_are_403_and_nothing_is_read(served, outside, how):
    settings, client = served
    copy, link = outside
    project = os.path.realpath(settings.root.parent)
    for value in (str(copy), str(link), "/etc/passwd", "/etc/hosts.csv",
                  str(settings.test_data / ".." / "config.csv"),
                  str(settings.test_data / ".." / RELATIVE)):  # a '..', even one back inside
        with watch_opens() as opened:
            response = _send(client, how, "path", value)
        assert response.status_code == 403, (value, response.get_json())
        assert "path" in response.get_json()["error"]
        assert [p for p in opened if p.startswith((project + os.sep, "/etc"))] == [], value


@pytest.mark.parametrize("field", ["file", "data", "testdata"])
def test_an_uploaded_csv_file_is_read_like_a_csv_body(served, expected, field):
    settings, client = served
    data = settings.test_file.read_bytes()  # corporation and exited columns included
    upload = client.post("/prediction", data={field: (io.BytesIO(data), "testdata.csv")})
    _assert_answers_every_row(upload, expected)
    as_body = client.post("/prediction", data=data, content_type="text/csv")
    assert as_body.get_json() == upload.get_json()


@needs_course_data
@pytest.mark.parametrize("form", ["upload", "text/csv body"])
def test_the_courses_own_test_file_is_read_with_its_extra_columns(served, form):
    settings, client = served
    data = COURSE_TEST_FILE.read_bytes()
    if form == "upload":
        response = client.post("/prediction", data={"file": (io.BytesIO(data), "testdata.csv")})
    else:
        response = client.post("/prediction", data=data, content_type="text/csv")
    assert response.status_code == 200, response.get_json()
    frame = pd.read_csv(COURSE_TEST_FILE)
    assert {"corporation", "exited"} <= set(frame.columns) and len(frame) == 5
    model, _ = load_deployed_model(settings.deployment_folder)
    assert response.get_json()["predictions"] == model.predict(frame[list(FEATURES)]).tolist()


@pytest.mark.parametrize("data, status, reason", [
    (b"lastmonth_activity\n\xff\n", 400, "is not UTF-8"),
    (b"lastmonth_activity,lastyear_activity\n1,2\n", 400, "lacks number_of_employees"),
    (b"lastmonth_activity,lastyear_activity,number_of_employees\n1,2,-3\n", 400, "negative"),
    (b"", 400, "at least one data row"),
])
def test_a_bad_upload_is_4xx_with_its_reason(served, data, status, reason):
    _, client = served
    response = client.post("/prediction", data={"file": (io.BytesIO(data), "bad.csv")})
    assert response.status_code == status
    assert reason in response.get_json()["error"]


class _Opens:
    """Unpickling this opens (creates) a file: the proof that a pickle was loaded."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("content_type", [
    "application/octet-stream", "application/x-pickle", "application/python-pickle", None,
    "application/json", "text/csv", "text/plain"])
def test_a_pickled_body_is_415_with_the_reason_and_never_loaded(served, tmp_path, protocol,
                                                                content_type):
    _, client = served
    marker = tmp_path / "unpickled"
    data = pickle.dumps([_Opens(str(marker))], protocol=protocol)
    response = client.post("/prediction", data=data, content_type=content_type)
    assert response.status_code == 415
    assert "unpickling runs whatever code the sender put in it" in response.get_json()["error"]
    uploaded = client.post("/prediction", data={"file": (io.BytesIO(data), "model.pkl")})
    assert uploaded.status_code == 415
    assert not marker.exists()


def test_octet_stream_is_415_even_when_it_holds_csv(served):
    settings, client = served
    response = client.post("/prediction", data=settings.test_file.read_bytes(),
                           content_type="application/octet-stream")
    assert response.status_code == 415 and "unpickling" in response.get_json()["error"]


@pytest.mark.parametrize("kwargs, named", [
    ({"json": {"filepath": RELATIVE}, "query_string": {"data_path": RELATIVE}},
     ["filepath in the JSON body", "data_path in the query string"]),
    ({"json": {"filepath": RELATIVE, "datafile": RELATIVE}},
     ["filepath in the JSON body", "datafile in the JSON body"]),
    ({"data": {"file": RELATIVE, "path": RELATIVE}},
     ["file in the form body", "path in the form body"]),
    ({"query_string": [("path", RELATIVE), ("path", RELATIVE)]},
     ["path in the query string and path in the query string"]),
    ({"json": {"records": [dict.fromkeys(FEATURES, 1)]}, "query_string": {"filename": RELATIVE}},
     ["records in the JSON body", "filename in the query string"]),
    ({"data": "lastmonth_activity,lastyear_activity,number_of_employees\n1,2,3\n",
      "content_type": "text/csv", "query_string": {"file": RELATIVE}},
     ["the text/csv body", "file in the query string"]),
    ({"data": {"file": (io.BytesIO(b"x"), "a.csv"), "other": (io.BytesIO(b"y"), "b.csv")}},
     ["file in the multipart body, as a file", "other in the multipart body, as a file"]),
    ({"data": {"upload": (io.BytesIO(b"x"), "a.csv"), "datafile": RELATIVE}},
     ["datafile in the form body", "upload in the multipart body, as a file"]),
])
def test_two_sources_at_once_are_400_naming_both_and_nothing_is_read(served, kwargs, named):
    settings, client = served
    with watch_opens() as opened:
        response = client.post("/prediction", **kwargs)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "at once" in error and all(label in error for label in named), error
    assert not [p for p in opened if p.startswith(os.path.realpath(settings.root) + os.sep)]


@pytest.mark.parametrize("kwargs", [
    {}, {"query_string": {"top": "5"}}, {"json": {}}, {"data": {"something": RELATIVE}},
    {"json": {"FilePath": RELATIVE}}])
@pytest.mark.parametrize("method", ["get", "post"])
def test_no_source_is_400_naming_what_is_accepted(served, method, kwargs):
    _, client = served
    response = getattr(client, method)("/prediction", **kwargs)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "needs exactly one of" in error and all(key in error for key in NAMES)
