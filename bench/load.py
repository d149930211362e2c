"""Phase ``http``: ``searchsvc serve`` under load, next to a constant-response Flask app.

Both servers run as the service does in production — gunicorn, 2 sync workers, on a free
127.0.0.1 port — and get the same requests: ``GET /api/search?…`` built from the query set, in
the same order. The load generator is wrk (Debian's package; C, event-driven, one thread,
``clients`` connections, a Lua script cycling through the query set for a fixed duration,
stopped by its pid if it overruns). It runs on the same 2 cores as the server, so its CPU use
is reported beside the server's. Without wrk a Python generator is used (``clients`` threads
with ``http.client``), and it takes most of a core from the server it measures — the report
names the generator. Only 127.0.0.1 is contacted; servers are stopped by their pid.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

from bench.common import ROOT, Workspace, free_port, log, quantile, rnd, tree_cpu_s, tree_memory_mb
from bench.engines import index_path

TIMEOUT = 120


def request_paths(queries: list[dict]) -> list[str]:
    out = []
    for q in queries:
        params = {k: v for k, v in q["params"].items() if v not in (None, "", [])}
        out.append("/api/search?" + urlencode(params, doseq=True))
    return out


class Server:
    """A server process on 127.0.0.1, started and stopped by pid."""

    def __init__(self, name: str, cmd: list[str], port: int, log_path: Path):
        self.name, self.cmd, self.port, self.log_path = name, cmd, port, log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        self.log_fh = self.log_path.open("wb")
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=self.log_fh,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                                   f"see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/health")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer /api/health within {timeout} s")

    def memory(self) -> dict:
        return tree_memory_mb(self.proc.pid) if self.proc else {}

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log_fh.close()


def drive(port: int, paths: list[str], clients: int, seconds: float,
          stop_after: int | None = None) -> dict:
    """``clients`` concurrent keep-alive clients for ``seconds`` (or until ``stop_after``
    requests were sent); latency of every request."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[Counter] = [Counter() for _ in range(clients)]
    errors = [0] * clients
    sizes = [0] * clients
    finished = [0.0] * clients
    start = time.perf_counter()
    deadline = start + seconds

    budget = [stop_after if stop_after is not None else -1]
    lock = threading.Lock()

    def take() -> bool:
        if budget[0] < 0:
            return True
        with lock:
            budget[0] -= 1
            return budget[0] >= 0

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        k = (i * len(paths)) // clients
        while time.perf_counter() < deadline and take():
            path = paths[k % len(paths)]
            k += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                statuses[i][resp.status] += 1
                if resp.status == 200:
                    latencies[i].append(time.perf_counter() - t0)
                    sizes[i] += len(body)
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        conn.close()
        finished[i] = time.perf_counter()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + TIMEOUT + 10)
    elapsed = (max(finished) if stop_after is not None else max(max(finished), deadline)) - start
    lat = [x for per in latencies for x in per]
    status = sum(statuses, Counter())
    ok = len(lat)
    return {
        "clients": clients, "seconds": rnd(elapsed, 2), "requests": ok,
        "rps": rnd(ok / elapsed, 1) if elapsed else None,
        "p50_ms": rnd(quantile(lat, 0.5) * 1000, 2) if lat else None,
        "p90_ms": rnd(quantile(lat, 0.9) * 1000, 2) if lat else None,
        "p99_ms": rnd(quantile(lat, 0.99) * 1000, 2) if lat else None,
        "max_ms": rnd(max(lat) * 1000, 2) if lat else None,
        "errors": sum(errors), "non_200": sum(v for k, v in status.items() if k != 200),
        "statuses": {str(k): v for k, v in sorted(status.items())},
        "mean_bytes": round(sum(sizes) / ok) if ok else None,
    }


