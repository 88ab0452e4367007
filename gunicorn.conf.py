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
# No control socket: gunicorn 25+ opens one at ~/.gunicorn/gunicorn.ctl for every server, so the
# served API, the tools' and benchmarks' servers and the tests' would take it from each other;
# nothing here uses gunicornc.
control_socket_disable = True

# /metrics adds up the workers' request counts through prometheus_client's multiprocess mode:
# each worker writes its counts to files in PROMETHEUS_MULTIPROC_DIR, which must be set before
# a worker imports prometheus_client, and hold nothing of an earlier server.
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_MADE_HERE = []  # the folder on_starting made, removed on exit


def on_starting(server):
    """Before any worker starts: the multiprocess folder, emptied ($PROMETHEUS_MULTIPROC_DIR,
    or a new temporary folder for this server), set in the environment the workers inherit."""
    import glob
    import tempfile

    folder = os.environ.get(METRICS_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        for stale in glob.glob(os.path.join(folder, "*.db")):
            os.remove(stale)
    else:
        folder = tempfile.mkdtemp(prefix="risk-metrics-")
        _MADE_HERE.append(folder)
        os.environ[METRICS_ENV] = folder


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


def child_exit(server, worker):
    """A worker is gone: its live gauges leave the sums (its counts stay, as counts must)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """The temporary multiprocess folder goes with the server that made it."""
    import shutil

    for folder in _MADE_HERE:
        shutil.rmtree(folder, ignore_errors=True)
