"""Shared helpers: paths, the workspace of temporary corpora and indexes, statistics, processes.

Nothing here measures anything by itself; the phases (``index``, ``query``, ``http``,
``quality``) use these helpers so their numbers are computed the same way.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SEEDS = ROOT / "seeds"
QUERIES = BENCH / "queries.jsonl"
DEFAULT_OUT = BENCH / "results"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora"
REUTERS_TAR = "reuters21578-articles.tar.gz"
REUTERS_JSONL = "reuters21578.jsonl.gz"
FACETS = ("topics", "places", "people", "orgs", "source")
REPLICAS = 10  # the replicated JSONL corpus: Reuters 10 times, 208,410 articles


def log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)


# -- statistics ------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float | None:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def quantile(values: Sequence[float], q: float, weights: Sequence[float] | None = None,
             ) -> float | None:
    """Nearest-rank quantile, optionally weighted (a value with weight 2 counts twice)."""
    if not values:
        return None
    if weights is None:
        weights = [1.0] * len(values)
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(w for _, w in pairs)
    target = q * total
    acc = 0.0
    for value, weight in pairs:
        acc += weight
        if acc >= target - 1e-12:
            return value
    return pairs[-1][0]


def summary_ms(latencies_s: Sequence[float], weights: Sequence[float] | None = None) -> dict:
    """p50/p95/p99/max/mean in milliseconds of latencies given in seconds."""
    if not latencies_s:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    w = list(weights) if weights is not None else [1.0] * len(latencies_s)
    mean = sum(v * x for v, x in zip(latencies_s, w, strict=True)) / sum(w)
    return {
        "n": len(latencies_s),
        "p50": _ms(quantile(latencies_s, 0.50, w)),
        "p95": _ms(quantile(latencies_s, 0.95, w)),
        "p99": _ms(quantile(latencies_s, 0.99, w)),
        "max": _ms(max(latencies_s)),
        "mean": _ms(mean),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def rnd(value: float | None, digits: int = 3) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(value, digits)


# -- machine ---------------------------------------------------------------------------------


def machine_info() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        with open("/proc/meminfo") as fh:
            info["mem_gb"] = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for name in ("whoosh", "tantivy", "flask", "gunicorn", "numpy", "ir_measures"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:  # not installed: the phase that needs it says so
            versions[name] = None
    import sqlite3

    versions["sqlite"] = sqlite3.sqlite_version
    info["versions"] = versions
    return info


def searchsvc_version() -> dict:
    """Which searchsvc was measured: ``BENCH_SEARCHSVC`` if set (a run on a pinned copy says
    so there), else the commit and whether ``searchsvc/`` differs from it."""
    if os.environ.get("BENCH_SEARCHSVC"):
        return {"described": os.environ["BENCH_SEARCHSVC"]}
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "searchsvc"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"described": "unknown (no git)"}
    if not commit:
        return {"described": "unknown (no git)"}
    return {"commit": commit, "described": commit + (" with uncommitted changes in searchsvc/"
                                                     if dirty else "")}


def dir_size(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- processes -------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out.extend(int(x) for x in fh.read().split())
    except OSError:
        pass
    return out


def process_tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; PSS shares copy-on-write pages fairly between forks."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss = pss = int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by a process and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def tree_memory_mb(pid: int) -> dict:
    procs = process_tree(pid)
    mem = [_memory_kb(p) for p in procs]
    return {"processes": len(procs), "rss_mb": round(sum(r for r, _ in mem) / 1024, 1),
            "pss_mb": round(sum(p for _, p in mem) / 1024, 1),
            "max_process_rss_mb": round(max((r for r, _ in mem), default=0) / 1024, 1)}


@dataclass
class ChildResult:
    returncode: int
    timed_out: bool
    wall_s: float
    cpu_s: float
    maxrss_mb: float
    peak_tree_pss_mb: float
    peak_tree_rss_mb: float
    stdout: str
    stderr: str
    memory_killed: bool = False


def _kill_tree(pid: int) -> None:
    # The build's own forked workers too, each by its pid (children first).
    for p in reversed(process_tree(pid)):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_measured(cmd: list[str], cwd: Path = ROOT, timeout: float = 1800,
                 sample_every: float = 0.2, mem_limit_mb: float | None = None,
                 env: dict | None = None) -> ChildResult:
    """Run ``cmd`` and measure it with its descendants: wall and CPU time (``wait4`` rusage,
    which includes the children it waited for), the largest single process (``ru_maxrss``) and
    the peak summed PSS/RSS of the whole process tree, sampled every ``sample_every`` s.
    Past ``timeout`` seconds, or ``mem_limit_mb`` of tree PSS, the tree is killed (a shared
    machine must not be run out of memory by a benchmark)."""
    env = dict(env or os.environ, PYTHONWARNINGS="ignore")
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=out_f, stderr=err_f, env=env)
    peak = {"pss": 0, "rss": 0}
    done = threading.Event()
    killed = threading.Event()

    def sample() -> None:
        while not done.is_set():
            mem = [_memory_kb(p) for p in process_tree(proc.pid)]
            peak["rss"] = max(peak["rss"], sum(r for r, _ in mem))
            peak["pss"] = max(peak["pss"], sum(p for _, p in mem))
            if mem_limit_mb and peak["pss"] > mem_limit_mb * 1024 and not killed.is_set():
                killed.set()
                _kill_tree(proc.pid)
            done.wait(sample_every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    deadline = started + timeout
    timed_out = False
    status = None
    usage = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            _kill_tree(proc.pid)
            pid, status, usage = os.wait4(proc.pid, 0)
            timed_out = True
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    return ChildResult(
        returncode=proc.returncode, timed_out=timed_out, wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024, peak_tree_pss_mb=peak["pss"] / 1024,
        peak_tree_rss_mb=peak["rss"] / 1024,
        stdout=out_f.read().decode("utf-8", "replace"),
        stderr=err_f.read().decode("utf-8", "replace"), memory_killed=killed.is_set())


def self_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the workspace: corpora and indexes in a temporary folder ---------------------------------


@dataclass
class Corpus:
    """One benchmark input: the sources given to the indexers and what they hold."""

    name: str
    sources: list[Path]
    articles: int
    input_bytes: int
    note: str = ""


@dataclass
class Workspace:
    """Temporary corpora and indexes of one run, shared between phases (``all`` builds the
    Reuters indexes once, in the indexing phase, and the later phases reuse them)."""

    corpus_dir: Path
    cranfield_dir: Path
    smoke: bool = False
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="searchsvc-bench-")))
    corpora: dict[str, Corpus] = field(default_factory=dict)
    indexes: dict[tuple[str, str], Path] = field(default_factory=dict)
    results: dict = field(default_factory=dict)

    def cleanup(self) -> None:
        # OpenSearch indices live in the cluster, not in the folder: drop them first.
        from bench.engines import OPENSEARCH_META, drop_opensearch

        for meta in self.root.rglob(OPENSEARCH_META):
            drop_opensearch(meta.parent)
        shutil.rmtree(self.root, ignore_errors=True)

    def index_dir(self, engine: str, corpus: str = "jsonl") -> Path:
        """The folder holding ``engine``'s index of ``corpus``: the one the indexing phase
        built, or a fresh (untimed) build when that phase did not run."""
        if (engine, corpus) not in self.indexes:
            from bench.engines import build_engine

            out = self.root / "builds" / f"{corpus}-{engine}-untimed"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            log(f"building the {engine} index of {corpus} (not timed)")
            build_engine(engine, out, self.corpus(corpus).sources)
            self.indexes[(engine, corpus)] = out
        return self.indexes[(engine, corpus)]

    # corpora ------------------------------------------------------------------------------

    def corpus(self, name: str) -> Corpus:
        """``text`` (extracted seed-format files), ``jsonl`` (1x) or ``jsonl10`` (10x)."""
        if name not in self.corpora:
            maker = {"text": self._text, "jsonl": self._jsonl,
                     f"jsonl{REPLICAS}": self._replicated}[name]
            self.corpora[name] = maker()
        return self.corpora[name]

    def _text(self) -> Corpus:
        if self.smoke:
            files = sorted(SEEDS.glob("*.txt"))
            return Corpus("text", [SEEDS], len(files), sum(f.stat().st_size for f in files),
                          "the bundled seed files")
        target = self.root / "text"
        target.mkdir()
        log(f"extracting {REUTERS_TAR} to {target}")
        with tarfile.open(self.corpus_dir / REUTERS_TAR) as tar:
            tar.extractall(target, filter="data")
        files = [p for p in target.rglob("*.txt")]
        subdirs = [p for p in target.iterdir() if p.is_dir()]
        source = subdirs[0] if len(subdirs) == 1 else target
        return Corpus("text", [source], len(files), sum(f.stat().st_size for f in files),
                      f"{REUTERS_TAR}, extracted: one seed-format file per article")

    def _jsonl(self) -> Corpus:
        if self.smoke:
            path = self.root / "seeds.jsonl"
            records = seed_records()
            write_jsonl(path, records)
            return Corpus("jsonl", [path], len(records), path.stat().st_size,
                          "the seeds as JSON Lines")
        path = self.corpus_dir / REUTERS_JSONL
        with gzip.open(path, "rb") as fh:
            n = size = 0
            for line in fh:
                if line.strip():
                    n += 1
                size += len(line)
        return Corpus("jsonl", [path], n, size,
                      f"{REUTERS_JSONL} as shipped (MB/s counts uncompressed bytes)")

    def _replicated(self) -> Corpus:
        base = self.corpus("jsonl")
        suffix = ".jsonl" if self.smoke else ".jsonl.gz"
        path = self.root / f"replicated-{REPLICAS}x{suffix}"
        log(f"writing the {REPLICAS}x corpus to {path}")
        opener = gzip.open if suffix.endswith(".gz") else open
        n = size = 0
        src_opener = gzip.open if base.sources[0].name.endswith(".gz") else open
        with src_opener(base.sources[0], "rb") as src:
            lines = [line for line in src if line.strip()]
        with opener(path, "wb", **({"compresslevel": 1} if suffix.endswith(".gz") else {})) as out:
            for replica in range(REPLICAS):
                for line in lines:
                    if replica:
                        obj = json.loads(line)
                        obj["id"] = f"{obj['id']}~r{replica}"
                        line = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
                    out.write(line)
                    n += 1
                    size += len(line)
        return Corpus(f"jsonl{REPLICAS}", [path], n, size,
                      f"the JSONL corpus {REPLICAS} times, ids suffixed ~r1..~r{REPLICAS - 1}")


def seed_records() -> list[dict]:
    """The seed articles as JSONL records (with made-up facets, so facet code paths run)."""
    from searchsvc.ingest.sources import collect, read_sources

    articles, _ = collect(read_sources([SEEDS]))
    out = []
    for n, a in enumerate(sorted(articles.values(), key=lambda a: a.id)):
        out.append({"id": a.id, "date": a.date.isoformat() if a.date else None, "title": a.title,
                    "body": a.body, "topics": ["seed", f"seed-{n % 2}"], "places": ["world"]})
    return out


def write_jsonl(path: Path, records: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
