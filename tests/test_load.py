"""Load and faults (issue #5): a real server under 16 searching clients while the index is
rebuilt, updated and a rebuild is killed; and builds that fail for lack of disk or permission.

The server is a real ``searchsvc serve`` (gunicorn, 2 workers) on 127.0.0.1, in its own process
group, killed in a finalizer. The corpus is ~2,500 generated JSONL articles, so full builds take
the parallel path (forked indexing workers). Every loop and wait is bounded. test_e2e.py covers
the same operations one at a time with 4 clients; this is the same under heavier, mixed load.

Disk-full and read-only failures are injected in process (monkeypatched writes raising ENOSPC /
EROFS / EACCES) and, when not running as root, with a real read-only directory.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from support.e2e import (
    MARKER,
    SEARCH_KEYS,
    SEEDS,
    Server,
    clean_env,
    lock_is_free,
    request,
    wait_until,
    write_corpus,
)
from support.index import build_sources, open_snapshot

import searchsvc.engines.whoosh.engine
import searchsvc.engines.whoosh.generations
from searchsvc.errors import BuildError

BASE = 2500  # > PARALLEL_MIN_ARTICLES: full builds fork indexing workers
ADDED = 40  # per --update
THREADS = 16
BUILD_TIMEOUT = 120.0
CLIENT_SECONDS = 150.0  # upper bound; the clients are stopped when the builds are done
HIT_KEYS = {"id", "date", "title", "title_html", "score", "snippets", "url", "topics", "places"}


# -- clients ---------------------------------------------------------------------------------------


def _path(endpoint: str, **params) -> str:
    return f"{endpoint}?{urlencode(params, doseq=True)}" if params else endpoint


# (path, what to check). "count" queries match every article, so they report the article count.
QUERIES: list[tuple[str, str]] = [
    (_path("/api/search", q=MARKER, collapse="false", per_page=3), "count"),
    (_path("/api/health"), "health"),
    (_path("/api/search", q='"oil price"'), "search"),
    (_path("/api/search", q="mark*", sort="newest"), "search"),
    (_path("/api/search", q="markte~ OR cofee~"), "search"),
    (_path("/api/search", q="crude AND NOT oil", page=2, per_page=5), "search"),
    (_path("/api/search", topics=["oil", "gold"], interval="month"), "search"),
    (_path("/api/search", q="bank rate", recency="30d", **{"from": "2012-01-01",
                                                              "to": "2019-12-31"}), "search"),
    (_path("/api/search", q=f"{MARKER} OR nosuchword", sort="oldest", collapse="false"),
     "count"),
    (_path("/api/search", q="(market OR trade) AND title:report", facet_size=5), "search"),
    (_path("/api/suggest", q="mar"), "suggest"),
    (_path("/api/stats"), "stats"),
    (_path("/api/articles/a00007"), "article"),
    (_path("/api/articles/a00007/related", limit=3), "related"),
    (_path("/api/search", q="zzqx unknownword"), "search"),
]


@dataclass
class Seen:
    thread: int
    started: float
    count: int


@dataclass
class Load:
    """``THREADS`` threads cycling through ``QUERIES`` until stopped; every response must be a
    complete, well-formed 200 JSON document of its endpoint."""

    port: int
    threads: int = THREADS
    seen: list[Seen] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(self.threads)]

    @staticmethod
    def check(kind: str, resp) -> int | None:
        if resp.status != 200:
            raise AssertionError(f"HTTP {resp.status}: {resp.body[:300]!r}")
        if resp.content_type != "application/json":
            raise AssertionError(f"content type {resp.content_type!r}")
        doc = resp.json()
        if kind in ("search", "count"):
            missing = SEARCH_KEYS - doc.keys()
            assert not missing, f"search document lacks {sorted(missing)}"
            assert isinstance(doc["total"], int) and isinstance(doc["hits"], list)
            for hit in doc["hits"]:
                assert HIT_KEYS <= hit.keys(), f"hit lacks {sorted(HIT_KEYS - hit.keys())}"
            return doc["total"] if kind == "count" else None
        if kind == "health":
            assert doc["status"] == "ok" and isinstance(doc["documents"], int), doc
            return doc["documents"]
        required = {"suggest": {"q", "suggestions"},
                    "stats": {"documents", "date_range", "index", "facets"},
                    "article": {"id", "date", "title", "body", "url", "topics", "places"},
                    "related": {"id", "related"}}[kind]
        assert required <= doc.keys(), f"{kind} document lacks {sorted(required - doc.keys())}"
        return doc["documents"] if kind == "stats" else None

    def _run(self, n: int) -> None:
        deadline = time.monotonic() + CLIENT_SECONDS
        i = n  # threads start at different queries
        while not self._stop.is_set() and time.monotonic() < deadline:
            path, kind = QUERIES[i % len(QUERIES)]
            i += 1
            started = time.monotonic()
            try:
                count = self.check(kind, request(self.port, "GET", path, timeout=30))
            except Exception as exc:  # every failure is recorded; none ends the thread
                with self._lock:
                    self.failures.append(f"thread {n} {path}: {type(exc).__name__}: {exc}")
                continue
            with self._lock:
                self.requests += 1
                if count is not None:
                    self.seen.append(Seen(n, started, count))
            time.sleep(0.01)

    def start(self) -> Load:
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=40)
        assert not any(w.is_alive() for w in self._workers), "client threads did not stop"

    def counts(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    def wait_all_see(self, count: int, timeout: float = 30.0) -> None:
        def everyone() -> bool:
            return {s.thread for s in self.counts() if s.count == count} == set(
                range(self.threads))
        assert wait_until(everyone, timeout), (
            f"not every client saw {count} articles within {timeout} s; "
            f"failures so far: {self.failures[:3]}")


# -- processes -------------------------------------------------------------------------------------


@pytest.fixture
def processes(tmp_path) -> Iterator[list]:
    """Servers and builds started by a test; each process group is SIGKILLed afterwards."""
    started: list = []
    yield started
    for item in started:
        if isinstance(item, Server):
            item.stop()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(item.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                item.communicate(timeout=10)


def start_build(processes, tmp: Path, source: Path, index: Path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "searchsvc", "index", str(source), "--index", str(index), *extra],
        cwd=tmp, env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    processes.append(proc)
    return proc


def run_build(processes, tmp: Path, source: Path, index: Path, *extra: str) -> None:
    proc = start_build(processes, tmp, source, index, *extra)
    try:
        out, err = proc.communicate(timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`searchsvc index {' '.join(extra)}` took over {BUILD_TIMEOUT} s")
    assert proc.returncode == 0, f"build failed ({proc.returncode}):\n{out}{err}"


# -- 1. rebuilds, updates and a killed rebuild under 16 clients --------------------------------


@pytest.mark.e2e
def test_builds_and_a_killed_build_under_load_fail_no_request(tmp_path, processes):
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, BASE, seed=11)
    server = Server(tmp_path, index, source, 2, clean_env())  # builds the first index itself
    processes.append(server)
    resp = server.wait_ready(timeout=BUILD_TIMEOUT)
    assert resp.status == 200, (resp.status, resp.body[:300], server.log())
    assert server.documents() == BASE
    complete = [BASE]  # the article count of every complete build, in order

    load = Load(server.port).start()
    try:
        load.wait_all_see(BASE)
        steps = [("full", None), ("--update", "more1"), ("full", None), ("--update", "more2")]
        for n, (kind, extra_file) in enumerate(steps):
            if extra_file:
                write_corpus(source / f"{extra_file}.jsonl", BASE + n * ADDED, ADDED, seed=20 + n)
                complete.append(complete[-1] + ADDED)
            else:
                complete.append(complete[-1])
            run_build(processes, tmp_path, source, index,
                      *(["--update"] if kind == "--update" else []))
            server.wait_documents(complete[-1], timeout=30)
            load.wait_all_see(complete[-1])

        # A rebuild killed halfway: the tmp generation exists and workers are writing segments.
        before = os.readlink(index / "current")
        killed = start_build(processes, tmp_path, source, index)

        def halfway() -> bool:
            return any(any(t.glob("*.pst")) or any(t.glob("*.seg"))
                       for t in index.glob("gen-*.tmp"))

        assert wait_until(halfway, BUILD_TIMEOUT, step=0.01), "the build never started writing"
        assert killed.poll() is None, "the build finished before it could be killed"
        os.killpg(killed.pid, signal.SIGKILL)
        assert killed.wait(timeout=10) == -signal.SIGKILL
        assert list(index.glob("gen-*.tmp")), "the killed build left no tmp folder to recover"
        time.sleep(0.5)  # clients keep searching the old generation
        assert os.readlink(index / "current") == before
        assert server.documents() == complete[-1]

        # One more rebuild (with new articles, so it is visibly served) recovers everything.
        write_corpus(source / "more3.jsonl", BASE + 10 * ADDED, ADDED, seed=30)
        complete.append(complete[-1] + ADDED)
        run_build(processes, tmp_path, source, index)
        server.wait_documents(complete[-1], timeout=30)
        load.wait_all_see(complete[-1])
        time.sleep(0.3)
    finally:
        load.stop()

    seen = load.counts()
    print(f"load: {load.requests} good requests, {len(load.failures)} failed, "
          f"{len(seen)} article counts seen: {sorted({s.count for s in seen})}")
    assert not load.failures, f"{len(load.failures)} failed requests: {load.failures[:5]}"
    assert load.requests >= 200, f"only {load.requests} requests were made"
    assert min(s.count for s in seen) >= BASE, "a client saw fewer articles than a full build"
    partial = sorted({s.count for s in seen} - set(complete))
    assert not partial, f"clients saw article counts of no complete build: {partial}"
    for n in range(load.threads):
        mine = [s.count for s in sorted(seen, key=lambda s: s.started) if s.thread == n]
        assert mine == sorted(mine), f"client {n} saw the count go back"
    assert not list(index.glob("gen-*.tmp")), "the killed build's tmp folder was not removed"
    assert lock_is_free(index), "the build lock was left held"
    assert server.proc.poll() is None, "the server died"
    assert "Traceback" not in server.log()


# -- 2. the limits over a real server ------------------------------------------------------------


@pytest.fixture
def seed_server(tmp_path, processes) -> Server:
    server = Server(tmp_path, tmp_path / "index", SEEDS, 1, clean_env())
    processes.append(server)
    resp = server.wait_ready()
    assert resp.status == 200, (resp.status, resp.body[:300], server.log())
    return server


def raw_request(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=body or None)
        resp = conn.getresponse()
        return resp.status, (resp.getheader("Content-Type") or "").split(";")[0], resp.read()
    finally:
        conn.close()


@pytest.mark.e2e
def test_limits_over_a_real_server(seed_server):
    port = seed_server.port
    status, ctype, body = raw_request(port, "POST", "/api/reindex", b"x" * (64 * 1024 + 1))
    assert (status, ctype) == (413, "application/problem+json"), body[:200]
    status, ctype, body = raw_request(port, "GET", "/api/search?q=" + "a" * 2001)
    assert (status, ctype) == (400, "application/problem+json"), body[:200]
    assert json.loads(body)["code"] == "query_too_long"
    status, ctype, _ = raw_request(port, "GET", "/api/search?q=" + "a" * 2000)
    assert (status, ctype) == (200, "application/json")


@pytest.mark.e2e
def test_long_urls_over_a_real_server_get_problem_json(seed_server):
    status, ctype, body = raw_request(seed_server.port, "GET", "/api/search?q=" + "a" * 9000)
    assert (status, ctype) in ((400, "application/problem+json"),
                               (414, "application/problem+json")), (status, ctype, body[:200])


# -- 3. a full disk or a read-only index directory during a build ----------------------------------


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _inject_whoosh_files(monkeypatch, error: int, only_in_children: bool = False) -> None:
    """Whoosh fails to create segment files (not the table of contents: the new index is
    created, then writing the articles fails)."""
    from whoosh.filedb.filestore import FileStorage

    real = FileStorage.create_file
    parent = os.getpid()

    def create_file(self, name, *args, **kwargs):
        if not name.endswith(".toc") and (not only_in_children or os.getpid() != parent):
            raise OSError(error, os.strerror(error))
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(FileStorage, "create_file", create_file)


def _inject_vocabulary(monkeypatch, error: int) -> None:
    """Writing the new generation's spelling vocabulary fails."""
    def fail(*args, **kwargs):
        raise OSError(error, os.strerror(error))

    # A full build writes the vocabulary whole, an update its delta: both go through these.
    monkeypatch.setattr(searchsvc.engines.whoosh.engine.WhooshWriter, "set_vocabulary", fail)
    monkeypatch.setattr(searchsvc.engines.whoosh.engine.WhooshWriter, "change_vocabulary", fail)


