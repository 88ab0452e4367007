"""Course-style clients against a real gunicorn on loopback: apicalls.py scripts written as the
original course's are (requests, the answers' text written to apireturns.txt, the status never
looked at), each naming the test file in a way one of the clients of issue 17 did.

A client that gets an error still exits 0 and writes the error into its apireturns.txt, so
the test reads every file back and asks for one prediction per row of the test file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from cycle.local_server import running_server
from pipeline.core.deployed import load_deployed_model
from pipeline.core.schema import FEATURES
from tests.helpers import SHARED_COURSE_DATA, needs_course_data

# The course's apicalls.py, with the prediction call of each client in {prediction}.
SCRIPT = '''\
import json
import os
import sys

import requests

URL = sys.argv[1]

with open("config.json", "r") as f:
    config = json.load(f)
test_data_path = os.path.join(config["test_data_path"])
output_model_path = os.path.join(config["output_model_path"])
test_file = os.path.join(test_data_path, "testdata.csv")

response1 = {prediction}.text
response2 = requests.get(URL + "/scoring").text
response3 = requests.get(URL + "/summarystats").text
response4 = requests.get(URL + "/diagnostics").text

responses = response1 + response2 + response3 + response4
with open(os.path.join(output_model_path, "apireturns.txt"), "w") as file:
    file.write(responses)
'''

# The six ways the clients of issue 17 named the test file (each failed before), and an upload.
CLIENTS = {
    "datafile in a JSON body": 'requests.post(URL + "/prediction", json={"datafile": test_file})',
    "data_file in a JSON body":
        'requests.post(URL + "/prediction", json={"data_file": test_file})',
    "data_path in a JSON body":
        'requests.post(URL + "/prediction", json={"data_path": test_file})',
    "an absolute path": 'requests.post(URL + "/prediction", '
                        'json={"filepath": os.path.abspath(test_file)})',
    "dataset_path in the query of a POST with no body":
        'requests.post(URL + "/prediction", params={"dataset_path": test_file})',
    "GET with filename in the query":
        'requests.get(URL + "/prediction", params={"filename": test_file})',
    "an uploaded file":
        'requests.post(URL + "/prediction", files={"file": open(test_file, "rb")})',
}


def read_answers(text: str) -> list:
    """The JSON documents of an apireturns.txt written by concatenating the answers' text."""
    decoder, answers, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        answer, at = decoder.raw_decode(text, at)
        answers.append(answer)
    return answers


@pytest.mark.slow
@needs_course_data
def test_course_clients_get_one_prediction_per_row_from_gunicorn(redeployed, tmp_path):
    # The course's own test file, where the course keeps it: 5 rows with corporation and exited.
    shutil.copyfile(SHARED_COURSE_DATA / "testdata" / "testdata.csv", redeployed.test_file)
    frame = pd.read_csv(redeployed.test_file)
    model, _ = load_deployed_model(redeployed.deployment_folder)
    expected = [int(p) for p in model.predict(frame[list(FEATURES)])]
    assert len(expected) == 5
    returns = redeployed.model_folder / "apireturns.txt"
    env = dict(os.environ, PYTHONPATH="")
    got = {}
    with running_server(redeployed.config_path, workers=1) as url:
        for name, call in CLIENTS.items():
            script = tmp_path / f"apicalls_{len(got)}.py"
            script.write_text(SCRIPT.format(prediction=call), encoding="utf-8")
            returns.unlink(missing_ok=True)
            # From the project folder, as a course user runs it: config.json there.
            proc = subprocess.run([sys.executable, str(script), url], cwd=redeployed.root,
                                  env=env, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, (name, proc.stderr)
            got[name] = read_answers(returns.read_text(encoding="utf-8"))
    for name, answers in got.items():
        assert len(answers) == 4, name
        prediction = answers[0]
        assert "error" not in prediction, (name, prediction)
        assert prediction["predictions"] == expected, name
        assert len(prediction["probabilities"]) == len(expected), name
        assert prediction["model_version"] == 2, name
        assert "f1" in answers[1] and "error" not in answers[2], name
    assert len(got) == len(CLIENTS) == 7
