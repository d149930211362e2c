"""Story clustering from spooled term counts (``searchsvc.ingest.story_spool``): the same
stories as ``cluster()`` on a small news archive that spans many date windows — events with
follow-ups across window boundaries, look-alike items about other companies, copies, undated
articles — also when the articles arrive out of date order and split over several workers'
spools; reads bounded by the window, not the archive; no temporary files left after a build,
whether it succeeds or fails."""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import os
import pickle
import random
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from support.index import build_index

from searchsvc.ingest import build as build_module
from searchsvc.ingest import story_spool
from searchsvc.ingest.prepare import index_article, story_terms
from searchsvc.ingest.readers import Article
from searchsvc.ingest.stories import WINDOW_DAYS, DocTerms, cluster, entities
from searchsvc.ingest.story_spool import PREFIX, StorySpool, cluster_spooled

START = dt.date(1990, 3, 1)
SYLLABLES = ("ka", "lo", "mi", "ren", "tor", "vi", "sal", "den", "pru", "gat", "hol", "fen",
             "mar", "zu", "bel", "cor", "tan", "wes")
COMPANIES = ("Cyclops", "Dixons", "Wendover", "Piedmont", "Harcourt", "Amstel", "Brunswick",
             "Calloway", "Dunmore", "Elkhart", "Fairbanks", "Galloway", "Hollister", "Ingram",
             "Jarrow", "Kendall")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def _sentence(rng: random.Random, pool: list[str], n: int = 12) -> str:
    return " ".join(rng.choice(pool) for _ in range(n)).capitalize() + "."


def archive(seed: int = 1, days: int = 40) -> list[Article]:
    """A small wire archive: background news; takeover talks followed up over up to eight
    days (new titles, the talks' own words); on the day after some of them, another pair of
    companies in talks worded alike; every fifth day, earnings tables of six companies; a few
    same-day copies; and a few undated items."""
    rng = random.Random(seed)
    common = [_word(rng) for _ in range(1500)]
    out: list[Article] = []

    def add(day: int | None, title: str, body: str) -> None:
        date = None if day is None else START + dt.timedelta(days=day)
        out.append(Article(f"a{len(out) + 1:04d}", title, body, date))

    for _ in range(300):
        add(rng.randrange(days), " ".join(rng.choice(common) for _ in range(5)).upper(),
            "\n".join(_sentence(rng, common) for _ in range(6)))
    for e in range(24):
        a, b = rng.sample(COMPANIES, 2)
        ta = a[:3].upper()
        pool = [_word(rng) for _ in range(14)]
        day = rng.randrange(days - 8)
        titles = [f"{a.upper()} <{ta}> IN TALKS WITH {b.upper()}",
                  f"{b.upper()} CONFIRMS APPROACH FROM {a.upper()}",
                  f"{a.upper()} SHARES JUMP ON {pool[2].upper()} REPORT",
                  f"{a.upper()} BOARD TO MEET ON {pool[3].upper()}",
                  f"ANALYSTS DIVIDED OVER {a.upper()} {pool[4].upper()} PLAN",
                  f"{b.upper()} SAYS {pool[5].upper()} TERMS NOT FINAL",
                  f"{a.upper()} <{ta}> DEAL SEEN CLOSING SOON"]
        lags = [0, *sorted(rng.sample(range(9), rng.randint(2, 6)))]
        for title, lag in zip(titles, lags, strict=False):
            add(day + lag, title,
                f"{a} Corp said it is in talks with {b} Inc about the {pool[0]} {pool[1]} plan. "
                + " ".join(_sentence(rng, pool + rng.sample(common, 4), 14) for _ in range(4)))
        if e % 4 == 0:
            c, d = rng.sample([x for x in COMPANIES if x not in (a, b)], 2)
            add(day + 1, f"{c.upper()} <{c[:3].upper()}> IN TALKS WITH {d.upper()}",
                f"{c} Corp said it is in talks with {d} Inc about the {pool[0]} {pool[1]} "
                "plan. " + " ".join(_sentence(rng, pool + rng.sample(common, 4), 14)
                                    for _ in range(4)))
    for day in range(0, days, 5):
        for c in rng.sample(COMPANIES, 6):
            add(day, f"{c.upper()} <{c[:3].upper()}> 1ST QTR NET",
                f"Shr {rng.randint(5, 90)} cts vs {rng.randint(5, 90)} cts\n"
                f"Net {rng.randint(100, 999)},000 vs {rng.randint(100, 999)},000\n"
                f"Revs {rng.randint(1, 90)} mln vs {rng.randint(1, 90)} mln")
    for art in rng.sample(out, 10):
        add((art.date - START).days if art.date else None, art.title, art.body)
    for art in rng.sample(out, 3):
        add(None, art.title, art.body)
    return out


def as_docs(articles: list[Article]) -> list[DocTerms]:
    """The term counts and names a build gathers for each article."""
    return [DocTerms(a.id, a.date.toordinal() if a.date else None,
                     story_terms(index_article(a, a.id)), entities(a.title, a.body))
            for a in articles]


