"""``searchsvc serve``: the production WSGI server.

gunicorn with synchronous worker processes, one per core by default: searching is CPU-bound
Python, so processes (not threads) are what use both cores; design.md measured 2.6x the search
throughput of waitress or Flask's server with two sync workers. Each worker opens its own
snapshot once and reuses it across requests; before each request the engine checks (one
``readlink`` for Whoosh) whether a new generation has been published and, if so, opens it — the
request then runs entirely on the new one, and older generations stay long enough for
requests still running on them to finish.

Before gunicorn starts, ``serve`` builds the index if there is none, and checks that the port
is free (gunicorn would retry for seconds and then print a bare "Can't connect"). It prints
``Serving <url>`` with the engine, generation and document count once it is ready.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from searchsvc.errors import ServiceError


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


def _metrics_dir(index_dir: Path) -> None:
    """A fresh folder for the workers' metric samples (prometheus-client's multiprocess
    mode), unless the operator chose one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = Path(tempfile.mkdtemp(prefix="searchsvc-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


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
        info = engine.snapshot().info()
    finally:
        engine.close()
    del builds
    _metrics_dir(Path(settings["INDEX"]))
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    ready = (f"Serving {url_of(host, port)} (engine {info.engine}, generation "
             f"{info.generation}, {info.documents:,} documents)")

    def when_ready(_server: object) -> None:
        print(ready, file=sys.stderr, flush=True)

    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": max(1, workers),
        "worker_class": "sync",
        "timeout": 120,
        "graceful_timeout": 10,
        "keepalive": 5,
        # Query strings longer than this get gunicorn's own 414; the app rejects long q earlier.
        "limit_request_line": 8190,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "searchsvc",
        "when_ready": when_ready,
        "child_exit": _child_exit,
    }
    _Server(options, {k: v for k, v in settings.items()}).run()
