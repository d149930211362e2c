"""A real ``searchsvc serve`` process and plain-HTTP clients for it (the end-to-end, load and
browser tests), and the generated corpora they serve. Standard library only.

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from support.cli import clean_env
from support.paths import SEED_IDS, SEEDS

__all__ = ["SEED_IDS", "SEEDS", "clean_env"]


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
            body: bytes | None = None, timeout: float = 15.0) -> Response:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
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

    def delete(self, path: str, **kwargs) -> Response:
        return request(self.port, "DELETE", path, **kwargs)

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


def lock_is_free(index: Path) -> bool:
    """Nothing holds the index's locks: ``.build.lock`` (a full build) or ``.lock`` (a
    publish)."""
    for name in (".build.lock", ".lock"):
        try:
            fd = os.open(index / name, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    return True


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 1):
        if condition():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(step)
    return condition()
