"""Builds and ``searchsvc index`` (contract §2, §5): full builds, ``--update``, ``--strict``, the
safety rail, the build lock, a killed build, bad input, unwritable targets, generations and
rollback, build records, and the Reuters corpus.

Most tests run the real command (``python -m searchsvc index``) in a subprocess on small folders
written under ``tmp_path``; the rest call :func:`searchsvc.ingest.build.build` directly. What is
checked is what a user sees: the exit code, the summary and error lines, and what a search of
the resulting index returns. No test asserts on elapsed time; subprocess timeouts only stop a
hang.

The module runs on the embedded engine (``pytestmark``): its own parts (generation folders,
the ``current`` link, segments, the parallel build, a build killed halfway) are tested here.
What every engine must do alike (summaries, bad input, ``--update``, ``--strict``, the locks,
the safety rail, generations, rollback, build records) is marked :data:`EVERY_ENGINE` and runs
on each; :func:`cli` gives the command the engine's settings, and :func:`served`,
:func:`current`, :func:`kept` and :func:`record_of` ask the engine, not the folder.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from support.cli import HANG_GUARD, SUMMARY, clean_env, run_cli, summary
from support.index import Opened, build_sources, doc_ids, engine_env, open_engine, search_ids
from support.paths import REUTERS_TAR, SEED_IDS, SEEDS

from searchsvc.core import documents, spelling
from searchsvc.core.params import parse_search_args
from searchsvc.core.search import search
from searchsvc.engines.whoosh import generations as gens
from searchsvc.errors import BuildError, LockedError, NotFound, ShrinkRefused
from searchsvc.ingest import build as build_module
from searchsvc.ingest import records
from searchsvc.ingest.locks import BUILD_LOCK, WRITE_LOCK, Lock

BIG = 2500  # articles in the generated corpus: enough for the parallel build (≥ 2000)

cli_env = clean_env
pytestmark = pytest.mark.engines("whoosh")
EVERY_ENGINE = pytest.mark.engines("whoosh", "opensearch")


# -- helpers -----------------------------------------------------------------------------------


def write_jsonl_lines(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_article(folder: Path, name: str, headline: str, body: str,
                  date: str = "2020-01-24") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"date {date}\n{headline}\n\n{body}\n", encoding="utf-8")
    return path


_OPENED: list[Opened] = []


@pytest.fixture(autouse=True)
def _opened(engine_name):
    """Every snapshot a test opens is closed after it (an unclosed Whoosh file is a warning)."""
    _OPENED.append(Opened(engine_name))
    yield
    while _OPENED:
        _OPENED.pop().close()


def view_of(index: Path):
    """A snapshot of the index's current generation (closed after the test)."""
    return _OPENED[-1](index)


def ids_of(index: Path) -> set[str]:
    return doc_ids(view_of(index))


def found_ids(index: Path, q: str, **params: str) -> list[str]:
    return search_ids(view_of(index), q, collapse="false", **params)


def build(index: Path, sources, **kwargs):
    """A build on the engine under test (``update_only=True`` for an update)."""
    return build_sources(index, sources, _OPENED[-1].engine_name, **kwargs)


def on_whoosh() -> bool:
    return _OPENED[-1].engine_name == "whoosh"


def cli(*args: str | Path, index: Path | None = None, cwd: Path | None = None,
        **env: str) -> subprocess.CompletedProcess:
    """``run_cli`` on the engine under test, for the index ``--index`` names (or ``index``:
    on OpenSearch its alias is derived from the folder)."""
    if index is None and "--index" in args:
        index = Path(args[args.index("--index") + 1])
    engine = _OPENED[-1].engine_name
    settings = engine_env(engine, index) if index is not None else {"SEARCHSVC_ENGINE": engine}
    return run_cli(*args, cwd=cwd, env=cli_env(**settings, **env))


def current(index: Path) -> str:
    """The served generation: what ``current`` links to (Whoosh), or the alias names."""
    if on_whoosh():
        return os.readlink(index / "current")
    return view_of(index).generation


def served(index: Path) -> tuple[str, set[str]]:
    """What a reader of the index sees: the served generation and its documents."""
    return current(index), ids_of(index)


def generations(index: Path) -> list[str]:
    return sorted(p.name for p in index.glob("gen-*"))


def kept(index: Path) -> list[str]:
    """The kept generations, oldest first, as the engine lists them (Whoosh: its folders)."""
    if on_whoosh():
        return generations(index)
    engine = open_engine(index, _OPENED[-1].engine_name)
    try:
        return [g.id for g in engine.generations()]
    finally:
        engine.close()


def record_of(index: Path, generation: str | None = None) -> dict:
    """The build record a generation keeps (Whoosh: ``build.json``); the served one's on any
    engine."""
    if generation is None:
        return view_of(index).info().record
    return gens.read_record(index / generation)


def stories_of(index: Path) -> dict[str, str]:
    """article id → story id, as the engine serves them."""
    snap = view_of(index)
    every = sorted(doc_ids(snap))
    return {a.id: a.story for a in snap.documents(every)}


def vocabulary_of(index: Path) -> dict[str, int]:
    return dict(view_of(index).vocabulary().words())


def make_corpus(folder: Path, n: int) -> Path:
    """``n`` generated articles (≈150 words each), ``a00000.txt`` … with a unique ``markerN``."""
    rng = random.Random(1987)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "da", "gri", "mon"]
    vocab = ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
             for _ in range(3000)]
    folder.mkdir(parents=True)
    for i in range(n):
        words = rng.choices(vocab, k=150)
        write_article(folder, f"a{i:05d}.txt", " ".join(words[:8]).capitalize(),
                      " ".join(words[8:]) + f". marker{i}", date=f"2019-{i % 12 + 1:02d}-15")
    return folder


def writing(index: Path) -> bool:
    """Whether a build is writing a new generation (a ``gen-*.tmp`` folder with files in it)."""
    for tmp in index.glob("gen-*.tmp"):
        try:
            if any(tmp.iterdir()):
                return True
        except FileNotFoundError:  # renamed or removed meanwhile
            pass
    return False


@pytest.fixture(scope="session")
def big_corpus(tmp_path_factory) -> Path:
    """A corpus large enough for the parallel build and for a build to be caught mid-way."""
    return make_corpus(tmp_path_factory.mktemp("big") / "articles", BIG)


@pytest.fixture
def seed_built(tmp_path) -> Path:
    """A fresh index of the seeds in this test's tmp folder (it may be modified)."""
    index = tmp_path / "index"
    build(index, [SEEDS])
    return index


# -- a full build of the seeds -------------------------------------------------------------------


