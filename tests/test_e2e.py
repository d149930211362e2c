"""End-to-end: a real ``searchsvc serve`` process (gunicorn, sync workers) over HTTP.

Each test starts the server as its own process group on a free loopback port, talks to it with
the standard library only, and kills the group in a fixture finalizer. Builds run as real
``python -m searchsvc index`` processes next to the server, the way an operator would run them,
while client threads keep searching (contract §2 ``serve``: "picks up a newly built index without
a restart and without failing requests").

Every wait and every loop is bounded in time and count, so a broken server fails a test instead
of hanging the suite.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_IDS = {"000_4db8953d65d6e437", "003_3064415bd491f055"}
HOST = "127.0.0.1"

SEARCH_KEYS = {"query", "total", "took_ms", "hits", "facets", "did_you_mean"}
PROBLEM_KEYS = {"type", "title", "status", "code", "detail"}
PROBLEM_MIME = "application/problem+json"

MARKER = "zebulon"  # in the body of every generated article: q=zebulon matches all of them
START_TIMEOUT = 30.0  # seconds for a server to answer /api/health
BUILD_TIMEOUT = 90.0  # seconds for one `searchsvc index` run
PICKUP_TIMEOUT = 15.0  # seconds for a swapped-in generation to be served


# -- generated corpora ---------------------------------------------------------------------------

COMMON = (
    "market oil crude price bank rate trade export import government minister election protest "
    "rally troops border talks deal shares profit loss quarter growth inflation currency harvest "
    "wheat coffee sugar gold mining strike union court ruling police storm flood drought energy "
    "power plant factory output demand supply shipping port airline tourism budget tax"
).split()
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def write_corpus(path: Path, start: int, count: int, *, seed: int, rare_words: int = 0) -> Path:
    """``count`` JSONL articles with ids ``a{start}``…; ``rare_words`` random tokens per article
    give the corpus a large vocabulary (as real news has)."""
    rnd = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(start, start + count):
            words = [rnd.choice(COMMON) for _ in range(rnd.randint(20, 40))]
            words += ["".join(rnd.choice(LETTERS) for _ in range(rnd.randint(5, 9)))
                      for _ in range(rare_words)]
            rnd.shuffle(words)
            record = {
                "id": f"a{i:05d}",
                "date": f"20{10 + i % 12}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "title": f"Report {i}: {rnd.choice(COMMON)} and {rnd.choice(COMMON)}",
                "body": f"{MARKER} " + " ".join(words) + ".",
                "topics": [rnd.choice(COMMON)],
            }
            fh.write(json.dumps(record) + "\n")
    return path


# -- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def request(port: int, method: str, path: str, *, headers: dict[str, str] | None = None,
            timeout: float = 15.0) -> Response:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def search_path(**params) -> str:
    return "/api/search?" + urlencode(params)


def assert_problem(resp: Response, status: int, code: str | None = None) -> dict:
    assert resp.status == status, (resp.status, resp.body[:500])
    assert resp.content_type == PROBLEM_MIME, resp.headers
    doc = resp.json()
    assert PROBLEM_KEYS <= doc.keys(), doc
    assert doc["status"] == status
    if code is not None:
        assert doc["code"] == code, doc
    assert "Traceback" not in resp.body.decode("utf-8", "replace")
    return doc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any SEARCHSVC_* setting of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    env.update(extra)
    return env


# -- the server process --------------------------------------------------------------------------


class Server:
    def __init__(self, tmp: Path, index: Path, source: Path, workers: int, env: dict[str, str]):
        self.index = index
        self.source = source
        self.port = free_port()
        self.log_path = tmp / f"serve-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "searchsvc", "serve", "--host", HOST, "--port", str(self.port),
             "--index", str(index), "--source", str(source), "--workers", str(workers)],
            cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")[-3000:]
        except OSError:
            return ""

    def get(self, path: str, **kwargs) -> Response:
        return request(self.port, "GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Response:
        return request(self.port, "POST", path, **kwargs)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> Response:
        """Wait until /api/health answers at all (200, or 503 for an unusable index)."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.05) + 1):
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                return self.get("/api/health", timeout=5)
            except OSError:
                pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        pytest.fail(f"server did not answer /api/health within {timeout} s:\n{self.log()}")

    def documents(self) -> int:
        resp = self.get("/api/health")
        assert resp.status == 200, (resp.status, resp.body[:500])
        return resp.json()["documents"]

    def wait_documents(self, expected: int, timeout: float = PICKUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        seen = None
        for _ in range(int(timeout / 0.05) + 1):
            resp = self.get("/api/health")
            seen = (resp.status, resp.json().get("documents"))
            if seen == (200, expected):
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        pytest.fail(f"server still reports {seen}, not {expected} documents, after {timeout} s")

    def stop(self) -> None:
        """Kill the whole process group (master and workers) at once."""
        try:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        finally:
            self._log.close()


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., Server]]:
    """Start ``searchsvc serve`` (waits for it to answer); every server is stopped afterwards."""
    servers: list[Server] = []

    def _start(index: Path, source: Path, *, workers: int = 2, env: dict[str, str] | None = None,
               expect_status: int = 200) -> Server:
        server = Server(tmp_path, index, source, workers, env or clean_env())
        servers.append(server)
        resp = server.wait_ready()
        assert resp.status == expect_status, (resp.status, resp.body[:500], server.log())
        return server

    yield _start
    for server in servers:
        server.stop()


