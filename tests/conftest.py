"""Shared fixtures: small indexes built in tmp folders, the Flask app, and the Reuters corpus.

Every index fixture builds on the engine ``engine_name`` names, and every test that uses it
(directly or through another fixture) runs once per engine of ``support.index.ENGINES``:
``whoosh`` always, ``opensearch`` when ``SEARCHSVC_TEST_OPENSEARCH_URL`` names a cluster
(``make test`` starts one), skipped with the reason otherwise. A test about one engine's own
parts says so with ``@pytest.mark.engines("whoosh")`` (on the test, or ``pytestmark`` for a
module); browser tests run on Whoosh unless they are marked so, as their server is started
without the engine's settings.

OpenSearch indices made by a test are deleted when it ends (those under its ``tmp_path``),
those of module fixtures when the module ends, and the rest (the session's seed and Reuters
indexes) when the session ends. Tests that need the Reuters corpus use ``reuters_jsonl`` /
``reuters_index`` and are skipped cleanly when ``../shared/corpora`` is absent. Helpers live in
``tests/support``, not here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from support.index import (
    ENGINES,
    OPENSEARCH_ALIASES,
    OPENSEARCH_URL_VAR,
    Opened,
    build_sources,
    drop_opensearch,
    opensearch_alias,
    opensearch_url,
    write_jsonl,
)
from support.paths import REUTERS_JSONL, SEEDS
from support.web import close_client, make_client

warnings.filterwarnings("ignore", category=SyntaxWarning, module=r"whoosh(\..*)?")

_SESSION_ALIASES: set[str] = set()  # kept until the session ends (session-scoped indexes)


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "engines(*names): run the test only on these engines (default: every "
                   "engine of support.index.ENGINES)")


def _engine_param(name: str):
    if name == "opensearch" and not opensearch_url():
        return pytest.param(name, id=name, marks=pytest.mark.skip(
            reason=f"{OPENSEARCH_URL_VAR} is not set: no OpenSearch cluster to test on "
                   "(make test starts one)"))
    return pytest.param(name, id=name)


def pytest_generate_tests(metafunc) -> None:
    """Every test that uses ``engine_name`` runs once per engine (see the module docstring)."""
    if "engine_name" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is not None:
        names = tuple(marker.args)
        unknown = set(names) - set(ENGINES)
        if not names or unknown:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: engines() needs names "
                                    f"from {ENGINES}, not {names}")
    elif metafunc.definition.get_closest_marker("browser") is not None:
        names = ("whoosh",)
    else:
        names = ENGINES
    metafunc.parametrize("engine_name", [_engine_param(n) for n in names], indirect=True,
                         scope="session")


@pytest.fixture(scope="session")
def engine_name(request) -> str:
    """The engine every index fixture builds on and every app serves."""
    return getattr(request, "param", "whoosh")


def _under(path: str, folder: Path) -> bool:
    return os.path.commonpath([path, os.path.abspath(folder)]) == os.path.abspath(folder)


@pytest.fixture(autouse=True)
def _drop_test_indices(request):
    """After each test, the OpenSearch indices of index directories under its ``tmp_path``."""
    yield
    tmp = request.node.funcargs.get("tmp_path")
    if tmp is not None and OPENSEARCH_ALIASES:
        drop_opensearch([a for a, path in list(OPENSEARCH_ALIASES.items())
                         if a not in _SESSION_ALIASES and _under(path, tmp)])


@pytest.fixture(scope="module", autouse=True)
def _drop_module_indices():
    """After each module, the OpenSearch indices made meanwhile (module fixtures')."""
    before = set(OPENSEARCH_ALIASES)
    yield
    drop_opensearch([a for a in list(OPENSEARCH_ALIASES)
                     if a not in before and a not in _SESSION_ALIASES])


def pytest_sessionfinish(session, exitstatus) -> None:
    try:
        drop_opensearch(list(OPENSEARCH_ALIASES))
    except Exception as exc:  # the cluster is gone: its indices went with it, or stay named
        print(f"\nwarning: could not delete the test indices {sorted(OPENSEARCH_ALIASES)} "
              f"({type(exc).__name__}: {exc})")


def _session_index(index_dir: Path, engine_name: str) -> None:
    if engine_name == "opensearch":
        _SESSION_ALIASES.add(opensearch_alias(index_dir))


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, engine_name) -> Path:
    """An index of the two bundled seed articles (built once per test session; read-only)."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    _session_index(index_dir, engine_name)
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
    _session_index(index_dir, engine_name)
    build_sources(index_dir, [reuters_jsonl], engine_name)
    return index_dir