@EVERY_ENGINE
def test_index_builds_the_seeds_with_a_summary(tmp_path):
    index = tmp_path / "index"
    # No SOURCE: the default source is seeds/ (relative to where the command runs).
    result = cli("index", "--index", index, cwd=SEEDS.parent)

    assert result.returncode == 0, result.stderr
    s = summary(result)
    assert (s["mode"], s["indexed"], s["skipped"], s["documents"]) == ("full", 2, 0, 2)
    assert s["seconds"] >= 0
    assert "\r" not in result.stderr  # no progress display when stderr is not a terminal
    view = view_of(index)
    assert doc_ids(view) == SEED_IDS
    for article_id in SEED_IDS:
        assert documents.get_article(view, article_id).date == "2020-01-24"
    # The generation records its sources as absolute paths (``--update`` without a SOURCE
    # reads them again from anywhere).
    assert record_of(index)["sources"] == [str(SEEDS)]


@EVERY_ENGINE
def test_index_reads_the_index_setting_from_the_environment(tmp_path):
    index = tmp_path / "from-env"
    result = cli("index", SEEDS, index=index, cwd=tmp_path, SEARCHSVC_INDEX=str(index))
    assert result.returncode == 0, result.stderr
    assert ids_of(index) == SEED_IDS
    assert not (tmp_path / "index").exists()


def test_unknown_option_is_a_usage_error(tmp_path):
    result = run_cli("index", SEEDS, "--index", tmp_path / "index", "--no-such-option")
    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert not (tmp_path / "index").exists()


# -- good and bad files ------------------------------------------------------------------------


@EVERY_ENGINE
def test_mixed_folder_indexes_every_good_file_and_reports_every_bad_one(tmp_path):
    src = tmp_path / "src"
    write_article(src, "good1.txt", "First good headline", "Plain good text.")
    write_article(src, "wires/2020/good2.txt", "Second good headline", "More good text.")
    (src / "cp1252.txt").write_bytes(b"date 2020-01-24\nCaf\xe9 headline\n\nCaf\xe9 text.\n")
    (src / "feed.jsonl").write_text(
        '{"id": "j1", "date": "2020-01-25", "title": "Json one", "body": "Json text."}\n'
        '{"id": "j2", "body": "Undated json text."}\n'
        '{"id": "broken", "body": \n'
        '{"id": "j3", "date": "2020-01-26"}\n', encoding="utf-8")
    bad = {
        "nodate.txt": (b"Just some text without a date header.\n", "no date header"),
        "baddate.txt": (b"date 2020-13-45 Text after a bad date.\n", "date"),
        "empty.txt": (b"date 2020-01-24\n\n   \n", "empty text"),
        "binary.txt": (b"date 2020-01-24 text\x00with a NUL byte\n", "NUL"),
        "latin.txt": (b"date 2020-01-24 not \x81 decodable\n", "invalid UTF-8"),
        "huge.txt": (b"date 2020-01-24 " + b"word " * 2000 + b"\n", "limit"),
    }
    for name, (content, _) in bad.items():
        (src / name).write_bytes(content)

    index = tmp_path / "index"
    result = cli("index", src, "--index", index, "--max-file-mb", "0.005")

    assert result.returncode == 0, result.stderr
    assert ids_of(index) == {"good1", "wires/2020/good2", "cp1252", "j1", "j2"}
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    for name, (_, reason) in bad.items():
        line = next((x for x in skipped if f"{src / name}: " in x), None)
        assert line is not None, f"{name} not reported in:\n{result.stderr}"
        assert reason.lower() in line.lower(), line
    feed = src / "feed.jsonl"
    assert any(f"{feed}:3: " in x and "JSON" in x for x in skipped), result.stderr
    assert any(f"{feed}:4: " in x and "body" in x for x in skipped), result.stderr
    assert any(line.startswith("warning ") and f"{src / 'cp1252.txt'}" in line
               for line in result.stderr.splitlines()), result.stderr
    assert len(skipped) == len(bad) + 2
    s = summary(result)
    assert (s["indexed"], s["skipped"], s["warnings"], s["documents"]) == (5, 8, 1, 5)
    assert "Traceback" not in result.stderr


@EVERY_ENGINE
def test_several_sources_are_indexed_together(tmp_path):
    feed = tmp_path / "extra.jsonl"
    feed.write_text('{"id": "extra-1", "date": "2020-02-01", "body": "Sadr again."}\n')
    index = tmp_path / "index"
    result = cli("index", SEEDS, feed, "--index", index)
    assert result.returncode == 0, result.stderr
    assert ids_of(index) == SEED_IDS | {"extra-1"}
    assert set(found_ids(index, "sadr")) == SEED_IDS | {"extra-1"}


@EVERY_ENGINE
def test_an_empty_source_folder_gives_an_empty_usable_index(tmp_path):
    (tmp_path / "empty").mkdir()
    index = tmp_path / "index"
    result = cli("index", tmp_path / "empty", "--index", index)
    assert result.returncode == 0, result.stderr
    assert summary(result)["documents"] == 0
    stats = cli("stats", "--index", index)
    assert stats.returncode == 0, stats.stderr
    assert re.search(r"^documents\s+0$", stats.stdout, re.MULTILINE)


@EVERY_ENGINE
def test_a_missing_source_is_a_usage_error_and_keeps_the_served_index(seed_built, tmp_path):
    before = served(seed_built)
    result = cli("index", tmp_path / "no-such-folder", "--index", seed_built)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "no-such-folder" in result.stderr
    assert served(seed_built) == before


def _every_file_bad(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "undated.txt").write_text("No date header.\n")
    (src / "binary.txt").write_bytes(b"date 2020-01-24 \x00\x01\x02\n")
    return src


@EVERY_ENGINE
def test_a_build_where_every_file_is_bad_keeps_the_served_index(seed_built, tmp_path):
    src = _every_file_bad(tmp_path)
    before = served(seed_built)
    result = cli("index", src, "--index", seed_built)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "no articles" in result.stderr and "2 file(s) skipped" in result.stderr
    assert "--allow-shrink" in result.stderr
    assert served(seed_built) == before


@EVERY_ENGINE
def test_a_refused_build_says_which_files_were_skipped_and_why(seed_built, tmp_path):
    src = _every_file_bad(tmp_path)
    result = cli("index", src, "--index", seed_built)
    assert result.returncode == 1
    assert f"{src / 'undated.txt'}: no date header" in result.stderr
    assert f"{src / 'binary.txt'}: binary content" in result.stderr


