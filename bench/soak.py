"""Soak benchmark: ``searchsvc serve`` under sustained mixed search load, watching its memory.

    .venv/bin/python -m bench.soak                  # 300 s on Reuters-21578 (JSONL)
    .venv/bin/python -m bench.soak --seconds 30     # a short check

1. Builds an index of the Reuters JSONL in a temporary folder, or reuses the one an earlier run
   left there (``--index`` to choose the folder, ``--rebuild`` to force a build).
2. Starts ``searchsvc serve`` with 2 workers on a free 127.0.0.1 port, in its own process group
   (killed at the end, whatever happens).
3. Finds the highest sustainable rate quickly: concurrency 1, 2, 4, 8 for ``--step-seconds``
   each; the concurrency with the best throughput and no error is used.
4. Runs mixed queries (``bench/queries.jsonl`` if present, else a built-in list) for
   ``--seconds`` at that concurrency, sampling the resident memory of the whole server (the
   gunicorn master and its workers: VmRSS of every process in its process group) every
   ``--sample-seconds``.
5. Prints a summary and writes JSON (``--out``): requests, errors, req/s, p50/p99 latency, RSS
   at start/middle/end and the maximum. Exits 1 on any error (or if a memory sample failed).

Not part of the test suite. Standard library only, apart from searchsvc itself.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "reuters21578.jsonl.gz"
DEFAULT_QUERIES = ROOT / "bench" / "queries.jsonl"
DEFAULT_OUT = ROOT / "bench" / "results" / "soak.json"
HOST = "127.0.0.1"
STEPS = (1, 2, 4, 8)

BUILTIN_QUERIES: list[dict] = [
    {"q": "oil"}, {"q": "crude oil prices"}, {"q": '"interest rates"'}, {"q": "tarif*"},
    {"q": "gold OR silver", "sort": "newest"}, {"q": "opec~"},
    {"q": "bank", "topics": ["money-fx"]}, {"q": "wheat export", "places": ["usa"]},
    {"q": "coffee", "from": "1987-03-01", "to": "1987-03-31"},
    {"q": "dollar yen", "page": "2"}, {"q": "shares profit", "recency": "30d"},
    {"q": "trade deficit", "interval": "week"}, {"q": "grain AND NOT wheat"},
    {"q": "takeover bid", "collapse": "false"}, {"q": ""}, {"topics": ["acq"]},
    {"q": "title:japan"}, {"q": "inflaton"},
]


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- requests -------------------------------------------------------------------------------------


def load_paths(queries_file: Path, rng: random.Random) -> tuple[list[str], str]:
    params: list[dict] = []
    source = "built-in list"
    if queries_file.is_file():
        with queries_file.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    params.append(json.loads(line)["params"])
        source = str(queries_file)
    if not params:
        params = list(BUILTIN_QUERIES)
    paths = ["/api/search?" + urlencode(p, doseq=True) for p in params]
    # A little of the rest of what a search page asks for.
    words = [p.get("q", "").split()[0].strip('"*~') for p in params if p.get("q", "").split()]
    paths += [f"/api/suggest?{urlencode({'q': w[:3]})}" for w in words[:20] if len(w) >= 3]
    paths += ["/api/stats", "/api/health"]
    rng.shuffle(paths)
    return paths, source


def fetch(port: int, path: str, timeout: float = 60.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def check(status: int, body: bytes, path: str) -> None:
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
    doc = json.loads(body)
    if path.startswith("/api/search") and not {"total", "hits", "facets"} <= doc.keys():
        raise RuntimeError(f"not a search document: {body[:200]!r}")


@dataclass
class Run:
    """Load at a fixed concurrency for a fixed time."""

    port: int
    paths: list[str]
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def execute(self, on_tick=None, tick_seconds: float = 5.0) -> Run:
        lock = threading.Lock()
        stop = time.monotonic() + self.seconds
        counter = iter(range(10**12))

        def worker() -> None:
            while time.monotonic() < stop:
                with lock:
                    path = self.paths[next(counter) % len(self.paths)]
                started = time.perf_counter()
                try:
                    status, body = fetch(self.port, path)
                    check(status, body, path)
                except Exception as exc:  # every failure counts; none ends the worker
                    with lock:
                        self.errors.append(f"{path}: {type(exc).__name__}: {exc}"[:300])
                    continue
                took = time.perf_counter() - started
                with lock:
                    self.latencies.append(took)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.concurrency)]
        began = time.monotonic()
        for t in threads:
            t.start()
        next_tick = began
        while any(t.is_alive() for t in threads):
            if on_tick and time.monotonic() >= next_tick:
                on_tick(time.monotonic() - began)
                next_tick += tick_seconds
            time.sleep(0.05)
            if time.monotonic() > stop + 120:
                self.errors.append("client threads did not stop within 120 s of the end")
                break
        self.elapsed = time.monotonic() - began
        return self

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


# -- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def group_rss_kib(pgid: int) -> tuple[int, int]:
    """(total VmRSS in KiB, number of processes) of every process in process group ``pgid``."""
    total = count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
            # comm may hold spaces and parentheses: the fields after the last ')' are fixed
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) != pgid:  # state ppid pgrp …
                continue
            with open(f"/proc/{entry.name}/status", encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        count += 1
                        break
        except (OSError, ValueError, IndexError):
            continue  # the process went away
    return total, count


class Server:
    def __init__(self, index: Path, source: Path, workers: int, log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "searchsvc", "serve", "--host", HOST, "--port", str(self.port),
             "--index", str(index), "--source", str(source), "--workers", str(workers)],
            cwd=ROOT, env=clean_env(), stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(OSError):
                status, body = fetch(self.port, "/api/health", timeout=5)
                if status == 200:
                    return
                raise RuntimeError(f"server is up but unhealthy: {status} {body[:200]!r}")
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout} s: {self.tail()}")

    def tail(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._log.close()


# -- the index ------------------------------------------------------------------------------------


def ensure_index(corpus: Path, index: Path, rebuild: bool) -> dict:
    info_path = index / "current" / "build.json"
    if not rebuild and info_path.is_file():
        info = json.loads(info_path.read_text("utf-8"))
        if info.get("sources") == [str(corpus)]:
            log(f"reusing the index in {index} ({info.get('documents')} documents)")
            return {"reused": True, "documents": info.get("documents"),
                    "build_seconds": info.get("seconds")}
    log(f"building the index of {corpus} in {index} …")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "searchsvc", "index", str(corpus), "--index", str(index)],
        cwd=ROOT, env=clean_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"the build failed ({done.returncode}): {done.stderr[-2000:]}")
    info = json.loads(info_path.read_text("utf-8"))
    log(f"built {info.get('documents')} documents in {time.monotonic() - started:.1f} s")
    return {"reused": False, "documents": info.get("documents"),
            "build_seconds": info.get("seconds")}


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Soak benchmark: searchsvc serve (2 workers) under sustained mixed search "
        "load at its best error-free concurrency, sampling the server's memory. Exits 1 on any "
        "error.")
    ap.add_argument("--seconds", type=float, default=300.0,
                    help="length of the soak run (default 300)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                    help=f"JSONL corpus to index (default {DEFAULT_CORPUS})")
    ap.add_argument("--index", type=Path,
                    default=Path(tempfile.gettempdir()) / "searchsvc-soak" / "index",
                    help="index folder, reused when it holds a build of --corpus "
                         "(default: a folder in the temporary directory)")
    ap.add_argument("--rebuild", action="store_true", help="build the index even if reusable")
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES,
                    help="JSONL of {'params': {...}} search requests (default bench/queries.jsonl"
                         "; a built-in list when absent)")
    ap.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    ap.add_argument("--step-seconds", type=float, default=4.0,
                    help="seconds per concurrency step when calibrating (default 4)")
    ap.add_argument("--concurrency", type=int, default=0,
                    help="skip calibration and use this many concurrent clients")
    ap.add_argument("--sample-seconds", type=float, default=5.0,
                    help="RSS sampling period (default 5)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help=f"JSON result file (default {DEFAULT_OUT.relative_to(ROOT)})")
    ap.add_argument("--seed", type=int, default=1, help="query order seed")
    return ap.parse_args(argv)


def mib(kib: int | None) -> float | None:
    return round(kib / 1024, 1) if kib is not None else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.corpus.exists():
        print(f"error: no corpus at {args.corpus}", file=sys.stderr)
        return 2
    args.index.parent.mkdir(parents=True, exist_ok=True)
    paths, query_source = load_paths(args.queries, random.Random(args.seed))
    index_info = ensure_index(args.corpus.resolve(), args.index, args.rebuild)
    server = Server(args.index, args.corpus, args.workers,
                    args.index.parent / f"serve-{os.getpid()}.log")
    result: dict = {"corpus": str(args.corpus), "index": index_info, "queries": query_source,
                    "distinct_requests": len(paths), "workers": args.workers,
                    "seconds": args.seconds}
    try:
        server.wait_ready()
        log(f"server on {HOST}:{server.port} (pgid {server.proc.pid}); warming up")
        Run(server.port, paths, 4, 3.0).execute()  # every worker opens the index

        steps = []
        if args.concurrency:
            chosen = args.concurrency
        else:
            for c in STEPS:
                run = Run(server.port, paths, c, args.step_seconds).execute()
                steps.append({"concurrency": c, "requests": run.requests,
                              "errors": len(run.errors), "rps": round(run.rate, 1),
                              "p50_ms": _ms(run.percentile(50)),
                              "p99_ms": _ms(run.percentile(99))})
                log(f"concurrency {c}: {run.rate:.1f} req/s, {len(run.errors)} errors, "
                    f"p99 {_ms(run.percentile(99))} ms")
            clean = [s for s in steps if s["errors"] == 0 and s["requests"]]
            if not clean:
                result["calibration"] = steps
                raise RuntimeError("every concurrency step had errors")
            chosen = max(clean, key=lambda s: s["rps"])["concurrency"]
        result["calibration"] = steps
        result["concurrency"] = chosen
        log(f"soaking at concurrency {chosen} for {args.seconds:.0f} s")

        samples: list[dict] = []

        def sample(at: float) -> None:
            kib, procs = group_rss_kib(server.proc.pid)
            samples.append({"t": round(at, 1), "rss_kib": kib, "processes": procs})
            if len(samples) % 6 == 1:
                log(f"t={at:5.0f} s  rss {mib(kib)} MiB over {procs} processes")

        run = Run(server.port, paths, chosen, args.seconds).execute(
            on_tick=sample, tick_seconds=args.sample_seconds)
        sample(run.elapsed)
        if server.proc.poll() is not None:
            run.errors.append(f"the server exited with {server.proc.returncode}")

        rss = [s["rss_kib"] for s in samples if s["processes"]]
        bad_samples = [s for s in samples if not s["processes"]]
        result.update({
            "requests": run.requests,
            "errors": len(run.errors),
            "error_examples": run.errors[:10],
            "rps": round(run.rate, 1),
            "latency_ms": {"p50": _ms(run.percentile(50)), "p99": _ms(run.percentile(99)),
                           "mean": _ms(statistics.fmean(run.latencies))
                           if run.latencies else None,
                           "max": _ms(max(run.latencies)) if run.latencies else None},
            "rss_mib": {"start": mib(rss[0]) if rss else None,
                        "middle": mib(rss[len(rss) // 2]) if rss else None,
                        "end": mib(rss[-1]) if rss else None,
                        "max": mib(max(rss)) if rss else None},
            "server_processes": samples[-1]["processes"] if samples else 0,
            "rss_samples": samples,
            "failed_rss_samples": len(bad_samples),
        })
    except Exception as exc:
        result["fatal"] = f"{type(exc).__name__}: {exc}"
        log(f"error: {result['fatal']}")
    finally:
        server.stop()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    summary = {k: v for k, v in result.items() if k not in ("rss_samples", "error_examples")}
    print(json.dumps(summary, indent=2))
    log(f"wrote {args.out}")
    failed = ("fatal" in result or result.get("errors", 1) or result.get("failed_rss_samples")
              or not result.get("requests"))
    if result.get("error_examples"):
        for example in result["error_examples"]:
            log(f"error: {example}")
    return 1 if failed else 0


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 1) if seconds is not None else None


if __name__ == "__main__":
    sys.exit(main())
