"""Small indexes for tests, built and searched through the engine port.

Everything here names the engine (``engine_name``, one of :data:`ENGINES`) and reaches it only
through ``searchsvc.engines.open_engine`` and the :class:`~searchsvc.engine.Snapshot` protocol,
so a test written with these helpers runs unchanged on every engine: ``conftest``'s
``engine_name`` fixture is the one place that says which.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from searchsvc.core.params import parse_search_args
from searchsvc.core.search import SearchResult, search
from searchsvc.engine import Engine, EngineRequest, Snapshot
from searchsvc.engines import open_engine as _open_engine
from searchsvc.ingest.build import BuildReport, build

ENGINES = ("whoosh",)  # the engines the suite runs on ("opensearch" once it exists)


def engine_settings(engine_name: str, index_dir: Path | str, **extra: object) -> dict:
    """The settings (``create_app``'s config, ``open_engine``'s mapping) of an index."""
    return {"ENGINE": engine_name, "INDEX": str(index_dir), **extra}


def engine_env(engine_name: str) -> dict[str, str]:
    """The ``SEARCHSVC_*`` variables that make a ``searchsvc`` process use the engine."""
    return {"SEARCHSVC_ENGINE": engine_name}


def open_engine(index_dir: Path | str, engine_name: str = "whoosh", *,
                max_terms: int = 1024) -> Engine:
    return _open_engine(engine_settings(engine_name, index_dir, MAX_TERMS=max_terms))


def write_jsonl(path: Path, records: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def build_sources(index_dir: Path | str, sources: Sequence[Path | str],
                  engine_name: str = "whoosh", **kwargs) -> BuildReport:
    """``ingest.build.build`` on the named engine (full build; ``update_only=True`` updates)."""
    return build(index_dir, sources, engine=open_engine(index_dir, engine_name), **kwargs)


def build_index(root: Path, records: Sequence[dict], engine_name: str = "whoosh") -> Path:
    """``records`` (JSONL input format) written to ``root/src/articles.jsonl`` and built into
    ``root/index``; returns the index directory."""
    source = write_jsonl(root / "src" / "articles.jsonl", records)
    build_sources(root / "index", [source], engine_name)
    return root / "index"


@contextlib.contextmanager
def open_snapshot(index_dir: Path | str, engine_name: str = "whoosh", *,
                  max_terms: int = 1024) -> Iterator[Snapshot]:
    """The current generation of an index, opened for searching, closed afterwards."""
    engine = open_engine(index_dir, engine_name, max_terms=max_terms)
    try:
        yield engine.snapshot()
    finally:
        engine.close()


class Opened:
    """Snapshots opened during a test, all closed by :meth:`close` (an unclosed Whoosh file is a
    warning, and warnings are errors). One engine per call: a test may hold snapshots of two
    generations of the same index at once."""

    def __init__(self, engine_name: str = "whoosh"):
        self.engine_name = engine_name
        self.engines: list[Engine] = []

    def __call__(self, index_dir: Path | str, *, max_terms: int = 1024) -> Snapshot:
        engine = open_engine(index_dir, self.engine_name, max_terms=max_terms)
        self.engines.append(engine)
        return engine.snapshot()

    def close(self) -> None:
        while self.engines:
            self.engines.pop().close()


# -- searching --------------------------------------------------------------------------------


def run(snapshot: Snapshot, collapse: str | None = "false", **args) -> SearchResult:
    """Search as the API does, every article its own hit (``collapse=None``: the default)."""
    if collapse is not None:
        args["collapse"] = collapse
    return search(snapshot, parse_search_args(args))


def ids(result: SearchResult) -> list[str]:
    return [h.id for h in result.hits]


def search_ids(snapshot: Snapshot, q: str, **params: str) -> list[str]:
    """Every matching id (up to 100), in rank order."""
    return ids(run(snapshot, q=q, per_page="100", **params))


def doc_ids(snapshot: Snapshot) -> set[str]:
    """Every article of the snapshot (asked of the engine, not of the search core)."""
    n = snapshot.info().documents
    result = snapshot.search(EngineRequest(limit=max(n, 1), collapse=False, fields=False))
    assert result.total == n, (result.total, n)
    return {h.id for h in result.hits}
