"""The OpenSearch engine when the cluster fails (issue 13, item 4), on the local three-node
cluster of ``tools/opensearch/cluster.sh``.

* A node killed (SIGKILL) while 8 clients search a real ``searchsvc serve`` and articles are
  posted: with 2 shards and 1 replica no search fails or sees a partial count, every ingest is
  either accepted (2xx) or refused with a 503 problem, and every accepted article is found
  afterwards — with the node still down, and again once it is back. The node is restarted
  (``cluster.sh start`` starts the nodes that are not running and waits for green) before the
  test ends, so later tests find the cluster whole.
* A cluster that cannot be reached: ``serve`` and ``index`` stop with one ``error:`` line
  (exit 1, no traceback); ``GET /api/health`` answers 503 while it is gone.

Run only when ``SEARCHSVC_TEST_OPENSEARCH_URL`` is set; the node-killing test also needs that
URL to be the cluster ``cluster.sh`` runs (it reads the nodes' pid files).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.cli import clean_env, run_cli
from support.e2e import (
    MARKER,
    PROBLEM_MIME,
    Server,
    request,
    search_path,
    wait_until,
    write_corpus,
)
from support.index import engine_env, opensearch_url
from support.paths import ROOT
from support.web import close_client, make_client

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not opensearch_url(), reason="SEARCHSVC_TEST_OPENSEARCH_URL is not set: "
                       "no OpenSearch cluster to test on (make test starts one)"),
]

CLUSTER_SH = ROOT / "tools" / "opensearch" / "cluster.sh"
STATE = Path(os.environ.get("OPENSEARCH_DIR") or ROOT / ".opensearch")
TOKEN = "fault-token"
ARTICLES = 400
CLIENTS = 8
BEFORE_KILL = 3.0   # seconds of load before the node is killed
AFTER_KILL = 15.0   # seconds of load after it
RESTART_TIMEOUT = 300


def cluster_get(path: str) -> object:
    """A GET on the first node of the test cluster that answers (the standard library)."""
    last: Exception | None = None
    for url in opensearch_url().split(","):
        try:
            with urllib.request.urlopen(url.strip() + path, timeout=10) as resp:
                return json.loads(resp.read())
        except OSError as exc:
            last = exc
    raise AssertionError(f"no node of the cluster answers {path}: {last}")


def node_pids() -> dict[str, int]:
    """node name → pid, for the nodes of the local cluster that run (their pid files, checked
    against /proc so a stale file never names another process)."""
    found = {}
    for home in sorted(STATE.glob("node-*")):
        try:
            pid = int((home / "pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if str(home).encode() in cmdline:
            found[home.name] = pid
    return found


def local_cluster_or_skip() -> None:
    urls = (STATE / "url").read_text().strip() if (STATE / "url").exists() else ""
    if urls != opensearch_url() or len(node_pids()) != 3:
        pytest.skip(f"the node-killing test needs the three-node cluster of {CLUSTER_SH} "
                    "(SEARCHSVC_TEST_OPENSEARCH_URL names another, or a node is down)")


def restart_cluster() -> None:
    done = subprocess.run([str(CLUSTER_SH), "start"], capture_output=True, text=True,
                          timeout=RESTART_TIMEOUT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"cluster.sh start failed:\n{done.stderr[-3000:]}"
    health = cluster_get("/_cluster/health?wait_for_status=green&wait_for_nodes=3&timeout=120s")
    assert health["status"] == "green" and health["number_of_nodes"] == 3, health


@dataclass
class Load:
    """``CLIENTS`` threads searching for the marker every base article has (each answer must
    count exactly ``ARTICLES``: a lost shard would show as a smaller count) and one thread
    posting articles. Everything that happens is recorded."""

    port: int
    searches: list[tuple[float, float]] = field(default_factory=list)  # (started, seconds)
    failures: list[str] = field(default_factory=list)
    ingests: list[tuple[float, int, str, dict]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._search, args=(n,), daemon=True)
                        for n in range(CLIENTS)]
        self.threads.append(threading.Thread(target=self._ingest, daemon=True))

    def _search(self, n: int) -> None:
        paths = [search_path(q=MARKER, per_page=3, collapse="false"),
                 search_path(q=MARKER, sort="newest", per_page=5),
                 search_path(q=f"{MARKER} market", topics="oil", collapse="false")]
        i = 0
        while not self.stop.is_set():
            path = paths[i % len(paths)] if n % 2 else paths[0]
            i += 1
            started = time.monotonic()
            try:
                resp = request(self.port, "GET", path, timeout=60)
                doc = resp.json() if resp.status == 200 else None
                if doc is None:
                    raise AssertionError(f"HTTP {resp.status}: {resp.body[:300]!r}")
                if "topics" not in path and doc["total"] != ARTICLES:
                    raise AssertionError(f"total {doc['total']}, not {ARTICLES}")
            except Exception as exc:  # every failure is recorded; none ends the thread
                with self.lock:
                    self.failures.append(f"client {n} at {started:.1f}: "
                                         f"{type(exc).__name__}: {exc}")
                continue
            with self.lock:
                self.searches.append((started, time.monotonic() - started))

    def _ingest(self) -> None:
        n = 0
        while not self.stop.is_set():
            article = {"id": f"fault-{n:04d}", "date": "2021-06-01", "title": f"Fault {n}",
                       "body": f"A quokkafault article, number {n}, posted under load."}
            n += 1
            started = time.monotonic()
            try:
                resp = request(self.port, "POST", "/api/articles", timeout=120,
                               body=json.dumps(article).encode(),
                               headers={"Authorization": f"Bearer {TOKEN}",
                                        "Content-Type": "application/json"})
                doc = json.loads(resp.body) if resp.body else {}
                kind = resp.content_type
            except Exception as exc:
                resp, doc, kind = None, {"error": f"{type(exc).__name__}: {exc}"}, ""
            with self.lock:
                self.ingests.append((started, resp.status if resp else 0, kind,
                                     {"id": article["id"], **doc}))
            time.sleep(0.1)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=150)
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"


def test_a_node_killed_mid_load_fails_no_search_and_loses_no_accepted_article(tmp_path):
    local_cluster_or_skip()
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, ARTICLES, seed=7)
    # Two shards with a replica each: any one node can go and every shard still has a copy.
    env = clean_env(**{**engine_env("opensearch", index), "SEARCHSVC_OPENSEARCH_SHARDS": "2",
                       "SEARCHSVC_OPENSEARCH_REPLICAS": "1", "SEARCHSVC_ADMIN_TOKEN": TOKEN})
    server = Server(tmp_path, index, source, 2, env)
    killed_at = None
    try:
        assert server.wait_ready(timeout=180).status == 200, server.log()
        assert server.documents() == ARTICLES
        generation = server.get("/api/health").json()["generation"]
        settings = cluster_get(f"/{generation}/_settings")[generation]["settings"]["index"]
        assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("2", "1")
        health = cluster_get(f"/_cluster/health/{generation}?wait_for_status=green&timeout=60s")
        assert health["status"] == "green", health
        # The victim: the node holding the primary of shard 0 (its replica is elsewhere).
        shards = cluster_get(f"/_cat/shards/{generation}?format=json")
        victim = next(s["node"] for s in shards if s["shard"] == "0" and s["prirep"] == "p")
        pid = node_pids()[victim]

        with Load(server.port) as load:
            assert wait_until(lambda: len(load.searches) >= CLIENTS, 30)
            time.sleep(BEFORE_KILL)
            os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            time.sleep(AFTER_KILL)
        assert not Path(f"/proc/{pid}").exists() or b"Z" in Path(f"/proc/{pid}/stat").read_bytes()

        after = [s for s in load.searches if s[0] > killed_at]
        statuses = Counter(status for _, status, _, _ in load.ingests)
        accepted = [doc["id"] for _, status, _, doc in load.ingests if 200 <= status < 300]
        report = {
            "victim": victim, "searches": len(load.searches), "after_kill": len(after),
            "failures": len(load.failures),
            "slowest_search_s": round(max(s for _, s in load.searches), 2),
            "slowest_after_kill_s": round(max((s for _, s in after), default=0), 2),
            "ingests": dict(statuses),
            "ingests_after_kill": dict(Counter(st for t, st, _, _ in load.ingests
                                               if t > killed_at)),
        }
        print(f"\nfault test: {json.dumps(report)}")  # what was measured (-s / -rP)

        assert not load.failures, f"{len(load.failures)} searches failed: {load.failures[:5]}"
        assert len(after) >= 50, report
        for _, status, kind, doc in load.ingests:
            if not 200 <= status < 300:
                assert status == 503 and kind == PROBLEM_MIME, (status, kind, doc)
                assert doc["code"] in ("engine_unavailable", "index_unavailable"), doc
                assert doc["detail"] and "Traceback" not in json.dumps(doc), doc
        assert accepted, report

        def found() -> set[str]:
            doc = server.get(search_path(q="quokkafault", per_page=100, collapse="false"),
                             timeout=60).json()
            return {h["id"] for h in doc["hits"]}

        # Every accepted article is searchable with the node still down...
        assert set(accepted) <= found()
        for article_id in accepted:
            assert server.get(f"/api/articles/{article_id}", timeout=60).status == 200
        restart_cluster()
        killed_at = None
        # ...and once it is back.
        assert set(accepted) <= found() <= {doc["id"] for _, _, _, doc in load.ingests}
        assert server.get(search_path(q=MARKER), timeout=60).json()["total"] == ARTICLES
        assert server.proc.poll() is None, server.log()
    finally:
        server.stop()
        if killed_at is not None or len(node_pids()) < 3:
            restart_cluster()


# -- an unreachable cluster ------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable_env(index: Path) -> dict[str, str]:
    return clean_env(**{**engine_env("opensearch", index),
                        "SEARCHSVC_OPENSEARCH_URL": f"http://127.0.0.1:{closed_port()}"})


@pytest.mark.parametrize("command", ["serve", "index"])
def test_an_unreachable_cluster_is_one_clear_error_line(tmp_path, command):
    index = tmp_path / "index"
    args = [command, "--index", index]
    args += ["--port", str(closed_port()), "--source", ROOT / "seeds"] if command == "serve" \
        else [ROOT / "seeds"]
    result = run_cli(*args, env=unreachable_env(index), timeout=120)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "OpenSearch" in lines[0], lines
    assert "cannot be reached" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_health_is_503_while_the_cluster_cannot_be_reached(tmp_path):
    index = tmp_path / "index"
    env = unreachable_env(index)
    client = make_client(index, "opensearch",
                         OPENSEARCH_URL=env["SEARCHSVC_OPENSEARCH_URL"])
    try:
        for path in ("/api/health", search_path(q="oil"), "/api/stats"):
            resp = client.get(path)
            assert resp.status_code == 503, resp.get_data(as_text=True)
            assert resp.mimetype == PROBLEM_MIME
            doc = resp.get_json()
            assert doc["code"] == "engine_unavailable" and "cannot be reached" in doc["detail"]
    finally:
        close_client(client)
