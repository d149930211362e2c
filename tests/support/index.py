"""Small indexes for tests, built and searched through the engine port.

Everything here names the engine (``engine_name``, one of :data:`ENGINES`) and reaches it only
through ``searchsvc.engines.open_engine`` and the :class:`~searchsvc.engine.Snapshot` protocol,
so a test written with these helpers runs unchanged on every engine: ``conftest``'s
``engine_name`` fixture is the one place that says which.

On OpenSearch (``SEARCHSVC_TEST_OPENSEARCH_URL`` names the cluster) an index directory still
holds what the shared ingest keeps beside an index (locks, build records, ingested articles);
the documents live under an alias derived from the directory (:func:`opensearch_alias`), so
every test index has its own. Every alias derived is remembered in :data:`OPENSEARCH_ALIASES`
and ``conftest`` drops them (:func:`drop_opensearch`) when the test, module or session that
made them ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from searchsvc.core.params import parse_search_args
from searchsvc.core.search import SearchResult, search
from searchsvc.engine import Engine, EngineRequest, Snapshot
from searchsvc.engines import open_engine as _open_engine
from searchsvc.ingest.build import BuildReport, build

ENGINES = ("whoosh", "opensearch")  # the engines the suite runs on
OPENSEARCH_URL_VAR = "SEARCHSVC_TEST_OPENSEARCH_URL"
# Test indices: two shards (so every count crosses shards, as on a real cluster), no replica
# (a replica only copies them; the fault test in test_opensearch_faults.py uses one).
TEST_SHARDS = 2
TEST_REPLICAS = 0
ALIAS_PREFIX = "sst-"  # every alias the suite makes starts so (leftovers are easy to spot)
OPENSEARCH_ALIASES: dict[str, str] = {}  # alias → the index directory it was derived from


def opensearch_url() -> str:
    """The cluster the suite tests against (comma-separated node URLs), or ``""``."""
    return os.environ.get(OPENSEARCH_URL_VAR, "").strip()


def opensearch_alias(index_dir: Path | str) -> str:
    """A unique, valid (lower-case, no ``\\/*?"<>|,# ``) alias for the index directory: a hash
    of its absolute path, then its last two path parts for a reader."""
    path = os.path.abspath(index_dir)
    digest = hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    tail = re.sub(r"[^a-z0-9]+", "-", "-".join(Path(path).parts[-2:]).lower()).strip("-")
    alias = f"{ALIAS_PREFIX}{digest}-{tail[:48]}".rstrip("-")
    OPENSEARCH_ALIASES.setdefault(alias, path)
    return alias


def _opensearch_settings(index_dir: Path | str) -> dict:
    url = opensearch_url()
    if not url:
        raise RuntimeError(f"engine opensearch needs {OPENSEARCH_URL_VAR} (make test sets it)")
    return {"OPENSEARCH_URL": url, "OPENSEARCH_INDEX": opensearch_alias(index_dir),
            "OPENSEARCH_SHARDS": TEST_SHARDS, "OPENSEARCH_REPLICAS": TEST_REPLICAS}


def engine_settings(engine_name: str, index_dir: Path | str, **extra: object) -> dict:
    """The settings (``create_app``'s config, ``open_engine``'s mapping) of an index."""
    settings: dict = {"ENGINE": engine_name, "INDEX": str(index_dir)}
    if engine_name == "opensearch":
        settings.update(_opensearch_settings(index_dir))
    return {**settings, **extra}


def engine_env(engine_name: str, index_dir: Path | str | None = None) -> dict[str, str]:
    """The ``SEARCHSVC_*`` variables that make a ``searchsvc`` process use the engine (on
    OpenSearch: the alias of ``index_dir``, which the process is given with ``--index``)."""
    env = {"SEARCHSVC_ENGINE": engine_name}
    if engine_name == "opensearch":
        if index_dir is None:
            raise ValueError("an OpenSearch index is named after its index directory: pass it")
        env.update({f"SEARCHSVC_{k}": str(v) for k, v in _opensearch_settings(index_dir).items()})
    return env


def index_name(engine_name: str, index_dir: Path | str) -> str:
    """What the engine calls the index in its messages: the folder, or the alias."""
    return opensearch_alias(index_dir) if engine_name == "opensearch" else str(index_dir)


def drop_opensearch(aliases: Iterable[str]) -> None:
    """Delete every index of these aliases (their generations and their ``-meta`` index)."""
    aliases = [a for a in aliases if a.startswith(ALIAS_PREFIX)]
    url = opensearch_url()
    if not aliases or not url:
        return
    from searchsvc.engines.opensearch.engine import OpenSearchEngine

    for alias in aliases:
        engine = OpenSearchEngine.from_settings({"OPENSEARCH_URL": url, "OPENSEARCH_INDEX": alias})
        try:
            engine.drop_everything()
        finally:
            engine.close()
        OPENSEARCH_ALIASES.pop(alias, None)


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
