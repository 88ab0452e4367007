"""REFERENCE, not the product: the usual Flask API, which unpickles the model and reads the
data on every request. Served by gunicorn like the real one: ``gunicorn bench.baseline_app:app``
with RISK_CONFIG naming the project's config.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pandas as pd
from flask import Flask, jsonify, request

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