def index_cmd(source: Path, index: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "searchsvc", "index", str(source), "--index", str(index), *extra]


@pytest.fixture
def builds(tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``searchsvc index`` runs in their own process groups; whatever is left of them
    (including forked indexing workers) is killed afterwards."""
    procs: list[subprocess.Popen] = []

    def _start(source: Path, index: Path, *extra: str) -> subprocess.Popen:
        proc = subprocess.Popen(index_cmd(source, index, *extra), cwd=tmp_path, env=clean_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=10)


def run_build(builds, source: Path, index: Path, *extra: str) -> subprocess.CompletedProcess:
    proc = builds(source, index, *extra)
    try:
        out, err = proc.communicate(timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`searchsvc index` did not finish within {BUILD_TIMEOUT} s")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def build_ok(builds, source: Path, index: Path, *extra: str) -> None:
    done = run_build(builds, source, index, *extra)
    assert done.returncode == 0, f"build failed ({done.returncode}):\n{done.stdout}{done.stderr}"


def lock_is_free(index: Path) -> bool:
    try:
        fd = os.open(index / ".lock", os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 1):
        if condition():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(step)
    return condition()


# -- searching clients ---------------------------------------------------------------------------


@dataclass
class Observation:
    thread: int
    started: float
    ended: float
    total: int


@dataclass
class Clients:
    """Threads that keep searching until stopped; every request must be a complete 200 search
    document. ``observations`` holds the article count each request saw (every query used
    matches every article), ``failures`` every request that was not a good response."""

    port: int
    threads: int = 4
    max_seconds: float = 120.0
    max_requests: int = 20_000
    observations: list[Observation] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(self.threads)]

    def _check(self, resp: Response) -> int:
        if resp.status != 200:
            raise AssertionError(f"HTTP {resp.status}: {resp.body[:300]!r}")
        if resp.content_type != "application/json":
            raise AssertionError(f"content type {resp.content_type!r}")
        doc = resp.json()
        missing = SEARCH_KEYS - doc.keys()
        if missing:
            raise AssertionError(f"search document lacks {sorted(missing)}")
        if not isinstance(doc["total"], int) or not isinstance(doc["hits"], list):
            raise AssertionError(f"bad total/hits: {str(doc)[:300]}")
        return doc["total"]

    def _run(self, n: int) -> None:
        queries = [search_path(q=MARKER, per_page=3, collapse="false"),
                   search_path(per_page=1, collapse="false"),
                   search_path(q=f"{MARKER} OR nosuchword", sort="newest", collapse="false")]
        deadline = time.monotonic() + self.max_seconds
        for i in range(self.max_requests):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            path = queries[i % len(queries)]
            started = time.monotonic()
            try:
                total = self._check(request(self.port, "GET", path, timeout=20))
            except Exception as exc:  # every kind of failure is recorded, none ends the thread
                with self._lock:
                    self.failures.append(f"thread {n} {path}: {type(exc).__name__}: {exc}")
                continue
            with self._lock:
                self.observations.append(Observation(n, started, time.monotonic(), total))

    def __enter__(self) -> Clients:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)
        assert not any(w.is_alive() for w in self._workers), "client threads did not stop"

    def seen(self) -> list[Observation]:
        with self._lock:
            return list(self.observations)

    def wait_all_see(self, total: int, timeout: float = PICKUP_TIMEOUT) -> None:
        """Wait until every thread has had a response with ``total`` articles."""
        def everyone() -> bool:
            return {o.thread for o in self.seen() if o.total == total} == set(range(self.threads))
        assert wait_until(everyone, timeout), (
            f"not every client saw {total} articles within {timeout} s; "
            f"last seen: {[o.total for o in self.seen()[-10:]]}; failures: {self.failures[:5]}")


# -- 1. serve builds a missing index, and speaks the contract over HTTP --------------------------


@pytest.mark.e2e
def test_serve_builds_missing_index_then_serves_api_and_page(tmp_path, serve):
    index = tmp_path / "index"
    assert not index.exists()
    server = serve(index, SEEDS)

    assert (index / "current").is_symlink(), "serve did not build the missing index"
    health = server.get("/api/health")
    assert health.status == 200 and health.content_type == "application/json"
    assert health.json()["status"] == "ok" and health.json()["documents"] == 2

    resp = server.get(search_path(q="Sadr"))
    assert resp.status == 200, resp.body[:500]
    assert resp.content_type == "application/json"
    doc = resp.json()
    assert SEARCH_KEYS <= doc.keys()
    assert doc["total"] == 2
    # The two seeds report one event: collapsed into one hit whose story lists the other.
    assert len(doc["hits"]) == 1 and doc["total_stories"] == 1
    hit = doc["hits"][0]
    assert {hit["id"], *hit["story"]["others"]} == SEED_IDS
    assert "<mark>Sadr</mark>" in " ".join(hit["snippets"])
    apart = server.get(search_path(q="Sadr", collapse="false")).json()
    assert {h["id"] for h in apart["hits"]} == SEED_IDS
    assert all("<mark>" in " ".join(h["snippets"]) for h in apart["hits"])

    assert_problem(server.get("/api/nope"), 404, "not_found")
    assert_problem(server.get("/api/reindex"), 405)  # wrong method under /api/
    # No admin token configured: reindexing over HTTP is off.
    assert_problem(server.post("/api/reindex", headers={"Authorization": "Bearer x"}), 404)

    page = server.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    assert "<html" in page.body.decode("utf-8").lower()
    results_page = server.get("/?q=Sadr")
    assert results_page.status == 200 and results_page.content_type == "text/html"
    assert "Sadr" in results_page.body.decode("utf-8")


# -- 2. rebuilds and updates while clients search ------------------------------------------------


@pytest.mark.e2e
def test_rebuilds_and_updates_while_searching_fail_no_request(tmp_path, serve, builds):
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 300, seed=1)
    server = serve(index, source)  # builds the first generation itself
    counts = [300]
    assert server.documents() == 300

    with Clients(server.port, threads=4) as clients:
        clients.wait_all_see(300)
        windows = []

        def step(*extra: str, expected: int) -> None:
            started = time.monotonic()
            build_ok(builds, source, index, *extra)
            windows.append((started, time.monotonic()))
            counts.append(expected)
            # Served by the running server (no restart), then seen by every client.
            server.wait_documents(expected)
            clients.wait_all_see(expected)

        step(expected=300)  # full rebuild of the same corpus
        write_corpus(source / "more1.jsonl", 300, 60, seed=2)
        step("--update", expected=360)
        write_corpus(source / "more2.jsonl", 360, 60, seed=3)
        step(expected=420)  # full rebuild
        # Change one article in place; --update replaces it, the count stays.
        lines = (source / "base.jsonl").read_text("utf-8").splitlines()
        record = json.loads(lines[7])
        record["body"] += " xylophone"
        lines[7] = json.dumps(record)
        (source / "base.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
        step("--update", expected=420)
        time.sleep(0.3)  # a few more requests on the final generation
    seen = clients.seen()

    assert not clients.failures, f"{len(clients.failures)} failed requests: {clients.failures[:5]}"
    assert len(seen) >= 50, f"only {len(seen)} requests were made"
    during = [o for o in seen if any(o.started < end and o.ended > start for start, end in windows)]
    assert len(during) >= 10, f"only {len(during)} requests overlapped a build"
    partial = sorted({o.total for o in seen} - set(counts))
    assert not partial, f"clients saw article counts of no complete build: {partial}"
    for n in range(clients.threads):
        mine = [o.total for o in seen if o.thread == n]
        assert mine == sorted(mine), f"client {n} saw the count go back: {mine}"

    assert server.proc.poll() is None
    assert server.documents() == 420
    changed = server.get(search_path(q="xylophone")).json()
    assert [hit["id"] for hit in changed["hits"]] == ["a00007"]
    assert not list(index.glob("gen-*.tmp"))


# -- 3. a rebuild killed halfway -----------------------------------------------------------------


@pytest.mark.e2e
# Killing only the build process (not its group) must not orphan workers that hold the lock.
@pytest.mark.parametrize("kill", ["process-group", "build-process"])
def test_rebuild_killed_halfway_fails_no_request_and_next_build_is_served(
        tmp_path, serve, builds, kill):
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 200, seed=1)
    server = serve(index, source)
    assert server.documents() == 200
    old_target = os.readlink(index / "current")

    # 2,050 articles with a news-like vocabulary: a parallel build (forked workers) of seconds.
    write_corpus(source / "big.jsonl", 200, 1850, seed=4, rare_words=10)
    with Clients(server.port, threads=4) as clients:
        clients.wait_all_see(200)
        proc = builds(source, index)

        def halfway() -> bool:
            # The build's tmp generation exists and indexing workers are writing segments.
            return any(any(tmp.glob("*.pst")) for tmp in index.glob("gen-*.tmp"))

        assert wait_until(halfway, BUILD_TIMEOUT, step=0.01), "the build never started writing"
        assert proc.poll() is None, "the build finished before it could be killed"
        if kill == "process-group":
            os.killpg(proc.pid, signal.SIGKILL)  # the build and its workers
        else:
            os.kill(proc.pid, signal.SIGKILL)  # only the process that was started (`kill -9`)
        # wait(), not communicate(): surviving workers may still hold the output pipes.
        assert proc.wait(timeout=10) == -signal.SIGKILL
        killed_at = time.monotonic()

        time.sleep(0.5)  # clients keep searching the old generation
        assert os.readlink(index / "current") == old_target
        assert server.documents() == 200

        # The next build (of a smaller corpus, to keep the test short) is not hindered by the
        # killed one, cleans up after it, and is served.
        (source / "big.jsonl").unlink()
        write_corpus(source / "more.jsonl", 200, 60, seed=5)
        next_started = time.monotonic()
        done = run_build(builds, source, index)
        assert done.returncode == 0, (
            f"the next build after the kill failed ({done.returncode}): {done.stderr.strip()}")
        server.wait_documents(260)
        clients.wait_all_see(260)
    seen = clients.seen()

    assert not clients.failures, f"{len(clients.failures)} failed requests: {clients.failures[:5]}"
    assert any(o.started > killed_at for o in seen)
    assert {o.total for o in seen if o.ended < next_started} == {200}
    assert {o.total for o in seen} <= {200, 260}
    assert not list(index.glob("gen-*.tmp")), "the killed build's tmp folder was not cleaned"
    assert server.proc.poll() is None


# -- 4. POST /api/reindex ------------------------------------------------------------------------


@pytest.mark.e2e
def test_reindex_over_http_rebuilds_and_is_served(tmp_path, serve, builds):
    token = "s3cret-token"
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 300, seed=1)
    server = serve(index, source, env=clean_env(SEARCHSVC_ADMIN_TOKEN=token))
    assert server.documents() == 300

    unauthorized = server.post("/api/reindex")
    assert_problem(unauthorized, 401, "unauthorized")
    assert_problem(server.post("/api/reindex", headers={"Authorization": "Bearer wrong"}),
                   403, "forbidden")
    assert server.get(search_path(q="quetzalcoatlus")).json()["total"] == 0
    auth = {"Authorization": f"Bearer {token}"}

    # While a build started from the command line holds the index: 409, not a second build.
    cli_build = builds(source, index)
    assert wait_until(lambda: any(index.glob("gen-*.tmp")) or cli_build.poll() is not None,
                      BUILD_TIMEOUT, step=0.01)
    busy = server.post("/api/reindex", headers=auth)
    if cli_build.poll() is None:  # still building when the answer came
        assert_problem(busy, 409, "build_in_progress")
    else:
        assert busy.status in (202, 409), (busy.status, busy.body[:500])
    assert cli_build.wait(timeout=BUILD_TIMEOUT) == 0
    assert wait_until(lambda: lock_is_free(index), 30)

    new_article = source / "breaking" / "quetzal.txt"
    new_article.parent.mkdir()
    new_article.write_text(
        "date 2021-03-04\n\nQuetzalcoatlus skeleton found\n\n"
        "Palaeontologists unearthed a quetzalcoatlus skeleton in the desert on Thursday.\n",
        "utf-8")
    pids = []
    try:
        accepted = server.post("/api/reindex", headers=auth)
        assert accepted.status == 202, (accepted.status, accepted.body[:500])
        assert accepted.content_type == "application/json"
        pids.append(accepted.json().get("pid"))
        again = server.post("/api/reindex", headers=auth)  # while the first is running
        assert again.status in (202, 409), (again.status, again.body[:500])
        if again.status == 409:
            assert_problem(again, 409)
        else:
            pids.append(again.json().get("pid"))

        server.wait_documents(301, timeout=60)
        found = server.get(search_path(q="quetzalcoatlus")).json()
        assert [hit["id"] for hit in found["hits"]] == ["breaking/quetzal"]
        assert found["hits"][0]["title"] == "Quetzalcoatlus skeleton found"
        assert server.proc.poll() is None
    finally:
        # Let the build(s) started by the server finish before tmp_path goes away.
        if not wait_until(lambda: lock_is_free(index), 30):
            for pid in pids:
                if isinstance(pid, int) and pid > 1:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
    assert lock_is_free(index)


# -- 5. a corrupt index at start ------------------------------------------------------------------


def garbage_toc(generation: Path) -> None:
    generation.mkdir(parents=True)
    (generation / "_MAIN_1.toc").write_bytes(b"\x00garbage\xff" * 64)


def empty_generation(generation: Path) -> None:
    generation.mkdir(parents=True)


@pytest.mark.e2e
@pytest.mark.parametrize("corrupt", [garbage_toc, empty_generation], ids=lambda f: f.__name__)
def test_corrupt_index_gives_503_until_a_good_build(tmp_path, serve, builds, corrupt):
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 50, seed=1)
    bad = index / "gen-20000101T000000000000-1"
    corrupt(bad)
    os.symlink(bad.name, index / "current")

    server = serve(index, source, expect_status=503)
    for _ in range(10):  # stays up, keeps answering with a clear problem, no crash loop
        doc = assert_problem(server.get("/api/health"), 503, "index_unavailable")
        assert bad.name in doc["detail"] and "cannot be opened" in doc["detail"], doc
        assert_problem(server.get(search_path(q="oil")), 503, "index_unavailable")
        time.sleep(0.05)
    assert server.proc.poll() is None, server.log()
    assert "Worker failed to boot" not in server.log()

    build_ok(builds, source, index)
    server.wait_documents(50)
    assert server.get(search_path(q=MARKER)).json()["total"] == 50
    assert server.proc.poll() is None, "the server restarted or died"
