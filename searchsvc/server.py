"""``searchsvc serve``: the production WSGI server.

gunicorn with ``--workers`` synchronous worker processes (``SEARCHSVC_WORKERS``, 2 by default
whatever the machine: about one per core is right): searching is CPU-bound Python, so
processes (not threads) are what use the cores; design.md measured 2.6x the search
throughput of waitress or Flask's server with two sync workers. Each worker opens its own
snapshot once and reuses it across requests; before each request the engine checks (one
``readlink`` for Whoosh) whether a new generation has been published and, if so, opens it — the
request then runs entirely on the new one, and older generations stay long enough for
requests still running on them to finish.

Before gunicorn starts, ``serve`` builds the index if there is none, and checks that the port
is free (gunicorn would retry for seconds and then print a bare "Can't connect"). It prints
``Serving <url>`` with the engine, generation and document count once it is ready. The
temporary folder it makes for the workers' metrics (``PROMETHEUS_MULTIPROC_DIR``, when not
set) is removed when the server exits.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.http import errors as http_errors
from gunicorn.util import write_nonblock
from gunicorn.workers.sync import SyncWorker

from searchsvc.errors import PROBLEM_MIME, IndexUnavailable, ServiceError, problem


class _Server(BaseApplication):
    def __init__(self, options: dict, app_config: dict):
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Imported here, after ``run`` set PROMETHEUS_MULTIPROC_DIR: each worker's metrics
        # then go to that folder and a scrape adds them up.
        from searchsvc.web.app import create_app

        return create_app(self.app_config)


class ProblemWorker(SyncWorker):
    """gunicorn's sync worker, answering the requests gunicorn refuses itself (a request line
    over 8,190 bytes, too many or too long headers, a malformed request) with problem+json
    like every error of the app, instead of gunicorn's text/html page."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        refused = _REFUSED.get(type(exc))
        if refused is None:
            return super().handle_error(req, client, addr, exc)
        status, code = refused
        body = json.dumps(problem(status, code, str(exc) or HTTPStatus(status).phrase))
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
                f"Content-Type: {PROBLEM_MIME}\r\nContent-Length: {len(body)}\r\n\r\n")
        try:
            write_nonblock(client, (head + body).encode("latin-1", "replace"))
        except OSError:  # the client went away
            pass
        return None


_REFUSED: dict[type, tuple[int, str]] = {
    http_errors.LimitRequestLine: (414, "uri_too_long"),
    http_errors.LimitRequestHeaders: (431, "headers_too_large"),
    http_errors.InvalidRequestLine: (400, "bad_request"),
    http_errors.InvalidRequestMethod: (400, "bad_request"),
    http_errors.InvalidHTTPVersion: (400, "bad_request"),
    http_errors.InvalidHeader: (400, "bad_request"),
    http_errors.InvalidHeaderName: (400, "bad_request"),
}


def check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServiceError(f"cannot listen on {host}:{port}: "
                               f"{exc.strerror or exc} (is another server running there? "
                               "choose another --port)") from None


def _metrics_dir(index_dir: Path) -> Path | None:
    """A fresh folder for the workers' metric samples (prometheus-client's multiprocess
    mode), unless the operator chose one; the folder when one was made here, for ``run`` to
    remove when the server exits (an operator's own folder is left alone)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    folder = Path(tempfile.mkdtemp(prefix="searchsvc-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def _remove_metrics_dir(folder: Path | None, owner: int) -> None:
    # Only in the process that made it: every gunicorn worker is a fork of this one and
    # leaves through the same frames when it exits, while the master and the other workers
    # still write their samples there.
    if folder is None or os.getpid() != owner:
        return
    shutil.rmtree(folder, ignore_errors=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == str(folder):
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def _child_exit(_server: object, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def run(host: str, port: int, settings: dict[str, Any], workers: int,
        build: Callable[..., int]) -> None:
    from searchsvc.engines import open_engine
    from searchsvc.ingest import build as builds

    check_port(host, port)
    engine = open_engine(settings)
    try:
        if not engine.has_index():
            source = settings["SOURCE"]
            print(f"no index in {settings['INDEX']}: building it from {source}",
                  file=sys.stderr, flush=True)
            code = build(settings, [source])
            if code != 0 and not engine.has_index():
                raise ServiceError("the index could not be built; see the messages above")
        elif Path(settings.get("INGEST_DIR") or Path(settings["INDEX"]) / "ingested").is_dir():
            # Articles whose ingest was cut short (their files are written) are applied now.
            build(settings, [], update=True, quiet=True)
        try:
            info = engine.snapshot().info()
            state = (f"engine {info.engine}, generation {info.generation}, "
                     f"{info.documents:,} documents")
        except IndexUnavailable as exc:
            # The served generation cannot be opened (damaged, removed by hand): serve anyway,
            # answering 503 with the reason, until a good build is published.
            print(f"warning: {exc.detail}; searches answer 503 until a good build is "
                  "published (searchsvc index, or POST /api/reindex)", file=sys.stderr,
                  flush=True)
            state = "index unavailable"
    finally:
        engine.close()
    del builds
    metrics, owner = _metrics_dir(Path(settings["INDEX"])), os.getpid()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    ready = f"Serving {url_of(host, port)} ({state})"

    def when_ready(_server: object) -> None:
        print(ready, file=sys.stderr, flush=True)

    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": max(1, workers),
        "worker_class": ProblemWorker,
        "timeout": 120,
        "graceful_timeout": 10,
        "keepalive": 5,
        # gunicorn's largest: longer request lines get ProblemWorker's 414 problem+json.
        "limit_request_line": 8190,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "searchsvc",
        "when_ready": when_ready,
        "child_exit": _child_exit,
    }
    try:
        _Server(options, {k: v for k, v in settings.items()}).run()
    finally:
        _remove_metrics_dir(metrics, owner)
