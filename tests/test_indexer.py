"""The indexer and ``searchsvc index`` (contract §2): builds, ``--update``, ``--strict``, the build
lock, a killed build, bad input, unwritable targets, generations, and the Reuters corpus.

Most tests run the real command (``python -m searchsvc index``) in a subprocess on small folders
written under ``tmp_path``; the rest call :func:`searchsvc.indexer.build` directly. What is checked
is what a user sees: the exit code, the summary and error lines, and what a search of the
resulting index returns. No test asserts on elapsed time; subprocess timeouts only stop a hang.
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
from conftest import REUTERS_TAR, SEEDS

from searchsvc import search as core
from searchsvc.errors import NotFound
from searchsvc.indexer import (
    BuildError,
    BuildLock,
    LockedError,
    build,
    current_generation,
    read_build_info,
    read_stories,
    read_vocabulary,
)
from searchsvc.query import parse_search_args
from searchsvc.searcher import Engine

SEED_IDS = {"000_4db8953d65d6e437", "003_3064415bd491f055"}
BIG = 2500  # articles in the generated corpus: enough for the parallel build (≥ 2000)
HANG_GUARD = 300  # seconds: only to stop a hung subprocess, never a performance assertion
SUMMARY = re.compile(
    r"^(?P<mode>full|update) build: indexed (?P<indexed>[\d,]+), updated (?P<updated>[\d,]+), "
    r"removed (?P<removed>[\d,]+), unchanged (?P<unchanged>[\d,]+), skipped (?P<skipped>[\d,]+), "
    r"warnings (?P<warnings>[\d,]+); (?P<documents>[\d,]+) documents in (?P<seconds>\d+\.\d+) s",
    re.MULTILINE)


# -- helpers -----------------------------------------------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for the command, without any SEARCHSVC_* settings of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    env.update(extra)
    return env


def run_cli(*args: str | Path, cwd: Path | None = None, env: dict | None = None,
            ) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "searchsvc", *map(str, args)], cwd=cwd, env=env or cli_env(),
        capture_output=True, text=True, timeout=HANG_GUARD, stdin=subprocess.DEVNULL)


def summary(result: subprocess.CompletedProcess) -> dict:
    """The summary line (the last line of stdout) as numbers."""
    lines = result.stdout.strip().splitlines()
    assert lines, f"no summary printed; stderr:\n{result.stderr}"
    m = SUMMARY.match(lines[-1])
    assert m, f"unexpected summary line {lines[-1]!r}"
    out = {k: int(v.replace(",", "")) for k, v in m.groupdict().items()
           if k not in ("mode", "seconds")}
    return {**out, "mode": m["mode"], "seconds": float(m["seconds"])}


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


_OPEN_VIEWS: list = []


@pytest.fixture(autouse=True)
def _close_views():
    """Every view a test opens is closed after it (an unclosed Whoosh file is a warning)."""
    yield
    while _OPEN_VIEWS:
        _OPEN_VIEWS.pop().close()


def view_of(index: Path):
    view = Engine(index).view()
    _OPEN_VIEWS.append(view)
    return view


def doc_ids(index: Path) -> set[str]:
    return set(view_of(index).docnum)


def search_ids(index: Path, q: str, **params: str) -> list[str]:
    sq = parse_search_args({"q": q, "per_page": "100", "collapse": "false", **params})
    return [h.id for h in core.search(view_of(index), sq).hits]


def served(index: Path) -> tuple[str, set[str]]:
    """What a reader of the index sees: the generation ``current`` names and its documents."""
    return os.readlink(index / "current"), doc_ids(index)


def generations(index: Path) -> list[str]:
    return sorted(p.name for p in index.glob("gen-*"))


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


def test_index_builds_the_seeds_with_a_summary(tmp_path):
    index = tmp_path / "index"
    # No SOURCE: the default source is seeds/ (relative to where the command runs).
    result = run_cli("index", "--index", index, cwd=SEEDS.parent)

    assert result.returncode == 0, result.stderr
    s = summary(result)
    assert (s["mode"], s["indexed"], s["skipped"], s["documents"]) == ("full", 2, 0, 2)
    assert s["seconds"] >= 0
    assert "\r" not in result.stderr  # no progress display when stderr is not a terminal
    view = view_of(index)
    assert set(view.docnum) == SEED_IDS
    for article_id in SEED_IDS:
        assert core.get_article(view, article_id).date == "2020-01-24"
    assert read_build_info(current_generation(index))["sources"] == ["seeds"]


def test_index_reads_the_index_setting_from_the_environment(tmp_path):
    index = tmp_path / "from-env"
    result = run_cli("index", SEEDS, cwd=tmp_path, env=cli_env(SEARCHSVC_INDEX=str(index)))
    assert result.returncode == 0, result.stderr
    assert doc_ids(index) == SEED_IDS
    assert not (tmp_path / "index").exists()


def test_unknown_option_is_a_usage_error(tmp_path):
    result = run_cli("index", SEEDS, "--index", tmp_path / "index", "--no-such-option")
    assert result.returncode == 2
    assert "No such option" in result.stderr
    assert not (tmp_path / "index").exists()


# -- good and bad files ------------------------------------------------------------------------


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
    result = run_cli("index", src, "--index", index, "--max-file-mb", "0.005")

    assert result.returncode == 0, result.stderr
    assert doc_ids(index) == {"good1", "wires/2020/good2", "cp1252", "j1", "j2"}
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


def test_several_sources_are_indexed_together(tmp_path):
    feed = tmp_path / "extra.jsonl"
    feed.write_text('{"id": "extra-1", "date": "2020-02-01", "body": "Sadr again."}\n')
    index = tmp_path / "index"
    result = run_cli("index", SEEDS, feed, "--index", index)
    assert result.returncode == 0, result.stderr
    assert doc_ids(index) == SEED_IDS | {"extra-1"}
    assert set(search_ids(index, "sadr")) == SEED_IDS | {"extra-1"}


def test_an_empty_source_folder_gives_an_empty_usable_index(tmp_path):
    (tmp_path / "empty").mkdir()
    index = tmp_path / "index"
    result = run_cli("index", tmp_path / "empty", "--index", index)
    assert result.returncode == 0, result.stderr
    assert summary(result)["documents"] == 0
    stats = run_cli("stats", "--index", index)
    assert stats.returncode == 0, stats.stderr
    assert re.search(r"^documents\s+0$", stats.stdout, re.MULTILINE)


def test_a_missing_source_is_a_usage_error_and_keeps_the_served_index(seed_built, tmp_path):
    before = served(seed_built)
    result = run_cli("index", tmp_path / "no-such-folder", "--index", seed_built)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "no-such-folder" in result.stderr
    assert served(seed_built) == before


def test_a_build_where_every_file_is_bad_keeps_the_served_index(seed_built, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "undated.txt").write_text("No date header.\n")
    (src / "binary.txt").write_bytes(b"date 2020-01-24 \x00\x01\x02\n")
    before = served(seed_built)
    result = run_cli("index", src, "--index", seed_built)
    assert result.returncode == 1
    assert "error: " in result.stderr
    assert str(src / "undated.txt") in result.stderr and str(src / "binary.txt") in result.stderr
    assert served(seed_built) == before


def test_a_bad_file_does_not_displace_a_good_article_with_the_same_id(tmp_path):
    feed = write_jsonl_lines(tmp_path / "a" / "feed.jsonl",
                             '{"id": "x", "date": "2020-01-01", "body": "Walruses on ice."}',
                             '{"id": "y", "date": "2020-01-02", "body": "Seals on rocks."}')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("This one has no date header.\n")
    index = tmp_path / "index"
    result = run_cli("index", feed.parent, tmp_path / "b", "--index", index)
    assert result.returncode == 0, result.stderr
    assert f"skipped {tmp_path / 'b' / 'x.txt'}: no date header" in result.stderr
    # what --update of the same sources gives (it reads every file before resolving ids)
    assert doc_ids(index) == {"x", "y"}
    assert search_ids(index, "walruses") == ["x"]


# -- --update --------------------------------------------------------------------------------


def test_update_adds_changes_and_removes(tmp_path):
    src = tmp_path / "src"
    write_article(src, "a.txt", "Alpha headline", "Alpha keeps the quokka company.")
    write_article(src, "wires/2020/B.txt", "Beta headline", "Beta mentions an oldword here.")
    write_article(src, "c.txt", "Gamma headline", "Gamma alone knows zanzibarite and the quokka.")
    index = tmp_path / "index"
    first = run_cli("index", src, "--index", index)
    assert first.returncode == 0, first.stderr
    assert doc_ids(index) == {"a", "wires/2020/B", "c"}
    assert view_of(index).completions("zanz", 5) == ["zanzibarite"]

    write_article(src, "d.txt", "Delta headline", "Delta brings a deltaword.", date="2020-02-02")
    write_article(src, "wires/2020/B.txt", "Beta headline", "Beta now mentions a newword.")
    (src / "c.txt").unlink()
    result = run_cli("index", src, "--index", index, "--update")

    assert result.returncode == 0, result.stderr
    s = summary(result)
    assert s["mode"] == "update"
    assert (s["indexed"], s["updated"], s["removed"], s["unchanged"]) == (1, 1, 1, 1)
    assert (s["skipped"], s["documents"]) == (0, 3)
    assert doc_ids(index) == {"a", "wires/2020/B", "d"}
    assert search_ids(index, "oldword") == []
    assert search_ids(index, "newword") == ["wires/2020/B"]
    assert search_ids(index, "deltaword") == ["d"]
    assert search_ids(index, "zanzibarite") == []
    assert search_ids(index, "quokka") == ["a"]
    view = view_of(index)
    with pytest.raises(NotFound) as gone:
        core.get_article(view, "c")
    assert gone.value.status == 404
    beta = core.get_article(view, "wires/2020/B")
    assert "newword" in beta.body and "oldword" not in beta.body
    assert core.get_article(view, "d").date == "2020-02-02"
    # The spelling vocabulary follows: words only in removed text are no longer offered.
    assert view.completions("zanz", 5) == []
    assert view.completions("oldw", 5) == []
    assert view.completions("neww", 5) == ["newword"]
    assert "deltaword" in view.completions("delt", 5)
    assert view.completions("quok", 5) == ["quokka"]  # still in "a"
    assert core.suggest(view, "zanz") == []
    # An update ends where a full rebuild of the same files does: same articles, same words.
    rebuilt = tmp_path / "rebuilt"
    build(rebuilt, [src])
    fresh = view_of(rebuilt)
    assert {i: core.get_article(fresh, i) for i in fresh.docnum} == {
        i: core.get_article(view, i) for i in view.docnum}
    assert read_vocabulary(current_generation(index)) == read_vocabulary(
        current_generation(rebuilt))
    everything = parse_search_args({"q": "", "per_page": "100"})
    updated_doc, rebuilt_doc = (core.search(v, everything).to_dict() for v in (view, fresh))
    for doc in (updated_doc, rebuilt_doc):
        doc.pop("took_ms")
        doc["hits"].sort(key=lambda h: h["id"])  # equal dates tie in index order
    assert updated_doc == rebuilt_doc


def test_update_without_changes_changes_nothing(seed_built):
    view = view_of(seed_built)
    before = {i: core.get_article(view, i).to_dict() for i in SEED_IDS}
    vocabulary = read_vocabulary(current_generation(seed_built))
    hits = search_ids(seed_built, "sadr rally")

    served = os.readlink(seed_built / "current")
    for _ in range(2):
        report = build(seed_built, [SEEDS], update=True)
        assert report.mode == "update"
        assert (report.indexed, report.updated, report.removed, report.unchanged) == (0, 0, 0, 2)
        assert report.documents == 2
        # Nothing was written: the same generation is served (open searchers stay valid).
        assert report.generation == served == os.readlink(seed_built / "current")
        assert generations(seed_built) == [served]

    view = view_of(seed_built)
    assert {i: core.get_article(view, i).to_dict() for i in SEED_IDS} == before
    assert read_vocabulary(current_generation(seed_built)) == vocabulary
    assert search_ids(seed_built, "sadr rally") == hits


def test_update_of_an_empty_index_adds_the_articles(tmp_path):
    (tmp_path / "empty").mkdir()
    index = tmp_path / "index"
    assert run_cli("index", tmp_path / "empty", "--index", index).returncode == 0
    result = run_cli("index", SEEDS, "--index", index, "--update")
    assert result.returncode == 0, result.stderr
    assert (summary(result)["indexed"], summary(result)["documents"]) == (2, 2)
    assert doc_ids(index) == SEED_IDS


def test_update_without_an_index_is_a_full_build(tmp_path):
    report = build(tmp_path / "index", [SEEDS], update=True)
    assert (report.mode, report.indexed, report.documents) == ("full", 2, 2)
    assert doc_ids(tmp_path / "index") == SEED_IDS


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
    assert search_ids(index, "marker10") == ["a00010"]

    write_article(src, "a00010.txt", "Rewritten headline", "Now about parallelchanged things.")
    (src / "a00020.txt").unlink()
    write_article(src, "zz-new.txt", "New headline", "A brandnewarticle.")
    report = build(index, [src], update=True)

    assert (report.indexed, report.updated, report.removed, report.unchanged) == (
        1, 1, 1, BIG - 2)
    assert len(report.skipped) == 2
    assert report.documents == BIG
    assert doc_ids(index) == {f"a{i:05d}" for i in range(BIG)} - {"a00020"} | {"zz-new"}
    assert search_ids(index, "marker10") == []
    assert search_ids(index, "marker20") == []
    assert search_ids(index, "parallelchanged") == ["a00010"]
    assert search_ids(index, "brandnewarticle") == ["zz-new"]
    assert search_ids(index, f"marker{BIG - 1}") == [f"a{BIG - 1:05d}"]


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
    return {h.id: h.score for h in core.search(view_of(index), sq).hits}


def segments(index: Path) -> int:
    from whoosh import index as whoosh_index

    with whoosh_index.open_dir(str(current_generation(index))).reader() as reader:
        return len(reader.leaf_readers())


def test_the_parallel_build_indexes_and_groups_exactly_like_one_process(big_corpus, tmp_path):
    """Workers write their own segments and send term counts back for story clustering; a
    reader must not be able to tell: the same rankings and the same stories."""
    src = shutil.copytree(big_corpus, tmp_path / "src")
    add_story_pairs(src, 8)
    one, two = tmp_path / "one", tmp_path / "two"
    build(one, [src], procs=1)
    build(two, [src], procs=2)
    assert [segments(one), segments(two)] == [1, 2]
    stories = read_stories(current_generation(one))
    assert {stories[f"story{p:02d}-1"] for p in range(8)} == {f"story{p:02d}-0" for p in range(8)}
    assert read_stories(current_generation(two)) == stories
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
    assert read_vocabulary(current_generation(two)) == read_vocabulary(current_generation(one))


def test_the_segment_writer_writes_the_postings_whoosh_would(big_corpus, tmp_path):
    """The build writes segments with its own posting writer; Whoosh's own ``SegmentWriter``
    given the same documents must produce the same terms, statistics and postings (several
    posting blocks per common term, positions, facet and date terms included)."""
    from whoosh import index as whoosh_index
    from whoosh.codec.whoosh3 import W3Codec
    from whoosh.writing import SegmentWriter

    from searchsvc.articles import read_jsonl_file, read_text_file
    from searchsvc.indexer import _FastSegmentWriter
    from searchsvc.schema import build_schema, document

    lines = [json.dumps({"id": f"j{i}", "date": f"1987-03-{i % 28 + 1:02d}",
                         "title": f"Shares of maker{i % 7} rose",
                         # longest first: a term's longest document is not in its last block
                         "body": "shares rose, and rose " + "again " * ((300 - i) // 9)
                         + f"in city{i % 5}",
                         "topics": ["earn"] if i % 2 else ["acq", "earn"],
                         "places": [f"place{i % 4}"]}) for i in range(300)]
    jsonl = write_jsonl_lines(tmp_path / "more.jsonl", *lines)
    articles = [a for a in read_jsonl_file(jsonl, 10**7)]
    articles += [a for path in sorted(big_corpus.glob("*.txt"))[:400]
                 for a in read_text_file(path, path.stem, 10**7)]
    readers = {}
    for name, make in (("fast", _FastSegmentWriter),
                       ("whoosh", lambda ix: SegmentWriter(ix, codec=W3Codec(compression=0),
                                                          compound=False))):
        folder = tmp_path / name
        folder.mkdir()
        ix = whoosh_index.create_in(str(folder), build_schema())
        writer = make(ix)
        for article in articles:
            writer.add_document(**document(article))
        writer.commit()
        readers[name] = whoosh_index.open_dir(str(folder)).reader()
    try:
        check_same_postings(readers["fast"], readers["whoosh"])
    finally:
        for reader in readers.values():
            reader.close()


def check_same_postings(fast, whoosh) -> None:
    terms = list(whoosh.all_terms())
    assert list(fast.all_terms()) == terms
    multi_block = 0
    for fieldname, text in terms:
        a, b = fast.term_info(fieldname, text), whoosh.term_info(fieldname, text)
        stats = ("_weight", "_df", "_minlength", "_maxlength", "_maxweight", "_minid", "_maxid")
        assert [getattr(a, k) for k in stats] == [getattr(b, k) for k in stats], text
        ma, mb = fast.postings(fieldname, text), whoosh.postings(fieldname, text)
        assert list(ma.items_as("weight")) == list(mb.items_as("weight"))
        if fieldname in ("title", "body"):
            ma, mb = fast.postings(fieldname, text), whoosh.postings(fieldname, text)
            assert list(ma.items_as("positions")) == list(mb.items_as("positions"))
        multi_block += b.doc_frequency() > 128
    assert multi_block >= 5


# -- --strict --------------------------------------------------------------------------------


@pytest.mark.parametrize("update", [False, True], ids=["full", "update"])
def test_strict_with_a_bad_file_fails_and_keeps_the_index(seed_built, tmp_path, update):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    write_article(src, "new.txt", "A new good one", "Good text.")
    (src / "undated.txt").write_text("No date header in this one.\n")
    before = served(seed_built)
    gens = generations(seed_built)

    result = run_cli("index", src, "--index", seed_built, "--strict",
                     *(["--update"] if update else []))

    assert result.returncode == 1
    assert f"{src / 'undated.txt'}: no date header" in result.stderr
    assert "Traceback" not in result.stderr
    assert served(seed_built) == before
    assert generations(seed_built) == gens


def test_strict_builds_when_nothing_is_skipped(tmp_path):
    # Warnings (a cp1252 file decoded losslessly, a duplicate id) skip nothing.
    src = shutil.copytree(SEEDS, tmp_path / "src")
    (src / "cp1252.txt").write_bytes(b"date 2020-01-24\nCaf\xe9 headline\n\nCaf\xe9 text.\n")
    (src / "feed.jsonl").write_text('{"id": "dup", "body": "First."}\n'
                                    '{"id": "dup", "body": "Second wins."}\n')
    index = tmp_path / "index"
    result = run_cli("index", src, "--index", index, "--strict")
    assert result.returncode == 0, result.stderr
    assert summary(result)["warnings"] == 2
    assert "duplicate id 'dup'" in result.stderr
    assert doc_ids(index) == SEED_IDS | {"cp1252", "dup"}
    assert search_ids(index, "second") == ["dup"]


# -- the build lock ------------------------------------------------------------------------------


def test_a_second_build_fails_fast_while_another_holds_the_lock(seed_built):
    before = served(seed_built)
    with BuildLock(seed_built):
        # If the command waited for the lock it would hang here (the lock is never released
        # while it runs) and the subprocess timeout would fail the test.
        result = run_cli("index", SEEDS, "--index", seed_built)
        update = run_cli("index", SEEDS, "--index", seed_built, "--update")
        with pytest.raises(LockedError, match="another build"):
            build(seed_built, [SEEDS])
    for r in (result, update):
        assert r.returncode == 1
        assert "another build" in r.stderr
        assert f"pid {os.getpid()}" in r.stderr  # who holds it
        assert "Traceback" not in r.stderr
    assert served(seed_built) == before

    after = run_cli("index", SEEDS, "--index", seed_built)
    assert after.returncode == 0, after.stderr


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
            with BuildLock(index):
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
    assert view.doc_count == 2
    assert core.search(view, parse_search_args({"q": "sadr"})).total == 2

    # the same build again, at once: no stale lock, and the leftover is cleaned up
    result = run_cli("index", big_corpus, "--index", index)
    assert result.returncode == 0, result.stderr
    assert "another build" not in result.stderr
    assert summary(result)["documents"] == BIG
    assert not list(index.glob("gen-*.tmp"))
    assert search_ids(index, "marker1234") == ["a01234"]


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
    assert doc_ids(index) == SEED_IDS


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
            report = build(index, [src], update=n % 2 == 1)
            gens = generations(index)
            assert not any(g.endswith(".tmp") for g in gens)
            assert os.readlink(link) == report.generation
            assert report.generation in gens and len(gens) <= 3
            assert gens[-1] == report.generation  # the newest ones are the ones kept
            assert read_build_info(index / report.generation)["documents"] == 3 + n
            assert view_of(index).doc_count == 3 + n
            if n == 1:
                # a searcher opened two builds ago can still finish its work
                assert core.search(old_view, parse_search_args({"q": "sadr"})).total == 2
                assert core.get_article(old_view, "000_4db8953d65d6e437").title
    finally:
        stop.set()
        watcher.join()
    assert problems == []
    assert len(seen) >= 1
    assert len(generations(index)) == 3


def test_build_error_leaves_no_temporary_generation(seed_built, tmp_path):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    (src / "bad.txt").write_text("nothing\n")
    before = served(seed_built)
    with pytest.raises(BuildError, match="strict"):
        build(seed_built, [src], strict=True)
    assert not list(seed_built.glob("gen-*.tmp"))
    assert served(seed_built) == before


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
    stats = core.stats(view_of(index))
    assert stats["documents"] == REUTERS_DOCS
    assert stats["date_range"] == REUTERS_RANGE
    assert search_ids(index, "peanuts ccc acceptable bids")[0] == "06721_reuters6756"


@pytest.mark.reuters
def test_reuters_jsonl(reuters_index):
    seconds = read_build_info(current_generation(reuters_index))["seconds"]
    print(f"Reuters JSONL: built in {seconds} s")  # informational (-rP / -s)
    stats = core.stats(view_of(reuters_index))
    assert stats["documents"] == REUTERS_DOCS
    assert stats["date_range"] == REUTERS_RANGE
    assert stats["undated"] == 0
    top = {name: [v["value"] for v in values[:10]] for name, values in stats["facets"].items()}
    assert "earn" in top["topics"]
    assert "usa" in top["places"]
    assert top["people"] and top["orgs"]
    assert search_ids(reuters_index, "cocoa", topics="cocoa")