WRK_SCRIPT = r"""
-- Cycle through the request paths (one per line of the file named by WRK_PATHS) and print
-- one JSON line of results when done. One wrk thread: a single counter for all connections.
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local n = tonumber(os.getenv("WRK_START") or "0")
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d}\n', summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def drive_wrk(port: int, paths: list[str], clients: int, seconds: float,
              workdir: Path) -> dict:
    """The same load as :func:`drive`, generated by wrk (C, event-driven): on a 2-core machine
    the Python client's own CPU use would otherwise be taken from the server it measures."""
    import json
    import shutil

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "paths.txt").write_text("\n".join(paths) + "\n", encoding="utf-8")
    (workdir / "cycle.lua").write_text(WRK_SCRIPT, encoding="utf-8")
    cmd = [shutil.which("wrk") or "wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s",
           f"--timeout={TIMEOUT}s", "-s", str(workdir / "cycle.lua"),
           f"http://127.0.0.1:{port}"]
    env = dict(os.environ, WRK_PATHS=str(workdir / "paths.txt"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    try:
        out, err = proc.communicate(timeout=seconds + TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)  # bounded: stopped by its pid
        out, err = proc.communicate()
    line = next((x for x in reversed(out.splitlines()) if x.startswith("{")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip()[:300]}")
    w = json.loads(line)
    elapsed = w["duration_us"] / 1e6
    non_200 = w["status"]
    ok = w["requests"] - non_200
    return {
        "clients": clients, "seconds": rnd(elapsed, 2), "requests": ok,
        "rps": rnd(ok / elapsed, 1) if elapsed else None,
        "p50_ms": rnd(w["p50_us"] / 1000, 2), "p90_ms": rnd(w["p90_us"] / 1000, 2),
        "p99_ms": rnd(w["p99_us"] / 1000, 2), "max_ms": rnd(w["max_us"] / 1000, 2),
        "errors": w["connect"] + w["read"] + w["write"] + w["timeout"], "non_200": non_200,
        "mean_bytes": round(w["bytes"] / w["requests"]) if w["requests"] else None,
        "generator": "wrk",
    }


def inprocess_rate(ws: Workspace, queries: list[dict], budget_s: float = 60) -> dict:
    """Single-thread in-process rate of ``search()`` over the query set (1 / mean latency):
    from the query phase of this run when it ran, else measured here with one pass."""
    q = ws.results.get("query", {}).get("engines", {}).get("searchsvc")
    if q and q["overall"].get("mean"):
        return {"rate_qps": rnd(1000 / q["overall"]["mean"], 2),
                "mean_ms": q["overall"]["mean"],
                "first_rate_qps": q["overall"].get("first_rate_qps"),
                "first_mean_ms": q["overall"].get("first_mean"),
                "from": "query phase (median of runs)"}
    from bench.engines import open_engine
    from bench.latency import measure, summarise, warm_up

    engine = open_engine("searchsvc", ws.index_dir("searchsvc", "jsonl"))
    warm_up(engine)
    per = measure(engine, queries, 2, budget_s / 8)
    overall = summarise(queries, per)["overall"]
    mean = overall["mean"]
    return {"rate_qps": rnd(1000 / mean, 2) if mean else None, "mean_ms": mean,
            "first_rate_qps": overall.get("first_rate_qps"),
            "first_mean_ms": overall.get("first_mean"),
            "from": "two passes in the http phase"}


def run(ws: Workspace, queries: list[dict], seconds: float = 10,
        levels: tuple[int, ...] = (1, 8, 32), workers: int = 2) -> dict:
    started = time.perf_counter()
    paths = request_paths(queries)
    index = index_path(ws.index_dir("searchsvc", "jsonl"), "searchsvc")
    reference = inprocess_rate(ws, queries)
    import shutil

    use_wrk = shutil.which("wrk") is not None
    out: dict = {"seconds_per_level": seconds, "levels": list(levels), "workers": workers,
                 "requests_in_set": len(paths), "inprocess": reference, "servers": {},
                 "generator": "wrk" if use_wrk else "python threads (wrk not installed)"}
    if not use_wrk:
        log("http: wrk not found (apt-get install wrk); using the Python load generator, "
            "whose CPU use is taken from the server's 2 cores")
    servers = {
        "searchsvc": [sys.executable, "-m", "searchsvc", "serve", "--host", "127.0.0.1",
                      "--index", str(index), "--source", str(ws.root / "no-source"),
                      "--workers", str(workers), "--port"],
        "constant": [sys.executable, "-m", "gunicorn", "--workers", str(workers),
                     "--worker-class", "sync", "--log-level", "warning", "--timeout", "60",
                     "--keep-alive", "5", "bench.const_app:app", "--bind"],
    }
    for name, cmd in servers.items():
        port = free_port()
        arg = str(port) if name == "searchsvc" else f"127.0.0.1:{port}"
        server = Server(name, cmd + [arg], port, ws.root / f"{name}-server.log")
        log(f"http: starting {name} on 127.0.0.1:{port}")
        server.start()
        result = {"port": port, "levels": []}
        try:
            # Warm-up, not recorded: the query set three times over (bounded). Each request goes
            # to either worker, so each worker has then most likely (7 in 8) seen each query,
            # as the in-process reference (the median of three runs per query) has.
            warm = drive(port, paths, 2, min(60.0, seconds * 6), stop_after=3 * len(paths))
            result["warmup"] = {k: warm[k] for k in ("requests", "seconds", "errors")}
            for clients in levels:
                cpu0, own0 = tree_cpu_s(server.proc.pid), time.process_time()
                children0 = os.times().children_user + os.times().children_system
                if use_wrk:
                    r = drive_wrk(port, paths, clients, seconds, ws.root / "wrk")
                    own = (os.times().children_user + os.times().children_system
                           - children0)
                else:
                    r = drive(port, paths, clients, seconds)
                    own = time.process_time() - own0
                server_cpu = tree_cpu_s(server.proc.pid) - cpu0
                r["server_cores"] = rnd(server_cpu / r["seconds"], 2) if r["seconds"] else None
                r["server_cpu_ms_per_request"] = (rnd(server_cpu * 1000 / r["requests"], 2)
                                                  if r["requests"] else None)
                r["loadgen_cores"] = rnd(own / r["seconds"], 2) if r["seconds"] else None
                r["loadavg"] = [round(x, 2) for x in os.getloadavg()]
                log(f"  {name}: {clients:>2} clients: {r['rps']} req/s, p50 {r['p50_ms']} ms, "
                    f"p99 {r['p99_ms']} ms, errors {r['errors']}, non-200 {r['non_200']}")
                if clients == 8 or clients == levels[-1]:
                    r["server_memory"] = server.memory()
                result["levels"].append(r)
        finally:
            server.stop()
        out["servers"][name] = result
    out["seconds"] = rnd(time.perf_counter() - started, 1)
    return out
