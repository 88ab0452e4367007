"""The HTTP API: predictions, scores, summary statistics, diagnostics, the risk list, health.

``create_app()`` builds the Flask application; ``wsgi.py`` serves it with gunicorn. Every answer
is JSON, errors included. The deployed model is loaded once per worker, verified against its
manifest, and replaced without a restart when a new version is deployed.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from pathlib import Path

from flask import Flask, abort, jsonify, request
from werkzeug.exceptions import HTTPException

from pipeline.config import Settings, api_token, load_settings
from pipeline.deployed import CURRENT, NoDeployment, current_deployment
from pipeline.fastpredict import LinearScorer, plain_rows
from pipeline.modelfile import ModelIntegrityError
from pipeline.openapi import openapi_document
from pipeline.requests_in import BadRequest, frame_from_csv_text, frame_from_json
from pipeline.schema import FEATURES

logger = logging.getLogger(__name__)

MAX_TOP = 10_000


class ModelHolder:
    """The deployed model of this worker, reloaded when ``current`` points at a new version."""

    def __init__(self, deployment_folder: Path):
        self.folder = deployment_folder
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._loaded: tuple | None = None

    def _state(self) -> tuple:
        """What identifies the deployed model on disk: its version folder and file stat."""
        try:
            target = os.readlink(self.folder / CURRENT)
        except OSError:
            raise NoDeployment(f"no model deployed in {self.folder}") from None
        try:
            stat = os.stat(self.folder / CURRENT / "trainedmodel.pkl")
        except OSError as exc:
            raise NoDeployment(f"the model file of the deployed version {target} is missing or "
                               f"unreadable: {exc.strerror}") from None
        return target, stat.st_ino, stat.st_size, stat.st_mtime_ns

    def get(self):
        """(model, Deployed, LinearScorer or None) of the current version.

        Raises ModelIntegrityError when no valid model is deployed.
        """
        key = self._state()
        loaded = self._loaded
        if key == self._key and loaded is not None:
            return loaded
        with self._lock:
            if key != self._key or self._loaded is None:
                deployed = current_deployment(self.folder)
                model = deployed.load_model()
                self._loaded = (model, deployed, LinearScorer.from_pipeline(model))
                self._key = key
                logger.info("loaded model version %d", deployed.version)
            return self._loaded


class FileCache:
    """Results computed from files, kept until one of those files changes."""

    def __init__(self):
        self._values: dict[str, tuple[tuple, object]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def stamp(*paths: Path) -> tuple:
        """A cheap fingerprint of files: their size and modification time."""
        out = []
        for path in paths:
            try:
                stat = os.stat(path)
                out.append((str(path), stat.st_size, stat.st_mtime_ns))
            except OSError:
                out.append((str(path), None, None))
        return tuple(out)

    def get(self, name: str, key: tuple, compute):
        """The cached value of name for key, computing it on a miss."""
        hit = self._values.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        with self._lock:
            self._values[name] = (key, value)
        return value


def _json_error(status: int, message: str):
    response = jsonify(error=message)
    response.status_code = status
    return response


def create_app(config_path: str | Path | None = None, **overrides) -> Flask:
    """The application for a configuration file; keyword overrides replace its keys."""
    settings = load_settings(config_path or os.environ.get("RISK_CONFIG"), **overrides)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.json.sort_keys = False
    app.extensions["risk"] = {"settings": settings}
    models = ModelHolder(settings.deployment_folder)
    cache = FileCache()
    token = api_token(settings)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _json_error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        logger.exception("unexpected error on %s %s", request.method, request.path)
        return _json_error(500, "internal error; see the server log")

    @app.before_request
    def authenticate():
        if token is None or request.path == "/health":
            return None
        sent = request.headers.get("Authorization", "")
        if not (sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(),
                                                                   token.encode())):
            response = _json_error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = 'Bearer realm="risk"'
            return response
        return None

    def deployed_model():
        try:
            return models.get()
        except ModelIntegrityError as exc:
            abort(503, description=str(exc))

    @app.post("/prediction")
    def prediction():
        mimetype = request.mimetype or ""
        try:
            if mimetype == "application/json" or mimetype.endswith("+json"):
                body = _parse_json(_read_body(settings.max_body_bytes))
                rows = plain_rows(body)
                if rows is not None:
                    model, deployed, scorer = deployed_model()
                    if scorer is not None:
                        predictions, probabilities = scorer.score(rows)
                        return jsonify(predictions=predictions, probabilities=probabilities,
                                       model_version=deployed.version)
                frame = frame_from_json(body, settings.root, settings.data_folders)
            elif mimetype == "text/csv":
                try:
                    text = _read_body(settings.max_body_bytes).decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise BadRequest("the CSV body is not UTF-8") from None
                frame = frame_from_csv_text(text)
            else:
                abort(415, description="send application/json or text/csv")
        except BadRequest as exc:
            abort(exc.status, description=str(exc))
        model, deployed, _ = deployed_model()
        features = frame[list(FEATURES)]
        probabilities = model.predict_proba(features)[:, 1]
        predictions = model.predict(features)
        return jsonify(predictions=[int(p) for p in predictions],
                       probabilities=[float(p) for p in probabilities],
                       model_version=deployed.version)

    @app.get("/scoring")
    def scoring():
        model, deployed, _ = deployed_model()

        def compute():
            from scoring import read_labelled_data, score_model

            try:
                scores = score_model(model, read_labelled_data(settings.test_file))
            except (OSError, ValueError) as exc:
                abort(503, description=f"cannot score on the test data: {exc}")
            return {"model_version": deployed.version, "test_data": settings.test_file.name,
                    **scores}

        key = (deployed.version, deployed.manifest.get("model_sha256"),
               cache.stamp(settings.test_file))
        return jsonify(cache.get("scoring", key, compute))

    @app.get("/summarystats")
    def summarystats():
        from diagnostics import dataframe_summary

        path = settings.output_folder / "finaldata.csv"
        if not path.is_file():
            abort(503, description="no ingested data yet: run ingestion.py")
        return jsonify(cache.get("summary", cache.stamp(path),
                                 lambda: dataframe_summary(settings)))

    @app.get("/diagnostics")
    def diagnostics():
        from diagnostics import latest_diagnostics, missing_data

        data = settings.output_folder / "finaldata.csv"
        if not data.is_file():
            abort(503, description="no ingested data yet: run ingestion.py")
        missing = cache.get("missing", cache.stamp(data), lambda: missing_data(settings))
        try:
            version = models.get()[1].version
        except ModelIntegrityError:
            version = None
        recorded = latest_diagnostics(settings) or {}
        return jsonify(model_version=version, missing_data=missing,
                       execution_time=recorded.get("execution_time"),
                       outdated_packages=recorded.get("outdated_packages"),
                       measured_at=recorded.get("measured_at"))

    @app.get("/risk")
    def risk():
        from reporting import read_risk_list

        top = request.args.get("top", "20")
        if not (top.isascii() and top.isdigit()) or not 1 <= int(top) <= MAX_TOP:
            abort(400, description=f"top must be a whole number from 1 to {MAX_TOP}")
        try:
            frame = read_risk_list(settings, int(top))
        except FileNotFoundError:
            abort(503, description="no risk list yet: run reporting.py")
        return jsonify(clients=frame.to_dict(orient="records"), count=len(frame))

    @app.get("/health")
    def health():
        try:
            deployed = models.get()[1]
        except ModelIntegrityError as exc:
            return jsonify(status="unavailable", error=str(exc)), 503
        return jsonify(status="ok", model_version=deployed.version,
                       deployed_at=deployed.manifest.get("deployed_at"))

    @app.get("/openapi.json")
    def openapi():
        return jsonify(openapi_document())

    return app


def _read_body(limit: int) -> bytes:
    """The request body; 413 for a body sent without Content-Length that runs past the limit.

    Werkzeug stops reading such a (chunked) body at the limit and hands over what it read, so a
    cut JSON or CSV body would be answered as if it were whole.
    """
    data = request.get_data(cache=False)
    if request.content_length is None and len(data) >= limit and \
            request.environ["wsgi.input"].read(1):
        abort(413, description=f"the body is larger than {limit} bytes")
    return data


def _parse_json(data: bytes):
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None


def settings_of(app: Flask) -> Settings:
    """The Settings an application was created with."""
    return app.extensions["risk"]["settings"]