@EVERY_ENGINE
def test_a_bad_file_does_not_displace_a_good_article_with_the_same_id(tmp_path):
    feed = write_jsonl_lines(tmp_path / "a" / "feed.jsonl",
                             '{"id": "x", "date": "2020-01-01", "body": "Walruses on ice."}',
                             '{"id": "y", "date": "2020-01-02", "body": "Seals on rocks."}')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("This one has no date header.\n")
    index = tmp_path / "index"
    result = cli("index", feed.parent, tmp_path / "b", "--index", index)
    assert result.returncode == 0, result.stderr
    assert f"skipped {tmp_path / 'b' / 'x.txt'}: no date header" in result.stderr
    # what --update of the same sources gives (it reads every file before resolving ids)
    assert ids_of(index) == {"x", "y"}
    assert found_ids(index, "walruses") == ["x"]


# -- --update --------------------------------------------------------------------------------


@EVERY_ENGINE
def test_update_adds_changes_and_removes(tmp_path):
    src = tmp_path / "src"
    write_article(src, "a.txt", "Alpha headline", "Alpha keeps the quokka company.")
    write_article(src, "wires/2020/B.txt", "Beta headline", "Beta mentions an oldword here.")
    write_article(src, "c.txt", "Gamma headline", "Gamma alone knows zanzibarite and the quokka.")
    index = tmp_path / "index"
    first = cli("index", src, "--index", index)
    assert first.returncode == 0, first.stderr
    assert ids_of(index) == {"a", "wires/2020/B", "c"}
    assert view_of(index).vocabulary().completions("zanz", 5) == ["zanzibarite"]

    write_article(src, "d.txt", "Delta headline", "Delta brings a deltaword.", date="2020-02-02")
    write_article(src, "wires/2020/B.txt", "Beta headline", "Beta now mentions a newword.")
    (src / "c.txt").unlink()
    result = cli("index", src, "--index", index, "--update")

    assert result.returncode == 0, result.stderr
    s = summary(result)
    assert s["mode"] == "update"
    assert (s["indexed"], s["updated"], s["removed"], s["unchanged"]) == (1, 1, 1, 1)
    assert (s["skipped"], s["documents"]) == (0, 3)
    assert ids_of(index) == {"a", "wires/2020/B", "d"}
    assert found_ids(index, "oldword") == []
    assert found_ids(index, "newword") == ["wires/2020/B"]
    assert found_ids(index, "deltaword") == ["d"]
    assert found_ids(index, "zanzibarite") == []
    assert found_ids(index, "quokka") == ["a"]
    view = view_of(index)
    with pytest.raises(NotFound) as gone:
        documents.get_article(view, "c")
    assert gone.value.status == 404
    beta = documents.get_article(view, "wires/2020/B")
    assert "newword" in beta.body and "oldword" not in beta.body
    assert documents.get_article(view, "d").date == "2020-02-02"
    # The spelling vocabulary follows: words only in removed text are no longer offered.
    assert view.vocabulary().completions("zanz", 5) == []
    assert view.vocabulary().completions("oldw", 5) == []
    assert view.vocabulary().completions("neww", 5) == ["newword"]
    assert "deltaword" in view.vocabulary().completions("delt", 5)
    assert view.vocabulary().completions("quok", 5) == ["quokka"]  # still in "a"
    assert spelling.suggest(view, "zanz") == []
    # An update ends where a full rebuild of the same files does: same articles, same words.
    rebuilt = tmp_path / "rebuilt"
    build(rebuilt, [src])
    fresh = view_of(rebuilt)
    assert {i: documents.get_article(fresh, i) for i in doc_ids(fresh)} == {
        i: documents.get_article(view, i) for i in doc_ids(view)}
    assert vocabulary_of(index) == vocabulary_of(rebuilt)
    everything = parse_search_args({"q": "", "per_page": "100"})
    updated_doc, rebuilt_doc = (search(v, everything).to_dict() for v in (view, fresh))
    for doc in (updated_doc, rebuilt_doc):
        doc.pop("took_ms")
        doc["hits"].sort(key=lambda h: h["id"])  # equal dates tie in index order
    assert updated_doc == rebuilt_doc


def _counts(index: Path) -> tuple[dict[str, int], dict[str, int]]:
    vocabulary = view_of(index).vocabulary()
    return dict(vocabulary.words()), dict(vocabulary.phrase_counts())


@EVERY_ENGINE
def test_updates_keep_the_same_words_and_completions_as_a_rebuild(tmp_path):
    """A headline phrase seen once is no completion; seen again in an update it becomes one,
    and it goes again with the article; words follow their articles the same way."""
    src = tmp_path / "src"
    write_article(src, "a.txt", "Copper smelter strike spreads", "Miners walk out at dawn.")
    write_article(src, "b.txt", "Grain harvest looks early", "Farmers cut wheat in June.")
    index = tmp_path / "index"
    build(index, [src])
    steps = [
        lambda: write_article(src, "c.txt", "Copper smelter strike ends", "Miners go back."),
        lambda: write_article(src, "d.txt", "Copper smelter strike returns", "Walkout again."),
        lambda: (src / "c.txt").unlink(),
        lambda: write_article(src, "b.txt", "Grain harvest looks late", "Rain delays wheat."),
        lambda: (src / "d.txt").unlink(),
    ]
    for n, step in enumerate(steps):
        step()
        build(index, [src], update_only=True)
        rebuilt = tmp_path / f"rebuilt{n}"
        build(rebuilt, [src])
        assert _counts(index) == _counts(rebuilt), f"after step {n}"
    words, phrases = _counts(index)
    assert "walkout" not in words and "delays" in words
    assert phrases.get("copper smelter strike", 0) < 2  # only "a" holds it now


@pytest.mark.engines("whoosh")
@pytest.mark.parametrize("delta_max", [0, 50_000])
def test_an_update_changes_no_file_of_the_generation_it_started_from(tmp_path, monkeypatch,
                                                                     delta_max):
    """Generations share unchanged files as hard links: an update (its vocabulary kept as a
    delta, or folded into new base files when the delta grows past its limit) writes new
    files, so the previous generation — still served until the swap, and a rollback target —
    reads exactly what it did."""
    from searchsvc.engines.whoosh import engine as whoosh_engine

    monkeypatch.setattr(whoosh_engine, "DELTA_MAX", delta_max)
    src = tmp_path / "src"
    write_article(src, "a.txt", "Copper smelter strike spreads", "Miners walk out at dawn.")
    write_article(src, "b.txt", "Grain harvest looks early", "Farmers cut wheat in June.")
    index = tmp_path / "index"
    build(index, [src])
    first = index / current(index)
    before = {f.name: f.read_bytes() for f in first.iterdir() if f.is_file()}
    counts_before = _counts(index)
    for name, headline in [("c.txt", "Copper smelter strike ends"),
                           ("d.txt", "Harvest festival opens")]:
        write_article(src, name, headline, "Zinc quotas and copper news.")
        build(index, [src], update_only=True)
    assert current(index) != first.name
    assert {f.name: f.read_bytes() for f in first.iterdir() if f.is_file()} == before
    assert _counts(index) != counts_before
    rebuilt = tmp_path / "rebuilt"
    build(rebuilt, [src])
    assert _counts(index) == _counts(rebuilt)