def _inject_rename(monkeypatch, error: int) -> None:
    real = os.rename

    def rename(src, dst, *args, **kwargs):
        if str(src).endswith(".tmp"):  # the finished generation's rename before the swap
            raise OSError(error, os.strerror(error), str(src))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(searchsvc.engines.whoosh.generations.os, "rename", rename)


def _inject_mkdir(monkeypatch, error: int) -> None:
    real = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name.startswith("gen-"):  # the new generation's folder
            raise OSError(error, os.strerror(error), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)


INJECTIONS = {"whoosh-segment": _inject_whoosh_files, "vocabulary": _inject_vocabulary,
              "rename": _inject_rename, "mkdir": _inject_mkdir}
MESSAGES = {errno.ENOSPC: "disk is full", errno.EROFS: "no permission to write",
            errno.EACCES: "no permission to write"}


def build(index: Path, sources, **kwargs):
    return build_sources(index, sources, **kwargs)


@pytest.fixture
def built(tmp_path) -> tuple[Path, Path]:
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 60, seed=1)
    build(index, [source])
    write_corpus(source / "more.jsonl", 60, 20, seed=2)  # the next build would add 20
    return source, index


def assert_old_index_kept(index: Path, target: str, documents: int = 60) -> None:
    assert os.readlink(index / "current") == target
    assert not list(index.glob("gen-*.tmp")), "the failed build left its tmp folder"
    assert lock_is_free(index)
    assert_documents(index, documents)


