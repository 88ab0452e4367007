"""The HTTP API as a Flask blueprint: predictions, scores, summary statistics, diagnostics, the
risk list, health and the OpenAPI description. Every answer is JSON, errors included.

The routes read the application's state through ``api_state()`` only (pipeline.api.state).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from pipeline.api.auth import SESSION_COOKIE, api_call_allowed
from pipeline.api.failures import FAILED, REQUEST_ID_HEADER, record_failure
from pipeline.api.fastpredict import plain_rows
from pipeline.api.limiter import retry_after
from pipeline.api.metrics import metrics_response
from pipeline.api.openapi import openapi_document
from pipeline.api.request_body import BadRequest
from pipeline.api.request_parts import read_parts
from pipeline.api.request_source import Source, choose_source, frame_of
from pipeline.api.state import ApiState, api_state
from pipeline.api.watching import health_answer
from pipeline.core.modelfile import ModelIntegrityError
from pipeline.core.names import ESTIMATE_FILE, FINAL_DATA
from pipeline.core.outputs import latest_diagnostics
from pipeline.core.schema import FEATURES
from pipeline.data.final import missing_fractions, read_final_data, summarize_columns
from pipeline.ingest.records import read_labelled_data
from pipeline.model.evaluate import predict_with_probability, score_model
from pipeline.report.risk import cached_risk_list

MAX_TOP = 10_000

api = Blueprint("api", __name__)


def _json_error(status: int, message: str):
    response = jsonify(error=message)
    response.status_code = status
    return response


@api.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Every HTTP error as JSON: {"error": ...} with its status; a 500 as unexpected_error."""
    if (exc.code or 500) == 500:  # an error raised outside a route, handed over by Flask
        return unexpected_error(exc)
    return _json_error(exc.code, exc.description or exc.name)


@api.app_errorhandler(Exception)
def unexpected_error(exc: Exception):
    """A bug answers 500 with a request id and no traceback; the traceback goes to the log
    under the same id (pipeline.api.failures)."""
    request_id = record_failure(exc)
    response = jsonify(error=FAILED.format(request_id), request_id=request_id)
    response.status_code = 500
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


@api.before_app_request
def authenticate():
    """With a token configured, every route but /health needs ``Authorization: Bearer``.

    A signed-in browser's session cookie (pipeline.api.auth) also opens the read-only methods,
    so the pages can link to /openapi.json and people can open /risk or /scoring; /prediction
    always needs the bearer token, by GET as by POST (auth.INPUT_PATHS). A wrong token is
    counted against the caller's address; past the limit the address gets 429 with Retry-After,
    whatever token it sends (pipeline.api.limiter). Routes of other blueprints (the pages)
    check the same credentials themselves and answer with a sign-in page.
    """
    auth = api_state().auth
    if auth is None:
        return None
    if request.blueprint is not None and request.blueprint != api.name:
        return None
    address = auth.address(request.environ)
    authorization = request.headers.get("Authorization")
    if api_call_allowed(auth, request.method, request.path, authorization,
                        request.cookies.get(SESSION_COOKIE), address):
        return None
    wait = auth.refused(address, authorization)
    if wait:
        response = _json_error(429, "too many wrong tokens from this address; try again in "
                                    f"{retry_after(wait)} s")
        response.headers["Retry-After"] = retry_after(wait)
        return response
    response = _json_error(401, "missing or wrong bearer token")
    response.headers["WWW-Authenticate"] = 'Bearer realm="risk"'
    return response


def _deployed_model():
    """(model, Deployed, LinearScorer or None), or 503 when no valid model is deployed."""
    return _keyed_model(api_state())[1]


def _keyed_model(state: ApiState) -> tuple[tuple, tuple]:
    """(key, (model, Deployed, LinearScorer or None)) of the deployed model (ModelHolder), or
    503 when no valid model is deployed."""
    try:
        return state.models.get_keyed()
    except ModelIntegrityError as exc:
        abort(503, description=str(exc))


def _fast_prediction(source: Source):
    """The answer for plain numeric rows by the model's own arithmetic (fastpredict), or None
    when the rows need the general path or the model has no fast scorer."""
    rows = plain_rows({source.key: source.value})
    if rows is None:
        return None
    model, deployed, scorer = _deployed_model()
    if scorer is None:
        return None
    predictions, probabilities, unsure = scorer.score(rows)
    if unsure:  # a hair from the threshold: the model itself decides
        import pandas as pd

        close = pd.DataFrame([rows[i] for i in unsure], columns=list(FEATURES))
        for i, label in zip(unsure, model.predict(close), strict=True):
            predictions[i] = int(label)
    return jsonify(predictions=predictions, probabilities=probabilities,
                   model_version=deployed.version)


