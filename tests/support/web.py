"""The Flask app over an index, for tests that hold one longer than a test (module fixtures)."""

from __future__ import annotations

from pathlib import Path

from searchsvc.web.app import create_app
from support.index import engine_settings


def make_client(index_dir: Path | str, engine_name: str = "whoosh", **config):
    """A test client of an app serving ``index_dir``; close it with :func:`close_client`."""
    app = create_app({"TESTING": True, **engine_settings(engine_name, index_dir), **config})
    return app.test_client()


def close_client(test_client) -> None:
    """Close the engine the client's app opened (its snapshots), so no file is left to the GC."""
    test_client.application.extensions["searchsvc"].close()