def assert_documents(index: Path, documents: int) -> None:
    with open_snapshot(index) as snapshot:
        assert snapshot.info().documents == documents


ERRORS = pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS, errno.EACCES],
                                 ids=["ENOSPC", "EROFS", "EACCES"])


@ERRORS
@pytest.mark.parametrize("where", ["mkdir", "rename", "whoosh-segment", "vocabulary"])
def test_failed_write_fails_the_build_clearly_and_keeps_the_old_index(
        built, monkeypatch, where, error):
    source, index = built
    target = os.readlink(index / "current")
    INJECTIONS[where](monkeypatch, error)
    for update in (False, True):
        with pytest.raises(BuildError) as caught:
            build(index, [source], update_only=update)
        message = str(caught.value)
        assert "index unchanged" in message and MESSAGES[error] in message, message
        assert "Traceback" not in message
    monkeypatch.undo()
    assert_old_index_kept(index, target)
    build(index, [source])  # and the next build, with room, works
    assert_documents(index, 80)


@pytest.mark.parametrize("where", sorted(INJECTIONS))
def test_a_failed_write_says_the_index_is_unchanged(built, monkeypatch, where):
    source, index = built
    INJECTIONS[where](monkeypatch, errno.ENOSPC)
    with pytest.raises(BuildError) as caught:
        build(index, [source])
    assert "index unchanged" in str(caught.value)


