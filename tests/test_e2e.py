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
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.e2e import (
    BUILD_TIMEOUT,
    MARKER,
    PICKUP_TIMEOUT,
    SEARCH_KEYS,
    SEED_IDS,
    SEEDS,
    Response,
    Server,
    assert_problem,
    clean_env,
    lock_is_free,
    request,
    search_path,
    wait_until,
    write_corpus,
)


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
        write_corpus(source / "more3.jsonl", 420, 30, seed=4)
        step("--update", expected=450)
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
    assert server.documents() == 450
    assert not list(index.glob("gen-*.tmp"))


@pytest.mark.e2e
def test_an_update_that_changes_an_article_is_served(tmp_path, serve, builds):
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 100, seed=1)
    server = serve(index, source)
    before = server.get("/api/health").json()["generation"]
    # Change one article in place; --update replaces it, the count stays.
    lines = (source / "base.jsonl").read_text("utf-8").splitlines()
    record = json.loads(lines[7])
    record["body"] += " xylophone"
    lines[7] = json.dumps(record)
    (source / "base.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    build_ok(builds, source, index, "--update")
    assert wait_until(lambda: server.get("/api/health").json()["generation"] != before,
                      PICKUP_TIMEOUT)
    assert server.documents() == 100
    changed = server.get(search_path(q="xylophone")).json()
    assert [hit["id"] for hit in changed["hits"]] == ["a00007"]


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
    builds_started = []
    try:
        accepted = server.post("/api/reindex", headers=auth)
        assert accepted.status == 202, (accepted.status, accepted.body[:500])
        assert accepted.content_type == "application/json"
        build_id = accepted.json()["build"]
        builds_started.append(build_id)
        assert accepted.headers["location"] == f"/api/builds/{build_id}"
        again = server.post("/api/reindex", headers=auth)  # while the first is running
        assert again.status in (202, 409), (again.status, again.body[:500])
        if again.status == 409:
            assert_problem(again, 409)
        else:
            builds_started.append(again.json()["build"])

        server.wait_documents(301, timeout=60)
        found = server.get(search_path(q="quetzalcoatlus")).json()
        assert [hit["id"] for hit in found["hits"]] == ["breaking/quetzal"]
        assert found["hits"][0]["title"] == "Quetzalcoatlus skeleton found"
        assert server.proc.poll() is None

        def finished() -> bool:
            return server.get(f"/api/builds/{build_id}").json()["state"] != "running"

        assert wait_until(finished, 60)
        record = server.get(f"/api/builds/{build_id}").json()
        assert record["state"] == "done", record
        assert record["summary"]["documents"] == 301 and record["finished"]
        assert server.get("/api/builds/last").json()["id"] in builds_started
    finally:
        # Let the build(s) started by the server finish before tmp_path goes away.
        wait_until(lambda: lock_is_free(index), 30)
    assert lock_is_free(index)


# -- 5. a corrupt index at start ------------------------------------------------------------------


def corrupt_segments(index: Path, source: Path) -> str:
    """A generation this searchsvc wrote (its build record says so) whose segments are
    garbage; returns its name."""
    done = subprocess.run(index_cmd(source, index), env=clean_env(), capture_output=True,
                          text=True, timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, done.stderr
    generation = index / os.readlink(index / "current")
    for toc in generation.glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbage\xff" * 64)
    return generation.name


@pytest.mark.e2e
def test_corrupt_index_gives_503_until_a_good_build(tmp_path, serve, builds):
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 50, seed=1)
    bad = corrupt_segments(index, source)

    server = serve(index, source, expect_status=503)
    for _ in range(10):  # stays up, keeps answering with a clear problem, no crash loop
        doc = assert_problem(server.get("/api/health"), 503, "index_unavailable")
        assert bad in doc["detail"] and "cannot be opened" in doc["detail"], doc
        assert_problem(server.get(search_path(q="oil")), 503, "index_unavailable")
        time.sleep(0.05)
    assert server.proc.poll() is None, server.log()
    assert "Worker failed to boot" not in server.log()

    build_ok(builds, source, index)
    server.wait_documents(50)
    assert server.get(search_path(q=MARKER)).json()["total"] == 50
    assert server.proc.poll() is None, "the server restarted or died"


def garbage_toc(generation: Path) -> None:
    generation.mkdir(parents=True)
    (generation / "_MAIN_1.toc").write_bytes(b"\x00garbage\xff" * 64)


def empty_generation(generation: Path) -> None:
    generation.mkdir(parents=True)


@pytest.mark.e2e
@pytest.mark.parametrize("foreign", [garbage_toc, empty_generation], ids=lambda f: f.__name__)
def test_a_generation_this_searchsvc_did_not_write_is_rebuilt_at_start(tmp_path, serve,
                                                                       foreign):
    # Changed by the restructure: a generation without this searchsvc's build record (written
    # by an older version, or not an index at all) is no index: serve builds one from its
    # source, instead of answering 503 until someone runs a build.
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 50, seed=1)
    bad = index / "gen-20000101T000000000000-1"
    foreign(bad)
    os.symlink(bad.name, index / "current")
    server = serve(index, source)
    assert server.documents() == 50
    assert os.readlink(index / "current") != bad.name
    assert server.get(search_path(q=MARKER)).json()["total"] == 50


# -- 6. reindex that cannot start, ingest over HTTP with two workers ------------------------------


@pytest.mark.e2e
def test_a_reindex_whose_build_cannot_start_is_reported_failed(tmp_path, serve):
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 20, seed=1)
    done = subprocess.run(index_cmd(source, index), env=clean_env(), capture_output=True,
                          text=True, timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, done.stderr
    token = "s3cret-token"
    server = serve(index, tmp_path / "no-such-source",
                   env=clean_env(SEARCHSVC_ADMIN_TOKEN=token))
    accepted = server.post("/api/reindex", headers={"Authorization": f"Bearer {token}"})
    assert accepted.status == 202, accepted.body[:300]
    build_id = accepted.json()["build"]

    def ended() -> bool:
        return server.get(f"/api/builds/{build_id}").json()["state"] != "running"

    assert wait_until(ended, 30)
    record = server.get(f"/api/builds/{build_id}").json()
    assert record["state"] == "failed" and record["error"]
    assert server.documents() == 20


@pytest.mark.e2e
def test_an_ingested_article_is_served_by_every_worker(tmp_path, serve):
    token = "s3cret-token"
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 50, seed=1)
    server = serve(index, source, workers=2, env=clean_env(SEARCHSVC_ADMIN_TOKEN=token))
    body = json.dumps({"id": "ingested-1", "date": "2021-01-01", "title": "Okapi seen",
                       "body": "An okapi was seen near the river."}).encode()
    posted = server.post("/api/articles", body=body,
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"})
    assert posted.status == 200, posted.body[:300]
    assert posted.json()["accepted"] == ["ingested-1"]
    # Every request from here on, whichever worker answers it, finds the article.
    for _ in range(20):
        found = server.get(search_path(q="okapi")).json()
        assert [h["id"] for h in found["hits"]] == ["ingested-1"]
        assert server.documents() == 51
    gone = server.delete("/api/articles/ingested-1",
                         headers={"Authorization": f"Bearer {token}"})
    assert gone.status == 204, gone.body[:300]
    for _ in range(20):
        assert server.get(search_path(q="okapi")).json()["total"] == 0
        assert server.documents() == 50
