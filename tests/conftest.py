"""Shared fixtures: small indexes built in tmp folders, the Flask app, and the Reuters corpus.

Every index fixture builds on the engine ``engine_name`` names (only ``whoosh`` for now; to run
the API and CLI tests on every engine, parametrize that one fixture over
``support.index.ENGINES``). Tests that need the Reuters corpus use ``reuters_jsonl`` /
``reuters_index`` and are skipped cleanly when ``../shared/corpora`` is absent. Helpers live in
``tests/support``, not here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from support.index import Opened, build_sources, write_jsonl
from support.paths import REUTERS_JSONL, SEEDS
from support.web import close_client, make_client

warnings.filterwarnings("ignore", category=SyntaxWarning, module=r"whoosh(\..*)?")


@pytest.fixture(scope="session")
def engine_name() -> str:
    """The engine every index fixture builds on and every app serves."""
    return "whoosh"


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, engine_name) -> Path:
    """An index of the two bundled seed articles (built once per test session; read-only)."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    build_sources(index_dir, [SEEDS], engine_name)
    return index_dir


@pytest.fixture
def make_index(tmp_path, engine_name) -> Callable[[list[dict]], Path]:
    """Build an index from JSONL-style records; returns the index directory."""
    counter = iter(range(1_000_000))

    def _make(records: list[dict]) -> Path:
        n = next(counter)
        source = write_jsonl(tmp_path / f"src{n}" / "articles.jsonl", records)
        index_dir = tmp_path / f"index{n}"
        build_sources(index_dir, [source], engine_name)
        return index_dir

    return _make


@pytest.fixture
def snapshot_of(engine_name):
    """``snapshot_of(index_dir, max_terms=…)``: an opened snapshot, closed after the test."""
    opened = Opened(engine_name)
    yield opened
    opened.close()


@pytest.fixture
def seed_view(seed_index, snapshot_of):
    """The seed index opened for searching (a snapshot of its current generation)."""
    return snapshot_of(seed_index)


@pytest.fixture
def app_for(engine_name):
    """``app_for(index_dir, **config)``: a Flask test client whose engine is closed after the
    test."""
    made = []

    def _app_for(index_dir: Path, **config):
        made.append(make_client(index_dir, engine_name, **config))
        return made[-1]

    yield _app_for
    for test_client in made:
        close_client(test_client)


@pytest.fixture
def client(seed_index, app_for):
    """Flask test client over the seed index."""
    return app_for(seed_index)


@pytest.fixture(scope="session")
def reuters_jsonl() -> Path:
    if not REUTERS_JSONL.exists():
        pytest.skip("the Reuters corpus (../shared/corpora) is not available")
    return REUTERS_JSONL


@pytest.fixture(scope="session")
def reuters_index(reuters_jsonl, tmp_path_factory, engine_name) -> Path:
    """The full Reuters JSONL corpus, indexed once per session (~20 s)."""
    index_dir = tmp_path_factory.mktemp("reuters-index")
    build_sources(index_dir, [reuters_jsonl], engine_name)
    return index_dir
