"""HTTP load on loopback: wrk when installed, else a threaded standard-library client.

Every run is bounded in time and sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def client_name() -> str:
    """Which load client runs."""
    return "wrk" if shutil.which("wrk") else "python threads (wrk not installed)"


def _wrk(port: int, path: str, body: bytes, connections: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text('wrk.method = "POST"\nwrk.body = ' + json.dumps(body.decode()) +
                          '\nwrk.headers["Content-Type"] = "application/json"\n')
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                              "-s", str(script), f"http://127.0.0.1:{port}{path}"],
                             capture_output=True, text=True, timeout=seconds + 30, check=True)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = _seconds(re.search(r"\s50%\s+(\S+)", text).group(1))
    p99 = _seconds(re.search(r"\s99%\s+(\S+)", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": int(errors.group(1)) if errors else 0}


def _threads(port: int, path: str, body: bytes, connections: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = [0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker():
        mine = []
        while time.perf_counter() < stop:
            seconds, status = post_once(port, path, body)
            mine.append(seconds)
            if status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    def pick(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    return {"rps": len(latencies) / elapsed, "p50": pick(0.5), "p99": pick(0.99),
            "errors": errors[0]}


def load(port: int, path: str, body: bytes, connections: int = 8, seconds: float = 5) -> dict:
    """Requests per second, p50 and p99 latency (s) of POSTs of body at path."""
    run = _wrk if shutil.which("wrk") else _threads
    return run(port, path, body, connections, seconds)


def post_once(port: int, path: str, body: bytes) -> tuple[float, int]:
    """(seconds, status) of one POST."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return time.perf_counter() - started, response.status


def get_once(port: int, path: str) -> tuple[float, int]:
    """(seconds, status) of one GET."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return time.perf_counter() - started, response.status