@EVERY_ENGINE
def test_update_without_changes_changes_nothing(seed_built):
    view = view_of(seed_built)
    before = {i: documents.get_article(view, i).to_dict() for i in SEED_IDS}
    vocabulary = vocabulary_of(seed_built)
    hits = found_ids(seed_built, "sadr rally")

    served = current(seed_built)
    for _ in range(2):
        report = build(seed_built, [SEEDS], update_only=True)
        assert report.mode == "update"
        assert (report.indexed, report.updated, report.removed, report.unchanged) == (0, 0, 0, 2)
        assert report.documents == 2
        # Nothing was written: the same generation is served (open searchers stay valid).
        assert report.generation == served == current(seed_built)
        assert kept(seed_built) == [served]

    view = view_of(seed_built)
    assert {i: documents.get_article(view, i).to_dict() for i in SEED_IDS} == before
    assert vocabulary_of(seed_built) == vocabulary
    assert found_ids(seed_built, "sadr rally") == hits


@EVERY_ENGINE
def test_update_of_an_empty_index_adds_the_articles(tmp_path):
    (tmp_path / "empty").mkdir()
    index = tmp_path / "index"
    assert cli("index", tmp_path / "empty", "--index", index).returncode == 0
    result = cli("index", SEEDS, "--index", index, "--update")
    assert result.returncode == 0, result.stderr
    assert (summary(result)["indexed"], summary(result)["documents"]) == (2, 2)
    assert ids_of(index) == SEED_IDS


@EVERY_ENGINE
def test_update_without_an_index_is_a_full_build(tmp_path):
    report = build(tmp_path / "index", [SEEDS], update_only=True)
    assert (report.mode, report.indexed, report.documents) == ("full", 2, 2)
    assert ids_of(tmp_path / "index") == SEED_IDS


def test_a_large_corpus_through_the_parallel_build_and_an_update(big_corpus, tmp_path):
    """≥ 2000 articles: the build is split across worker processes. Bad files among them are
    reported like any other, ``--strict`` still fails, and ``--update`` works on the result."""
    src = shutil.copytree(big_corpus, tmp_path / "src")
    (src / "m-undated.txt").write_text("No date header in this one.\n")
    (src / "m-binary.txt").write_bytes(b"date 2020-01-24 text\x00with a NUL byte\n")
    index = tmp_path / "index"
    build(index, [SEEDS])
    before = served(index)

    strict = run_cli("index", src, "--index", index, "--procs", "2", "--strict")
    assert strict.returncode == 1
    assert str(src / "m-undated.txt") in strict.stderr
    assert str(src / "m-binary.txt") in strict.stderr
    assert served(index) == before
    assert not list(index.glob("gen-*.tmp"))

    full = run_cli("index", src, "--index", index, "--procs", "2")
    assert full.returncode == 0, full.stderr
    s = summary(full)
    assert (s["indexed"], s["skipped"], s["documents"]) == (BIG, 2, BIG)
    assert f"skipped {src / 'm-undated.txt'}: no date header" in full.stderr
    assert f"skipped {src / 'm-binary.txt'}: binary content" in full.stderr
    assert found_ids(index, "marker10") == ["a00010"]

    write_article(src, "a00010.txt", "Rewritten headline", "Now about parallelchanged things.")
    (src / "a00020.txt").unlink()
    write_article(src, "zz-new.txt", "New headline", "A brandnewarticle.")
    report = build(index, [src], update_only=True)

    assert (report.indexed, report.updated, report.removed, report.unchanged) == (
        1, 1, 1, BIG - 2)
    # The two bad files did not change, so the update does not read them again (see the
    # --strict test below for what that misses).
    assert report.documents == BIG
    assert ids_of(index) == {f"a{i:05d}" for i in range(BIG)} - {"a00020"} | {"zz-new"}
    assert found_ids(index, "marker10") == []
    assert found_ids(index, "marker20") == []
    assert found_ids(index, "parallelchanged") == ["a00010"]
    assert found_ids(index, "brandnewarticle") == ["zz-new"]
    assert found_ids(index, f"marker{BIG - 1}") == [f"a{BIG - 1:05d}"]


@EVERY_ENGINE
def test_an_update_that_removes_an_article_is_served(seed_built, tmp_path):
    """The smallest case of an update with a deletion (a changed article is one too)."""
    src = shutil.copytree(SEEDS, tmp_path / "src")
    (src / "003_3064415bd491f055.txt").unlink()
    report = build(seed_built, [src], update_only=True, allow_shrink=True)
    assert (report.removed, report.documents) == (1, 1)
    assert ids_of(seed_built) == {"000_4db8953d65d6e437"}