@api.route("/prediction", methods=["GET", "POST"])
def prediction():
    """Predictions and probabilities for the rows a request names, uploads or sends, by POST
    or GET (pipeline.api.request_source says which forms)."""
    settings = api_state().settings
    try:
        source = choose_source(read_parts(settings.max_body_bytes))
        fast = _fast_prediction(source) if source.kind == "rows" else None
        if fast is not None:
            return fast
        frame = frame_of(source, settings.root, settings.data_folders)
    except BadRequest as exc:
        abort(exc.status, description=str(exc))
    model, deployed, _ = _deployed_model()
    predictions, probabilities = predict_with_probability(model, frame[list(FEATURES)])
    return jsonify(predictions=[int(p) for p in predictions],
                   probabilities=[float(p) for p in probabilities],
                   model_version=deployed.version)


@api.get("/scoring")
def scoring():
    """The deployed model's scores on the test data, computed once per version and test file."""
    state = api_state()
    model_key, (model, deployed, _) = _keyed_model(state)
    test_file = state.settings.test_file

    def compute():
        try:
            scores = score_model(model, read_labelled_data(test_file))
        except (OSError, ValueError) as exc:
            abort(503, description=f"cannot score on the test data: {exc}")
        return {"model_version": deployed.version, "test_data": test_file.name, **scores}

    def current_key() -> tuple:  # loads nothing: a changed model is Flask's to load and check
        return state.models.key(), state.cache.stamp(test_file)

    return _cached_json(state, "scoring", current_key,
                        (model_key, state.cache.stamp(test_file)), compute)


def _cached_json(state: ApiState, name: str, current_key, key: tuple, compute):
    """The JSON answer ``name`` for key, encoded once: a cache hit costs no encoding.

    The answer is also kept for the layer in front of Flask (pipeline.api.answers), which serves
    the same request again without Flask while ``current_key()`` is still key.
    """
    body = state.cache.get(
        name, key, lambda: (current_app.json.dumps(compute()) + "\n").encode())
    if request.method == "GET" and not request.query_string:
        state.answers.keep(request.path, current_key, key, body, "application/json")
    return current_app.response_class(body, mimetype="application/json")


def _final_data_figures() -> tuple[dict, dict]:
    """(summary statistics, missing fractions) of finaldata.csv: one read serves both, once per
    version of the file (the rows themselves are not kept: at ten million, a gigabyte)."""
    state = api_state()
    path = state.settings.output_folder / FINAL_DATA
    if not path.is_file():
        abort(503, description="no ingested data yet: run ingestion.py")

    def compute() -> tuple[dict, dict]:
        frame = read_final_data(path)
        return summarize_columns(frame), missing_fractions(frame)

    return state.cache.get("final", state.cache.stamp(path), compute)


@api.get("/summarystats")
def summarystats():
    """Summary statistics of each numeric column of finaldata.csv."""
    return jsonify(_final_data_figures()[0])


@api.get("/diagnostics")
def diagnostics():
    """Missing data now, and the timings and dependency check diagnostics.py recorded."""
    state = api_state()
    missing = _final_data_figures()[1]
    try:
        deployed = state.models.get()[1]
    except ModelIntegrityError:
        deployed = None
    recorded = latest_diagnostics(state.settings.model_folder) or {}
    return jsonify(model_version=deployed.version if deployed else None, missing_data=missing,
                   execution_time=recorded.get("execution_time"),
                   outdated_packages=recorded.get("outdated_packages"),
                   measured_at=recorded.get("measured_at"),
                   model_selection=deployed.manifest.get("training", {}).get("selection")
                   if deployed else None)


@api.get("/risk")
def risk():
    """The ``top`` current clients most likely to leave, from riskscores.csv."""
    top = request.args.get("top", "20")
    if not (top.isascii() and top.isdigit()) or not 1 <= int(top) <= MAX_TOP:
        abort(400, description=f"top must be a whole number from 1 to {MAX_TOP}")
    try:
        state = api_state()
        frame = cached_risk_list(state.cache, state.settings.model_folder).head(int(top))
    except FileNotFoundError:
        abort(503, description="no risk list yet: run reporting.py")
    return jsonify(clients=frame.to_dict(orient="records"), count=len(frame))


@api.get("/estimate")
def estimate():
    """The deployed model's F1, precision, recall and ROC AUC estimated before the labels come,
    with a 90% band, on the current book and each unlabelled batch; and the latest check of
    such an estimate against labels (estimate.json, written by the cycle)."""
    state = api_state()
    path = state.settings.model_folder / ESTIMATE_FILE
    stamp = state.cache.stamp(path)
    if stamp[0][1] is None:
        abort(503, description="no estimate yet: the cycle writes it after each deployment "
                               "and each batch of new data")
    body = state.cache.get("estimate", stamp, path.read_bytes)
    return current_app.response_class(body, mimetype="application/json")


@api.get("/health")
def health():
    """200 with the deployed version when it is valid and the cycle healthy; else 503 with the
    reason (a dead cron, failing cycles: pipeline.api.watching)."""
    return health_answer(current_app, api_state())


@api.get("/metrics")
def metrics():
    """The Prometheus text format: the model, the cycle, drift, ingestion and these requests
    (pipeline.api.metrics), read at scrape time."""
    return metrics_response(current_app, api_state())


@api.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of the API."""
    return jsonify(openapi_document())