def _parallel_disk_full(tmp_path, monkeypatch) -> tuple[Path, str, str]:
    """A parallel build whose forked indexing workers find the disk full."""
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 60, seed=1)
    build(index, [source])
    target = os.readlink(index / "current")
    write_corpus(source / "big.jsonl", 60, 2100, seed=2)
    _inject_whoosh_files(monkeypatch, errno.ENOSPC, only_in_children=True)
    with pytest.raises(BuildError) as caught:
        build(index, [source], procs=2)
    monkeypatch.undo()
    return index, target, str(caught.value)


def test_disk_full_in_a_parallel_build_keeps_the_old_index(tmp_path, monkeypatch):
    index, target, message = _parallel_disk_full(tmp_path, monkeypatch)
    assert "No space left" in message or "disk is full" in message, message
    assert_old_index_kept(index, target)


def test_disk_full_in_a_parallel_build_is_reported_like_a_serial_one(tmp_path, monkeypatch):
    _index, _target, message = _parallel_disk_full(tmp_path, monkeypatch)
    assert "index unchanged" in message and "disk is full" in message, message


def test_disk_full_through_the_command_line(built, tmp_path):
    """What an operator sees: exit 1, one clear line, no traceback, the old index served."""
    source, index = built
    target = os.readlink(index / "current")
    wrapper = (
        "import errno, os, sys\n"
        "from searchsvc.engines.whoosh.engine import WhooshWriter\n"
        "def full(*a, **k):\n"
        "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "WhooshWriter.set_vocabulary = full\n"
        "from searchsvc.cli import main\n"
        "sys.argv = ['searchsvc'] + sys.argv[1:]\n"
        "main()\n")
    done = subprocess.run(
        [sys.executable, "-c", wrapper, "index", str(source), "--index", str(index)],
        cwd=tmp_path, env=clean_env(PYTHONWARNINGS="ignore"), capture_output=True, text=True,
        timeout=BUILD_TIMEOUT)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "disk is full" in done.stderr and "index unchanged" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert_old_index_kept(index, target)


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: a read-only (chmod 555) folder "
                    "does not stop root from writing, so it cannot fail a build; the EROFS and "
                    "EACCES injections above cover the code path")
def test_read_only_index_directory(built):
    source, index = built
    target = os.readlink(index / "current")
    index.chmod(0o555)
    try:
        with pytest.raises(BuildError) as caught:
            build(index, [source])
        assert "no permission to write" in str(caught.value), caught.value
    finally:
        index.chmod(0o755)
    assert_old_index_kept(index, target)


def test_load_queries_are_well_formed():
    """The load test's own checker rejects what it must (so a pass means something)."""

    class R:
        def __init__(self, status, ctype, doc):
            self.status, self.content_type = status, ctype
            self.body = json.dumps(doc).encode()

        def json(self):
            return json.loads(self.body)

    with pytest.raises(AssertionError):
        Load.check("search", R(500, "application/json", {}))
    with pytest.raises(AssertionError):
        Load.check("search", R(200, "text/html", {}))
    with pytest.raises(AssertionError):
        Load.check("search", R(200, "application/json", {"total": 1}))
    doc = {k: None for k in SEARCH_KEYS} | {"total": 3, "hits": []}
    assert Load.check("count", R(200, "application/json", doc)) == 3
