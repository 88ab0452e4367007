"""What the credential check costs the kept answers served in front of Flask (issue 18).

    .venv/bin/python -m bench.auth_cost      # prints one line per case; about 5 s

The check of pipeline.api.answers (the API's rule, ``api_call_allowed``) on a WSGI environ, in
this process, as a worker runs it: no token configured, the bearer token (a constant-time compare
and a look in the worker's list of waiting addresses), a session cookie (one HMAC and one read
of the shared SQLite store, which sign-out needs: no worker may trust a session it saw before),
a forged cookie (the HMAC refuses it before the store), and the cookie again with 10,000 other
sessions open. Medians of batches, in microseconds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from pipeline.api.answers import environ_allowed
from pipeline.api.auth import SESSION_COOKIE, Credentials
from pipeline.core.config import load_settings

TOKEN = "a-token-for-the-benchmark-of-auth"
BATCH, BATCHES = 2_000, 15


def _median_us(check, batch: int) -> float:
    """Median over BATCHES of the mean time of one call in a batch, in microseconds."""
    times = []
    for _ in range(BATCHES):
        started = time.perf_counter()
        for _ in range(batch):
            check()
        times.append((time.perf_counter() - started) / batch * 1e6)
    return statistics.median(times)


def measure(root: Path, batch: int = BATCH) -> dict[str, float]:
    """{case: microseconds per check} for a project folder root (written to)."""
    config = root / "config.json"
    config.write_text('{"input_folder_path": "in", "output_folder_path": "out", '
                      '"test_data_path": "test", "output_model_path": "models", '
                      '"prod_deployment_path": "deploy"}')
    auth = Credentials.of(load_settings(config), TOKEN)
    cookie = auth.new_session()
    forged = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")

    def environ(**headers) -> dict:
        return {"PATH_INFO": "/scoring", "REQUEST_METHOD": "GET", "REMOTE_ADDR": "127.0.0.1",
                **headers}

    bearer = environ(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    with_cookie = environ(HTTP_COOKIE=f"{SESSION_COOKIE}={cookie}")
    with_forged = environ(HTTP_COOKIE=f"{SESSION_COOKIE}={forged}")
    assert environ_allowed(bearer, auth) and environ_allowed(with_cookie, auth)
    assert not environ_allowed(with_forged, auth)
    found = {
        "no token configured": _median_us(lambda: environ_allowed(bearer, None), batch),
        "bearer token": _median_us(lambda: environ_allowed(bearer, auth), batch),
        "session cookie": _median_us(lambda: environ_allowed(with_cookie, auth), batch),
        "forged cookie": _median_us(lambda: environ_allowed(with_forged, auth), batch),
    }
    for _ in range(10_000):
        auth.new_session()
    found["session cookie, 10,000 sessions open"] = _median_us(
        lambda: environ_allowed(with_cookie, auth), batch)
    return found


def main() -> int:
    """Print the cost of each case."""
    with tempfile.TemporaryDirectory() as folder:
        for case, micros in measure(Path(folder)).items():
            print(f"{case:40s} {micros:7.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