@pytest.fixture(scope="module")
def docs() -> list[DocTerms]:
    return as_docs(archive())


def spooled(shares: list[list[DocTerms]], root: Path) -> StorySpool:
    """The parent's spool after each worker filled its copy of it (a fork's) and sent it over
    (pickled)."""
    parent = StorySpool(root)
    workers = [pickle.loads(pickle.dumps(parent)) for _ in shares]  # all forked at the start
    for worker, share in zip(workers, shares, strict=True):
        for d in share:
            worker.add(d.id, d.date, d.tf, d.names)
    for worker in workers:
        parent.merge(pickle.loads(pickle.dumps(worker)))
    return parent


def story_members(stories: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for article, story in stories.items():
        out[story].add(article)
    return out


@pytest.mark.parametrize(("parts", "shuffled", "window"), [
    (1, False, 1 << 20),  # one window, one part
    (1, False, 2000),  # a day or two per window
    (3, True, 2000),  # out of date order, over three workers
    (2, True, 150),  # windows smaller than a day's articles: one day each
])
def test_spooled_stories_are_cluster_s(docs, tmp_path, parts, shuffled, window):
    order = list(docs)
    if shuffled:
        random.Random(parts).shuffle(order)
    shares = [order[i::parts] for i in range(parts)]
    in_order = [d for share in shares for d in share]  # how the parent numbers them
    spool = spooled(shares, tmp_path)
    try:
        got = cluster_spooled(spool, window_entries=window, batch_entries=window)
    finally:
        spool.close()
    expected = cluster(in_order)
    assert got == expected
    # The archive is one that tests the windows: stories longer than a window's margin, and
    # the look-alikes (other companies' talks, earnings tables) kept apart.
    date = {d.id: d.date for d in docs}
    spans = [max(date[m] for m in ms) - min(date[m] for m in ms)
             for ms in story_members(expected).values()]
    assert max(spans) > WINDOW_DAYS and len(spans) >= 15
    assert sum(len(d.tf) for d in docs) > 10 * window or window > 10_000
    titles = {a.id: a.title for a in archive()}
    for members in story_members(expected).values():
        assert len({titles[m] for m in members if "QTR NET" in titles[m]}) <= 1
        talks = {titles[m].split(" <")[0] for m in members if "IN TALKS WITH" in titles[m]}
        assert len(talks) <= 1


def test_reads_are_bounded_by_the_window_not_the_archive(docs, tmp_path, monkeypatch):
    read = story_spool._Spooled.read
    sizes: list[int] = []

    def counting(self, seqs, sort=True):
        got = read(self, seqs, sort)
        sizes.append(len(got.terms))
        return got

    monkeypatch.setattr(story_spool._Spooled, "read", counting)
    spool = spooled([docs], tmp_path)
    try:
        assert cluster_spooled(spool, window_entries=2000, batch_entries=2000) == cluster(docs)
    finally:
        spool.close()
    by_day: dict[int, int] = defaultdict(int)
    for d in docs:
        if d.date is not None:
            by_day[d.date] += len(d.tf)
    week = max(sum(by_day.get(day + k, 0) for k in range(-WINDOW_DAYS, WINDOW_DAYS + 1))
               for day in by_day)
    biggest = max(len(d.tf) for d in docs)
    assert max(sizes) <= 2000 + max(week, biggest)
    assert max(sizes) < sum(len(d.tf) for d in docs) / 3


def test_counts_dates_ids_and_names_read_back_exactly(tmp_path):
    docs = [DocTerms("x1", 737000, {"alpha": 1, "beta": 70_000, "gamma": 65_535}),
            DocTerms("x2", None, {}, frozenset({"$CYL", "cyclop", "!"})),
            DocTerms("ünï-3", 737001, {"beta": 2, "δέλτα": 3}, frozenset({"~δέλτα"}))]
    spool = spooled([docs[:2], docs[2:]], tmp_path)
    try:
        col = story_spool._Spooled(spool.parts)
        read = col.read(story_spool.np.arange(3))
        words = {rank: t for t, rank in col.vocab.items()}
        counts = [{words[t]: c for t, c in zip(read.terms[lo:hi].tolist(),
                                                read.tf[lo:hi].tolist(), strict=True)}
                  for lo, hi in zip(read.offsets[:-1], read.offsets[1:], strict=True)]
        assert counts == [dict(d.tf) for d in docs]
        assert read.dates.tolist() == [737000, -1, 737001]
        assert col.texts(story_spool.np.arange(3)) == ([d.id for d in docs],
                                                         [d.names for d in docs])
    finally:
        spool.close()


def test_a_worker_spool_crosses_the_process_boundary_as_file_names(docs, tmp_path):
    worker = StorySpool(tmp_path)
    for d in docs:
        worker.add(d.id, d.date, d.tf, d.names)
    sent = pickle.dumps(worker)
    assert len(sent) < 1000  # the parts' names and sizes, not the counts
    parent = StorySpool(tmp_path)
    parent.merge(pickle.loads(sent))
    assert len(parent) == len(docs)
    assert cluster_spooled(parent) == cluster(docs)
    parent.close()
    assert not Path(parent.dir).exists()


def _fill(spool: StorySpool, share: list[DocTerms], results) -> None:
    for d in share:
        spool.add(d.id, d.date, d.tf, d.names)
    results.put(spool)
    results.close()
    results.join_thread()
    os._exit(0)  # as a build worker ends: no finalizers


def test_forked_workers_spool_into_the_parent_s_directory(docs, tmp_path):
    """As the Whoosh writer's workers do: fork with the parent's (empty) collector, fill it,
    send it back; the parent merges in worker order, clusters and removes the directory."""
    ctx = multiprocessing.get_context("fork")
    parent = StorySpool(tmp_path)
    results = ctx.Queue()
    shares = [docs[0::2], docs[1::2]]
    workers = [ctx.Process(target=_fill, args=(parent, share, results)) for share in shares]
    for w in workers:
        w.start()
    got = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join()
    by_first = {s.parts[0].pid: s for s in got}
    for w in workers:  # in worker order
        parent.merge(by_first[w.pid])
    assert {p.pid for p in parent.parts} == {w.pid for w in workers}
    assert Path(parent.dir).exists()  # a worker's exit removed nothing
    try:
        assert cluster_spooled(parent) == cluster([d for s in shares for d in s])
    finally:
        parent.close()
    assert not Path(parent.dir).exists()


def test_an_unused_spool_makes_no_files_and_close_is_idempotent(tmp_path):
    spool = StorySpool(tmp_path)
    assert cluster_spooled(spool) == {}
    spool.close()
    spool.close()
    assert list(tmp_path.iterdir()) == []


def records(articles: list[Article]) -> list[dict]:
    return [{"id": a.id, "title": a.title, "body": a.body,
             "date": a.date.isoformat() if a.date else None} for a in articles]


@pytest.fixture
def spool_root(tmp_path, monkeypatch) -> Path:
    """The temporary directory the build's spool goes to, watched: what the spool had in it
    when the stories were clustered."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.iterdir() if p.name.startswith(PREFIX)]


def test_a_build_removes_its_spool_and_stores_cluster_s_stories(tmp_path, spool_root,
                                                                 monkeypatch):
    seen: list[int] = []
    real = build_module.cluster_spooled

    def watched(spool: StorySpool) -> dict[str, str]:
        spool.finish()
        seen.append(len(os.listdir(spool.dir)))
        return real(spool)

    monkeypatch.setattr(build_module, "cluster_spooled", watched)
    articles = archive(days=20)
    build_index(tmp_path / "built", records(articles))
    assert seen and seen[0] > 0  # there were files, in the watched directory
    assert leftovers(spool_root) == []


# A failing build leaves the Whoosh writer's open segment file to the garbage collector (an
# engine matter, not the spool's).
ENGINE_LEAK = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@ENGINE_LEAK
def test_a_failing_clustering_removes_the_spool(tmp_path, spool_root, monkeypatch):
    def failing(spool: StorySpool) -> dict[str, str]:
        spool.finish()
        assert os.listdir(spool.dir)
        raise RuntimeError("clustering failed")

    monkeypatch.setattr(build_module, "cluster_spooled", failing)
    with pytest.raises(RuntimeError, match="clustering failed"):
        build_index(tmp_path / "built", records(archive(days=10)))
    gc.collect()  # the engine's leaked file is closed here, not in a later test
    assert leftovers(spool_root) == []


@ENGINE_LEAK
def test_a_build_failing_while_reading_removes_its_spool(tmp_path, spool_root, monkeypatch):
    real = build_module.prepare
    made: list[str] = []

    def failing(work, max_bytes):
        for n, got in enumerate(real(work, max_bytes)):
            if n == 50:
                made.extend(leftovers(spool_root))
                raise OSError("disk gone")
            yield got

    monkeypatch.setattr(build_module, "prepare", failing)
    with pytest.raises(Exception, match="disk gone"):
        build_index(tmp_path / "built", records(archive(days=10)))
    gc.collect()
    assert made  # the spool had files when it failed
    assert leftovers(spool_root) == []


def ended_pid() -> int:
    """The id of a process that has ended."""
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=os._exit, args=(0,))
    p.start()
    p.join()
    return p.pid


def test_a_killed_build_s_spool_is_removed_by_the_next(tmp_path):
    dead = ended_pid()
    stale = tmp_path / f"{PREFIX}{dead}-0123456789ab"
    stale.mkdir()
    (stale / "1-x.terms").write_bytes(b"\0" * 8)
    alive = tmp_path / f"{PREFIX}{os.getppid()}-0123456789ab"
    alive.mkdir()
    spool = StorySpool(tmp_path)
    spool.add("a", 737000, {"word": 1})
    assert not stale.exists() and alive.exists()
    spool.close()
