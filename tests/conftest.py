"""Shared fixtures: small indexes built in tmp folders, the Flask app, and the Reuters corpus.

Tests that need the Reuters corpus use ``reuters_jsonl``/``reuters_index`` and are skipped
cleanly when ``../shared/corpora`` is absent.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from searchsvc.app import create_app
from searchsvc.indexer import build
from searchsvc.searcher import Engine

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
REUTERS_JSONL = SHARED / "corpora" / "reuters21578.jsonl.gz"
REUTERS_TAR = SHARED / "corpora" / "reuters21578-articles.tar.gz"

warnings.filterwarnings("ignore", category=SyntaxWarning, module=r"whoosh(\..*)?")


def write_jsonl(path: Path, records: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> Path:
    """An index of the two bundled seed articles (built once per test session)."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    build(index_dir, [SEEDS])
    return index_dir


@pytest.fixture
def make_index(tmp_path) -> Callable[[list[dict]], Path]:
    """Build an index from JSONL-style records; returns the index directory."""
    counter = iter(range(1_000_000))

    def _make(records: list[dict]) -> Path:
        n = next(counter)
        source = write_jsonl(tmp_path / f"src{n}" / "articles.jsonl", records)
        index_dir = tmp_path / f"index{n}"
        build(index_dir, [source])
        return index_dir

    return _make


@pytest.fixture
def seed_view(seed_index):
    engine = Engine(seed_index)
    yield engine.view()
    engine.close()


def make_client(index_dir: Path, **config):
    app = create_app({"TESTING": True, "INDEX": str(index_dir), **config})
    return app.test_client()


def close_client(test_client) -> None:
    """Close the searchers the client's app opened, so no file is left to the GC."""
    test_client.application.extensions["searchsvc"].close()


@pytest.fixture
def app_for():
    """``make_client(index_dir, **config)`` whose searchers are closed after the test."""
    made = []

    def _app_for(index_dir: Path, **config):
        made.append(make_client(index_dir, **config))
        return made[-1]

    yield _app_for
    for test_client in made:
        close_client(test_client)


@pytest.fixture
def client(seed_index):
    """Flask test client over the seed index (its searcher closed afterwards)."""
    test_client = make_client(seed_index)
    yield test_client
    close_client(test_client)


@pytest.fixture(scope="session")
def reuters_jsonl() -> Path:
    if not REUTERS_JSONL.exists():
        pytest.skip("the Reuters corpus (../shared/corpora) is not available")
    return REUTERS_JSONL


@pytest.fixture(scope="session")
def reuters_index(reuters_jsonl, tmp_path_factory) -> Path:
    """The full Reuters JSONL corpus, indexed once per session (~20 s)."""
    index_dir = tmp_path_factory.mktemp("reuters-index")
    build(index_dir, [reuters_jsonl])
    return index_dir
