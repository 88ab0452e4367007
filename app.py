"""The HTTP API (predictions, scores, summary statistics, diagnostics, the risk list, health)
and the pages people open in a browser (the state of the system, whom to call, one client).

``create_app()`` builds the Flask application; ``wsgi.py`` serves it with gunicorn. The API's
routes are the blueprint of pipeline.api.routes (every answer JSON, errors included); the pages
are the blueprint of pipeline.web.routes (HTML, errors included). The deployed
model is loaded once per worker, verified against its manifest, and replaced without a restart
when a new version is deployed (pipeline.api.state). In front of Flask, a thin WSGI layer returns
the answers routes have kept while what they were computed from is unchanged
(pipeline.api.answers).

As the course has it, ``from app import app`` gives the application of config.json beside the
scripts (made on first access, so that importing this module does no work), and
``python app.py`` serves it on 127.0.0.1:8000 (``--host``, ``--port``, ``--config``): through
gunicorn with gunicorn.conf.py, as ``make serve`` does, never Flask's debug server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flask import Flask

from pipeline.api.answers import serving_kept_answers
from pipeline.api.hooks import Request, add_common_headers, refuse_undecodable_query
from pipeline.api.metrics import init_metrics
from pipeline.api.routes import api
from pipeline.api.state import init_state
from pipeline.api.watching import init_watching
from pipeline.core.cli import base_parser
from pipeline.core.config import ConfigError, load_settings
from pipeline.web.routes import web

HERE = Path(__file__).resolve().parent


class RiskApp(Flask):
    """Flask with the app's request class (pipeline.api.hooks.Request), and without Flask's own
    log entry for an error raised outside a route (an ``after_request``, an error handler): the
    500 handlers log it, under the request id their answer carries (pipeline.api.failures)."""

    request_class = Request

    def log_exception(self, exc_info) -> None:
        """Nothing: the 500 handler that runs next logs the error with its request id."""


def create_app(config_path: str | Path | None = None, **overrides) -> Flask:
    """The application for a configuration file ($RISK_CONFIG, else config.json beside the
    scripts); keyword overrides replace its keys."""
    settings = load_settings(config_path or os.environ.get("RISK_CONFIG"), **overrides)
    app = RiskApp(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.json.sort_keys = False
    state = init_state(app, settings)
    app.before_request(refuse_undecodable_query)  # before the blueprints' own: the guards too
    app.after_request(add_common_headers)
    app.register_blueprint(api)
    app.register_blueprint(web)
    app.wsgi_app = serving_kept_answers(app.wsgi_app, state)
    init_watching(app)
    init_metrics(app, state)  # counts every request, those answered in front of Flask too
    return app


def __getattr__(name: str):
    """``app``, the course's module-level application, made on first access (PEP 562)."""
    if name == "app":
        made = globals()["app"] = create_app()
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def serve_command(config: str, host: str, port: int) -> list[str]:
    """The gunicorn command that serves the configuration's app, as ``make serve`` does."""
    return [sys.executable, "-m", "gunicorn", "--config", str(HERE / "gunicorn.conf.py"),
            "--chdir", str(HERE), "--bind", f"{host}:{port}", "wsgi:app"]


def main(argv: list[str] | None = None) -> int:
    """Serve the API and the pages (the course's ``python app.py``); returns only on error."""
    parser = base_parser("Serve the API and the pages with gunicorn (never in debug mode).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: "
                        "127.0.0.1; anything else exposes the API beyond this machine)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    args = parser.parse_args(argv)
    try:
        config = str(load_settings(args.config).config_path)  # one line now, not in a worker
    except ConfigError as exc:
        print(f"app failed: {exc}", file=sys.stderr)
        return 1
    command = serve_command(config, args.host, args.port)
    print(f"serving {config} on http://{args.host}:{args.port}/ with gunicorn (Ctrl-C stops it)",
          flush=True)
    os.execve(command[0], command, dict(os.environ, RISK_CONFIG=config))
    return 1  # not reached: the process is gunicorn now


if __name__ == "__main__":
    sys.exit(main())
