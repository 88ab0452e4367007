"""gunicorn settings for ``gunicorn wsgi:app``; each can be overridden on the command line."""

import os

bind = os.environ.get("RISK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("RISK_WORKERS", "2"))
threads = int(os.environ.get("RISK_THREADS", "1"))
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
