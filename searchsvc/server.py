"""``searchsvc serve``: the production WSGI server.

gunicorn with synchronous worker processes, one per core by default: searching is CPU-bound
Python, so processes (not threads) are what use both cores; design.md measured 2.6x the search
throughput of waitress or Flask's server with two sync workers. Each worker opens its own
searcher once and reuses it across requests; before each request the engine checks (one
``readlink``) whether the indexer has swapped in a new generation and, if so, opens it — the
request then runs entirely on the new one, and older generations stay on disk long enough for
requests still running on them to finish.
"""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from searchsvc.app import create_app


class _Server(BaseApplication):
    def __init__(self, options: dict, app_config: dict):
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(self.app_config)


def run(host: str, port: int, index: str, source: str, workers: int) -> None:
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": max(1, workers),
        "worker_class": "sync",
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        # Query strings longer than this get gunicorn's own 414; the app rejects long q earlier.
        "limit_request_line": 8190,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "searchsvc",
    }
    _Server(options, {"INDEX": index, "SOURCE": source}).run()
