"""The HTTP API (predictions, scores, summary statistics, diagnostics, the risk list, health)
and the pages people open in a browser (the state of the system, whom to call, one client).

``create_app()`` builds the Flask application; ``wsgi.py`` serves it with gunicorn. The API's
routes are the blueprint of pipeline.api.routes (every answer JSON, errors included); the pages
are the blueprint of pipeline.web.routes (HTML, errors included). The deployed
model is loaded once per worker, verified against its manifest, and replaced without a restart
when a new version is deployed (pipeline.api.state). In front of Flask, a thin WSGI layer returns
the answers routes have kept while what they were computed from is unchanged
(pipeline.api.answers).
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from pipeline.api.answers import serving_kept_answers
from pipeline.api.routes import api
from pipeline.api.state import init_state
from pipeline.core.config import load_settings
from pipeline.web.routes import web


def create_app(config_path: str | Path | None = None, **overrides) -> Flask:
    """The application for a configuration file ($RISK_CONFIG, else config.json beside the
    scripts); keyword overrides replace its keys."""
    settings = load_settings(config_path or os.environ.get("RISK_CONFIG"), **overrides)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.json.sort_keys = False
    state = init_state(app, settings)
    app.register_blueprint(api)
    app.register_blueprint(web)
    app.wsgi_app = serving_kept_answers(app.wsgi_app, state)
    return app
