"""REFERENCE, not the product: the usual Flask API, which unpickles the model and reads the
data on every request. Served by gunicorn like the real one: ``gunicorn bench.baseline_app:app``
with RISK_CONFIG naming the project's config (read when this module is imported).
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pandas as pd
from flask import Flask, jsonify, request
from sklearn.metrics import f1_score

FEATURES = ["lastmonth_activity", "lastyear_activity", "number_of_employees"]
CONFIG = Path(os.environ.get("RISK_CONFIG", "config.json")).resolve()
ROOT = CONFIG.parent
SETTINGS = json.loads(CONFIG.read_text())

app = Flask(__name__)


@app.post("/prediction")
def prediction():
    with open(ROOT / SETTINGS["prod_deployment_path"] / "trainedmodel.pkl", "rb") as handle:
        model = pickle.load(handle)
    pd.read_csv(ROOT / SETTINGS["output_folder_path"] / "finaldata.csv")  # as the usual one does
    frame = pd.DataFrame(request.get_json()["records"])[FEATURES]
    return jsonify(predictions=model.predict(frame).tolist(),
                   probabilities=model.predict_proba(frame)[:, 1].tolist())


@app.get("/scoring")
def scoring():
    """The course's score_model() on every request: unpickle, read the test data, F1, write it.

    The usual endpoint writes latestscore.txt; this one writes another name beside it, so that a
    benchmark does not overwrite the project's own record.
    """
    with open(ROOT / SETTINGS["prod_deployment_path"] / "trainedmodel.pkl", "rb") as handle:
        model = pickle.load(handle)
    test_data = ROOT / SETTINGS["test_data_path"] / SETTINGS.get("test_file", "testdata.csv")
    test = pd.read_csv(test_data)
    f1 = f1_score(test["exited"], model.predict(test[FEATURES]))
    (ROOT / SETTINGS["output_model_path"] / "baseline_latestscore.txt").write_text(str(f1))
    return jsonify(f1=f1)
