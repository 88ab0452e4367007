"""gunicorn settings for ``gunicorn wsgi:app``; each can be overridden on the command line."""

import logging
import os

bind = os.environ.get("RISK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("RISK_WORKERS", "2"))
# Threaded workers: a browser opens connections ahead of use and leaves them idle, and a sync
# worker blocks on such a socket until the timeout kills it (60 s in which it serves nobody).
# gthread keeps idle connections in a poller; its threads share the worker's model and caches.
worker_class = "gthread"
threads = int(os.environ.get("RISK_THREADS", "4"))
timeout = 60
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
# Reject absurd request lines and headers before the app sees them.
limit_request_line = 8190
limit_request_fields = 100


def post_fork(server, worker):
    """Each worker dies with its master, even when the master is killed with SIGKILL (the
    workers would otherwise notice only at their next check, or never if one hangs); and the
    app's log entries go where gunicorn writes its errors."""
    from pipeline.core.processes import die_with

    die_with(server.pid)
    log_where_gunicorn_does(server.log.error_log)


def log_where_gunicorn_does(error_log: logging.Logger) -> None:
    """The root logger writes through gunicorn's error log handlers: logs/api.log under
    ``make serve``, the console under ``python app.py``. Without a handler, the app's entries
    (an unexpected error's traceback and request id: pipeline.api.failures) went nowhere.

    Done here, in the worker, rather than in create_app, which tests call under pytest's own
    log capture. The handlers are gunicorn's own objects, so its reopening of the log file
    (SIGUSR1, after rotation) covers the app's entries too.
    """
    root = logging.getLogger()
    for handler in error_log.handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(error_log.level)