@EVERY_ENGINE
def test_update_strict_fails_while_a_skipped_file_is_still_there(tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    (src / "undated.txt").write_text("No date header in this one.\n")
    index = tmp_path / "index"
    assert cli("index", src, "--index", index).returncode == 0
    write_article(src, "new.txt", "A new good one", "Good text.")
    result = cli("index", src, "--index", index, "--update", "--strict")
    assert result.returncode == 1
    assert f"{src / 'undated.txt'}: no date header" in result.stderr


@EVERY_ENGINE
def test_an_update_offers_the_same_completions_as_a_rebuild(tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    index, rebuilt = tmp_path / "index", tmp_path / "rebuilt"
    build(index, [src])
    write_article(src, "d.txt", "Delta headline", "Delta brings a deltaword.")
    build(index, [src], update_only=True)
    build(rebuilt, [src])
    updated, fresh = view_of(index).vocabulary(), view_of(rebuilt).vocabulary()
    assert dict(updated.phrase_counts()) == dict(fresh.phrase_counts())
    assert spelling.suggest(view_of(index), "delta h") == spelling.suggest(
        view_of(rebuilt), "delta h")


def add_story_pairs(folder: Path, pairs: int) -> None:
    """Pairs of articles that retell one event in mostly the same words, on the same day."""
    rng = random.Random(7)
    names = ["".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(4))
             for _ in range(400)]
    for p in range(pairs):
        told = rng.sample(names, 60)
        retold = told[:45] + rng.sample(names, 15)
        rng.shuffle(retold)
        for n, words in enumerate((told, retold)):
            write_article(folder, f"story{p:02d}-{n}.txt", " ".join(words[:6]).capitalize(),
                          " ".join(words[6:]), date=f"2019-03-{p + 1:02d}")


def scored(index: Path, q: str) -> dict[str, float]:
    sq = parse_search_args({"q": q, "per_page": "100", "collapse": "false"})
    return {h.id: h.score for h in search(view_of(index), sq).hits}


def segments(index: Path) -> int:
    return view_of(index).info().segments


def test_the_parallel_build_indexes_and_groups_exactly_like_one_process(big_corpus, tmp_path):
    """Workers write their own segments and send term counts back for story clustering; a
    reader must not be able to tell: the same rankings and the same stories."""
    src = shutil.copytree(big_corpus, tmp_path / "src")
    add_story_pairs(src, 8)
    one, two = tmp_path / "one", tmp_path / "two"
    build(one, [src], procs=1)
    build(two, [src], procs=2)
    # Each worker wrote its own segment; the build merged them into one at the end.
    assert [segments(one), segments(two)] == [1, 1]
    stories = stories_of(one)
    assert {stories[f"story{p:02d}-1"] for p in range(8)} == {f"story{p:02d}-0" for p in range(8)}
    assert stories_of(two) == stories
    rng = random.Random(3)
    words = (src / "a00042.txt").read_text().split()[3:] + (src / "story03-0.txt").read_text(
        ).split()[3:]
    queries = [" ".join(rng.sample(words, k)) for k in (1, 1, 2, 2, 3) for _ in range(4)]
    for q in queries + ['"' + " ".join(words[5:7]) + '"', words[0][:3] + "*", "marker7*"]:
        # Documents are numbered differently (each worker writes every other article), so
        # equal scores may be listed in another order: compare each article's score.
        got, want = scored(two, q), scored(one, q)
        assert got.keys() == want.keys() and got, q
        assert all(got[i] == pytest.approx(want[i], rel=1e-5) for i in want), q
    assert vocabulary_of(two) == vocabulary_of(one)


def test_a_jsonl_file_read_in_pieces_reports_and_indexes_exactly_like_one_read(tmp_path,
                                                                              monkeypatch):
    """A large JSONL file is planned by several processes at once, each reading a piece:
    the report must still name every bad line by its line number in the whole file, and a
    duplicate id still resolves to the later line, wherever the pieces were cut."""
    lines = [json.dumps({"id": f"a{n}", "title": f"Item {n}", "body": f"Marker{n} text."})
             for n in range(40)]
    lines[5] = json.dumps({"id": "twice", "body": "Earlier copy of twiceword."})
    lines[33] = json.dumps({"id": "twice", "body": "Later copy of twiceword."})
    lines[8] = json.dumps({"id": "keep", "body": "The good keepword copy."})
    lines[36] = json.dumps({"id": "keep", "body": 7})  # a bad later copy displaces nothing
    lines[12] = "{not json"
    lines[18] = "[1, 2]"
    lines[20] = ""
    lines[27] = json.dumps({"id": "nobody"})
    feed = write_jsonl_lines(tmp_path / "src" / "feed.jsonl", *lines)
    seen = {}
    for name, split, procs in (("whole", 10**12, 2), ("pieces", 1, 3)):
        monkeypatch.setattr(build_module, "PLAN_SPLIT_BYTES", split)
        report = build(tmp_path / name, [feed.parent], procs=procs)
        seen[name] = ([(p.path, p.line, p.reason) for p in report.problems], report.documents,
                      ids_of(tmp_path / name), found_ids(tmp_path / name, "later"))
    problems, documents, ids, later = seen["pieces"]
    assert seen["pieces"] == seen["whole"]
    assert [(line, reason.split(":")[0]) for _, line, reason in problems] == [
        (13, "malformed JSON"), (19, "line is not a JSON object"),
        (28, "missing 'body' (must be a string)"),
        (37, "missing 'body' (must be a string)"), (None, "duplicate id 'twice'")]
    assert documents == 34 and {"twice", "keep"} <= ids and later == ["twice"]


# -- --strict --------------------------------------------------------------------------------


@EVERY_ENGINE
@pytest.mark.parametrize("update", [False, True], ids=["full", "update"])
def test_strict_with_a_bad_file_fails_and_keeps_the_index(seed_built, tmp_path, update):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    write_article(src, "new.txt", "A new good one", "Good text.")
    (src / "undated.txt").write_text("No date header in this one.\n")
    before = served(seed_built)
    generations_before = kept(seed_built)

    result = cli("index", src, "--index", seed_built, "--strict",
                     *(["--update"] if update else []))

    assert result.returncode == 1
    assert f"{src / 'undated.txt'}: no date header" in result.stderr
    assert "Traceback" not in result.stderr
    assert served(seed_built) == before
    assert kept(seed_built) == generations_before


@EVERY_ENGINE
def test_strict_builds_when_nothing_is_skipped(tmp_path):
    # Warnings (a cp1252 file decoded losslessly, a duplicate id) skip nothing.
    src = shutil.copytree(SEEDS, tmp_path / "src")
    (src / "cp1252.txt").write_bytes(b"date 2020-01-24\nCaf\xe9 headline\n\nCaf\xe9 text.\n")
    (src / "feed.jsonl").write_text('{"id": "dup", "body": "First."}\n'
                                    '{"id": "dup", "body": "Second wins."}\n')
    index = tmp_path / "index"
    result = cli("index", src, "--index", index, "--strict")
    assert result.returncode == 0, result.stderr
    assert summary(result)["warnings"] == 2
    assert "duplicate id 'dup'" in result.stderr
    assert ids_of(index) == SEED_IDS | {"cp1252", "dup"}
    assert found_ids(index, "second") == ["dup"]


# -- the build lock ------------------------------------------------------------------------------


@EVERY_ENGINE
def test_a_second_full_build_fails_fast_while_another_holds_the_lock(seed_built):
    before = served(seed_built)
    with Lock(seed_built, BUILD_LOCK, what="another full build"):
        # If the command waited for the lock it would hang here (the lock is never released
        # while it runs) and the subprocess timeout would fail the test.
        result = cli("index", SEEDS, "--index", seed_built)
        with pytest.raises(LockedError, match="another full build"):
            build(seed_built, [SEEDS])
        # An update only waits for the short publishing step (``.lock``): a running full
        # build does not hold it up (changed by the restructure: updates used to fail too).
        update = cli("index", SEEDS, "--index", seed_built, "--update")
        assert update.returncode == 0, update.stderr
    assert result.returncode == 1
    assert "another full build" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr  # who holds it
    assert "Traceback" not in result.stderr
    assert served(seed_built) == before

    after = cli("index", SEEDS, "--index", seed_built)
    assert after.returncode == 0, after.stderr


@EVERY_ENGINE
def test_a_full_build_publishes_under_the_write_lock_and_waits_for_it(seed_built):
    """Publishing (a full build's last step, an update, an ingest, a rollback) takes ``.lock``;
    a build that finds it held waits for it rather than failing."""
    before = served(seed_built)
    holder = Lock(seed_built, WRITE_LOCK, what="an update")
    holder.__enter__()
    released = threading.Timer(1.0, holder.__exit__, args=(None, None, None))
    released.start()
    try:
        report = build(seed_built, [SEEDS])
    finally:
        released.join()
    assert report.generation != before[0]
    assert served(seed_built) == (report.generation, SEED_IDS)


# -- a killed build ------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The pids of the live child processes of ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def kill_midway(args: list[str | Path], index: Path, *, group: bool, workers: int = 0) -> None:
    """Start ``searchsvc index`` and SIGKILL it while it writes the new generation (once it has
    ``workers`` child processes): its whole process group (the command and its build workers),
    or only the command's own process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "searchsvc", "index", *map(str, args), "--index", str(index)],
        env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + HANG_GUARD
        while proc.poll() is None and not (
                writing(index) and len(children(proc.pid)) >= workers):
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.002)
        assert proc.poll() is None, "the build finished before it could be killed"
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def wait_for_lock(index: Path) -> None:
    """Wait until nothing holds the build lock (a killed build's workers may take a moment to
    die; a lock that is never released fails here)."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        try:
            with Lock(index, BUILD_LOCK), Lock(index, WRITE_LOCK):
                return
        except LockedError:
            assert time.monotonic() < deadline, "the killed build's lock was never released"
            time.sleep(0.05)


def test_a_build_killed_midway_leaves_the_old_index_and_the_next_build_recovers(
        big_corpus, tmp_path):
    index = tmp_path / "index"
    build(index, [SEEDS])
    before = served(index)

    kill_midway([big_corpus, "--procs", "2"], index, group=True)

    assert list(index.glob("gen-*.tmp")), "the killed build left no .tmp folder to clean up"
    assert served(index) == before
    view = view_of(index)
    assert view.info().documents == 2
    assert search(view, parse_search_args({"q": "sadr"})).total == 2

    # the same build again, at once: no stale lock, and the leftover is cleaned up
    result = run_cli("index", big_corpus, "--index", index)
    assert result.returncode == 0, result.stderr
    assert "another build" not in result.stderr
    assert summary(result)["documents"] == BIG
    assert not list(index.glob("gen-*.tmp"))
    assert found_ids(index, "marker1234") == ["a01234"]


def test_killing_only_the_build_command_does_not_leave_its_workers_holding_the_lock(
        big_corpus, tmp_path):
    # What a user does with the pid the "another build is running (pid …)" message names.
    index = tmp_path / "index"
    build(index, [SEEDS])
    before = served(index)

    kill_midway([big_corpus, "--procs", "2"], index, group=False, workers=2)

    wait_for_lock(index)
    assert served(index) == before
    result = run_cli("index", SEEDS, "--index", index)
    assert result.returncode == 0, result.stderr
    assert not list(index.glob("gen-*.tmp"))
    assert ids_of(index) == SEED_IDS


# -- unwritable targets ----------------------------------------------------------------------


def chmod_blocks_writes(tmp_path: Path) -> bool:
    """False when this user can write into a read-only folder anyway (root, in CI)."""
    probe = tmp_path / "chmod-probe"
    probe.mkdir()
    probe.chmod(0o555)
    try:
        (probe / "file").touch()
    except PermissionError:
        return True
    finally:
        probe.chmod(0o755)
    return False


def test_a_read_only_index_directory_fails_clearly_and_keeps_the_old_index(seed_built, tmp_path):
    if not chmod_blocks_writes(tmp_path):
        pytest.skip("running as root: chmod does not stop root from writing")
    before = served(seed_built)
    seed_built.chmod(0o555)
    try:
        result = run_cli("index", SEEDS, "--index", seed_built)
    finally:
        seed_built.chmod(0o755)
    assert result.returncode == 1
    assert "error:" in result.stderr and "permission" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert served(seed_built) == before


@pytest.mark.parametrize("target", ["file", "file/index"])
def test_an_unwritable_index_target_fails_with_a_clear_message(tmp_path, target):
    (tmp_path / "file").write_text("not a folder\n")
    result = run_cli("index", SEEDS, "--index", tmp_path / target)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:"), result.stderr
    assert (tmp_path / "file").read_text() == "not a folder\n"


# -- generations ----------------------------------------------------------------------------


def test_old_generations_are_pruned_and_current_is_always_complete(tmp_path):
    index = tmp_path / "index"
    src = shutil.copytree(SEEDS, tmp_path / "src")
    build(index, [src])
    link = index / "current"
    stop = threading.Event()
    problems: list[str] = []
    seen: set[str] = set()

    def watch() -> None:
        # A reader that keeps resolving ``current`` while builds run: every target it sees must
        # be a finished generation (renamed from .tmp, with its build.json).
        while not stop.is_set():
            target = os.readlink(link)
            seen.add(target)
            if target.endswith(".tmp"):
                problems.append(f"current -> {target}")
            elif not (index / target / "build.json").is_file() and os.readlink(link) == target:
                problems.append(f"current -> {target}, which is incomplete")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    old_view = view_of(index)
    try:
        for n in range(6):
            write_article(src, f"extra{n}.txt", f"Extra {n}", f"Extra article number{n}.")
            report = build(index, [src], update_only=n % 2 == 1)
            kept = generations(index)
            assert not any(g.endswith(".tmp") for g in kept)
            assert os.readlink(link) == report.generation
            assert report.generation in kept and len(kept) <= 3
            assert kept[-1] == report.generation  # the newest ones are the ones kept
            assert record_of(index, report.generation)["documents"] == 3 + n
            assert view_of(index).info().documents == 3 + n
            if n == 1:
                # a searcher opened two builds ago can still finish its work
                assert search(old_view, parse_search_args({"q": "sadr"})).total == 2
                assert documents.get_article(old_view, "000_4db8953d65d6e437").title
    finally:
        stop.set()
        watcher.join()
    assert problems == []
    assert len(seen) >= 1
    assert len(generations(index)) == 3


def test_a_search_on_a_generation_pruned_meanwhile_still_finishes(tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    index = tmp_path / "index"
    build(index, [src])
    old = view_of(index)  # a request in flight on the first generation
    for n in range(3):  # three more generations: the first is pruned (two are kept)
        write_article(src, f"extra{n}.txt", f"Extra {n}", f"Extra article number{n}.")
        build(index, [src], update_only=True)
    assert old.generation not in generations(index)
    assert search(old, parse_search_args({"q": "sadr rally"})).total == 2
    assert documents.stats(old)["documents"] == 2


def test_many_small_updates_are_merged_and_nothing_is_lost(tmp_path):
    """Each update writes a segment; once enough small ones pile up they are merged (rewritten
    from their stored articles): every article stays searchable, with its facets and story."""
    from searchsvc.engines.whoosh.engine import MERGE_FACTOR

    src = tmp_path / "src"
    write_article(src, "base.txt", "Base", "The base article.")
    index = tmp_path / "index"
    build(index, [src])
    for n in range(MERGE_FACTOR + 1):
        (src / f"u{n}.jsonl").write_text(json.dumps(
            {"id": f"u{n}", "date": f"2020-02-{n + 1:02d}", "title": f"Update {n}",
             "body": f"Update number{n} about walruses.", "topics": [f"t{n}"]}) + "\n")
        build(index, [src], update_only=True)
    snap = view_of(index)
    assert snap.info().segments < MERGE_FACTOR + 2
    assert doc_ids(snap) == {"base"} | {f"u{n}" for n in range(MERGE_FACTOR + 1)}
    assert len(found_ids(index, "walruses")) == MERGE_FACTOR + 1
    for n in range(MERGE_FACTOR + 1):
        assert found_ids(index, f"number{n}") == [f"u{n}"]
        assert found_ids(index, "", topics=f"t{n}") == [f"u{n}"]
        assert documents.get_article(snap, f"u{n}").date == f"2020-02-{n + 1:02d}"


def test_build_error_leaves_no_temporary_generation(seed_built, tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    (src / "bad.txt").write_text("nothing\n")
    before = served(seed_built)
    with pytest.raises(BuildError, match="strict"):
        build(seed_built, [src], strict=True)
    assert not list(seed_built.glob("gen-*.tmp"))
    assert served(seed_built) == before


# -- the safety rail: a build that would empty or halve the served index ------------------------
# New with the restructure (contract §5): refused (exit 1, nothing changed) unless
# --allow-shrink.


@EVERY_ENGINE
@pytest.mark.parametrize("source", ["empty", "notes"])
def test_a_full_build_from_a_folder_without_articles_is_refused(seed_built, tmp_path, source):
    folder = tmp_path / source
    folder.mkdir()
    if source == "notes":
        (folder / "README.md").write_text("not an article\n")
    before = served(seed_built)
    result = cli("index", folder, "--index", seed_built)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "no articles" in result.stderr and "--allow-shrink" in result.stderr
    assert served(seed_built) == before
    with pytest.raises(ShrinkRefused):
        build(seed_built, [folder])
    assert served(seed_built) == before

    allowed = cli("index", folder, "--index", seed_built, "--allow-shrink")
    assert allowed.returncode == 0, allowed.stderr
    assert summary(allowed)["documents"] == 0
    assert ids_of(seed_built) == set()


@EVERY_ENGINE
def test_a_full_build_of_fewer_than_half_the_articles_is_refused(tmp_path):
    src = tmp_path / "src"
    for i in range(5):
        write_article(src, f"a{i}.txt", f"Headline {i}", f"Article number{i}.")
    index = tmp_path / "index"
    assert cli("index", src, "--index", index).returncode == 0
    before = served(index)
    few = tmp_path / "few"
    for i in range(2):
        write_article(few, f"b{i}.txt", f"Other {i}", f"Other article {i}.")
    result = cli("index", few, "--index", index)
    assert result.returncode == 1
    assert "fewer than half" in result.stderr and "--allow-shrink" in result.stderr
    assert served(index) == before
    for i in range(3):  # three of five: not fewer than half
        write_article(few, f"c{i}.txt", f"More {i}", f"More article {i}.")
    result = cli("index", few, "--index", index)
    assert result.returncode == 0, result.stderr
    assert summary(result)["documents"] == 5


@EVERY_ENGINE
def test_an_update_that_would_remove_more_than_half_is_refused(tmp_path):
    src = tmp_path / "src"
    for i in range(4):
        write_article(src, f"a{i}.txt", f"Headline {i}", f"Article number{i}.")
    index = tmp_path / "index"
    build(index, [src])
    before = served(index)
    for i in range(3):
        (src / f"a{i}.txt").unlink()
    with pytest.raises(ShrinkRefused):
        build(index, [src], update_only=True)
    result = cli("index", src, "--index", index, "--update")
    assert result.returncode == 1 and "fewer than half" in result.stderr
    assert served(index) == before


@EVERY_ENGINE
def test_an_update_that_removes_more_than_half_is_applied_with_allow_shrink(tmp_path):
    src = tmp_path / "src"
    for i in range(4):
        write_article(src, f"a{i}.txt", f"Headline {i}", f"Article number{i}.")
    index = tmp_path / "index"
    build(index, [src])
    for i in range(3):
        (src / f"a{i}.txt").unlink()
    result = cli("index", src, "--index", index, "--update", "--allow-shrink")
    assert result.returncode == 0, result.stderr
    assert ids_of(index) == {"a3"}


@EVERY_ENGINE
def test_the_first_build_of_an_empty_folder_is_not_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    report = build(tmp_path / "index", [tmp_path / "empty"])
    assert report.documents == 0


# -- --update without a source, --watch ----------------------------------------------------------


@EVERY_ENGINE
def test_update_without_a_source_reads_the_sources_the_index_records(tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    index = tmp_path / "index"
    assert cli("index", src, "--index", index).returncode == 0
    write_article(src, "new.txt", "A new one", "Mentions a capybara.")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli("index", "--update", "--index", index, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "using the sources recorded in the index" in result.stderr and str(src) in result.stderr
    assert summary(result)["indexed"] == 1
    assert found_ids(index, "capybara") == ["new"]


@EVERY_ENGINE
def test_update_without_a_source_or_an_index_is_a_usage_error(tmp_path):
    result = cli("index", "--update", "--index", tmp_path / "index")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_watch_applies_changes_as_they_come(tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    index = tmp_path / "index"
    proc = subprocess.Popen(
        [sys.executable, "-m", "searchsvc", "index", str(src), "--index", str(index), "--watch",
         "--watch-seconds", "0.2"], env=clean_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (index / "current").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        first = os.readlink(index / "current")
        write_article(src, "late.txt", "A late one", "Mentions an okapi.")
        while os.readlink(index / "current") == first:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        assert found_ids(index, "okapi") == ["late"]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err
    assert "watching for changes" in err and "Traceback" not in err
    summaries = [SUMMARY.match(line).groupdict() for line in out.strip().splitlines()]
    assert summaries[0]["mode"] == "full" and summaries[0]["documents"] == "2"
    assert {m["mode"] for m in summaries[1:]} == {"update"}  # one per look, changes or not
    assert [m["indexed"] for m in summaries[1:] if m["indexed"] != "0"] == ["1"]


# -- generations and rollback (contract §5) ------------------------------------------------------


def _three_generations(tmp_path: Path) -> tuple[Path, list[str]]:
    src = shutil.copytree(SEEDS, tmp_path / "src")
    index = tmp_path / "index"
    made = []
    for n in range(3):
        write_article(src, f"extra{n}.txt", f"Extra {n}", f"Extra article word{n}.")
        made.append(build(index, [src]).generation)
    return index, made


@EVERY_ENGINE
def test_generations_lists_the_kept_ones_with_the_current_one_marked(tmp_path):
    index, made = _three_generations(tmp_path)
    result = cli("generations", "--index", index, "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [g["id"] for g in listed] == made
    assert [g["current"] for g in listed] == [False, False, True]
    assert [g["documents"] for g in listed] == [3, 4, 5]
    assert all(g["built_at"] and g["mode"] == "full" and g["skipped"] == 0 for g in listed)
    assert all(g["sources"] == [str(tmp_path / "src")] for g in listed)
    text = cli("generations", "--index", index).stdout.splitlines()
    assert [line[:1] for line in text] == [" ", " ", "*"]
    assert all(g in line for g, line in zip(made, text, strict=True))


@EVERY_ENGINE
def test_rollback_makes_the_previous_generation_current(tmp_path):
    index, made = _three_generations(tmp_path)
    result = cli("rollback", "--index", index)
    assert result.returncode == 0, result.stderr
    assert made[1] in result.stdout
    assert current(index) == made[1]
    assert found_ids(index, "word2") == []
    assert found_ids(index, "word1") == ["extra1"]
    again = cli("rollback", "--index", index)
    assert again.returncode == 0 and current(index) == made[0]
    none_left = cli("rollback", "--index", index)
    assert none_left.returncode == 1
    assert none_left.stderr.startswith("error: ") and "Traceback" not in none_left.stderr
    assert current(index) == made[0]


@EVERY_ENGINE
def test_rollback_to_a_named_generation_and_to_an_unknown_one(tmp_path):
    index, made = _three_generations(tmp_path)
    named = cli("rollback", made[0], "--index", index)
    assert named.returncode == 0, named.stderr
    assert current(index) == made[0]
    assert cli("rollback", made[2], "--index", index).returncode == 0
    assert current(index) == made[2]
    unknown = cli("rollback", "gen-nope", "--index", index)
    assert unknown.returncode == 2 and "gen-nope" in unknown.stderr
    assert current(index) == made[2]


@EVERY_ENGINE
def test_rollback_of_an_index_with_one_generation_fails(seed_built):
    before = served(seed_built)
    result = cli("rollback", "--index", seed_built)
    assert result.returncode == 1 and result.stderr.startswith("error: ")
    assert served(seed_built) == before


# -- build records --------------------------------------------------------------------------------


@EVERY_ENGINE
def test_the_generation_keeps_the_summary_and_the_problems_of_its_build(tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    (src / "undated.txt").write_text("No date header.\n")
    index = tmp_path / "index"
    report = build(index, [src])
    record = record_of(index)
    # Changed by the restructure: build.json has the build's summary and problems.
    assert record["summary"]["indexed"] == 2 and record["summary"]["skipped"] == 1
    assert [(p["path"], p["reason"], p["skipped"]) for p in record["problems"]] == [
        (str(src / "undated.txt"), "no date header (expected the word 'date' or 'date:' "
         "followed by a date)", True)]
    assert record["documents"] == 2 and record["mode"] == "full"
    assert records.read(index, report.build_id)["generation"] == report.generation


@EVERY_ENGINE
def test_the_summary_a_generation_keeps_names_it(seed_built):
    assert record_of(seed_built)["summary"]["generation"] == current(seed_built)


@EVERY_ENGINE
def test_every_build_leaves_a_record(tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    index = tmp_path / "index"
    full = build(index, [src])
    write_article(src, "new.txt", "New", "New article.")
    update = build(index, [src], update_only=True)
    assert records.read(index, full.build_id)["state"] == "done"
    last = records.last(index)
    assert last["id"] == update.build_id and last["mode"] == "update"
    assert last["summary"]["indexed"] == 1 and last["generation"] == update.generation
    (src / "bad.txt").write_text("bad\n")
    with pytest.raises(BuildError):
        build(index, [src], strict=True)
    failed = records.last(index)
    assert failed["state"] == "failed" and failed["error"] and failed["generation"] is None


# -- Reuters ---------------------------------------------------------------------------------

REUTERS_DOCS = 20_841
REUTERS_RANGE = {"min": "1987-02-26", "max": "1987-10-20"}


@pytest.mark.reuters
def test_reuters_text_files(tmp_path):
    if not REUTERS_TAR.exists():
        pytest.skip("the Reuters corpus (../shared/corpora) is not available")
    with tarfile.open(REUTERS_TAR) as tar:
        tar.extractall(tmp_path / "src", filter="data")
    articles = tmp_path / "src" / "articles"
    index = tmp_path / "index"

    result = run_cli("index", articles, "--index", index)

    assert result.returncode == 0, result.stderr
    s = summary(result)
    assert (s["indexed"], s["skipped"], s["documents"]) == (REUTERS_DOCS, 0, REUTERS_DOCS)
    print(f"Reuters text files: built in {s['seconds']} s")  # informational (-rP / -s)
    stats = documents.stats(view_of(index))
    assert stats["documents"] == REUTERS_DOCS
    assert stats["date_range"] == REUTERS_RANGE
    assert found_ids(index, "peanuts ccc acceptable bids")[0] == "06721_reuters6756"


@EVERY_ENGINE
@pytest.mark.reuters
def test_reuters_jsonl(reuters_index):
    seconds = record_of(reuters_index)["seconds"]
    print(f"Reuters JSONL: built in {seconds} s")  # informational (-rP / -s)
    stats = documents.stats(view_of(reuters_index))
    assert stats["documents"] == REUTERS_DOCS
    assert stats["date_range"] == REUTERS_RANGE
    assert stats["undated"] == 0
    top = {name: [v["value"] for v in values[:10]] for name, values in stats["facets"].items()}
    assert "earn" in top["topics"]
    assert "usa" in top["places"]
    assert top["people"] and top["orgs"]
    assert found_ids(reuters_index, "cocoa", topics="cocoa")
