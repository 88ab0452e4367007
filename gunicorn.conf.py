"""gunicorn settings for ``gunicorn wsgi:app``; each can be overridden on the command line."""

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
    workers would otherwise notice only at their next check, or never if one hangs)."""
    from pipeline.core.processes import die_with

    die_with(server.pid)
