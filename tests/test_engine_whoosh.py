"""The embedded engine's own parts (``searchsvc.engines.whoosh``): what no other engine has, so
these tests are not run per engine. The segment writer writes what Whoosh's own writer would;
a generation that cannot be opened leaves nothing open.
"""

from __future__ import annotations

import gc
import json
import random
import sys
from pathlib import Path

import pytest
from support.index import build_index, build_sources, doc_ids, open_engine, open_snapshot
from support.paths import SEEDS
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.writing import SegmentWriter

from searchsvc.engines.whoosh import generations as gens
from searchsvc.engines.whoosh.schema import build_schema, document
from searchsvc.errors import IndexUnavailable
from searchsvc.ingest.prepare import index_article
from searchsvc.ingest.readers import read_jsonl_file, read_text_file


def _source(tmp_path: Path) -> Path:
    """300 JSONL articles (facets, dates, long bodies: several posting blocks per common term)
    and the seeds' text, in one file."""
    records = [{"id": f"j{i}", "date": f"1987-03-{i % 28 + 1:02d}",
                "title": f"Shares of maker{i % 7} rose",
                # longest first: a term's longest document is not in its last block
                "body": "shares rose, and rose " + "again " * ((300 - i) // 9)
                + f"in city{i % 5}; the U.S. share of 1,000 didn't fall",
                "topics": ["earn"] if i % 2 else ["acq", "earn"],
                "places": [f"place{i % 4}"]} for i in range(300)]
    for path in sorted(SEEDS.glob("*.txt")):
        [article] = read_text_file(path, path.stem, 10**7)
        records.append({"id": article.id, "date": article.date.isoformat(),
                        "title": article.title, "body": article.body})
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return source


def test_the_segment_writer_writes_the_postings_whoosh_would(tmp_path):
    """A build writes its segments with its own writer (``FastSegmentWriter``: array records
    for the text fields, W3 blocks for the others), from the analysis the ingest made once.
    Read through Whoosh's own reader, they must hold what Whoosh's ``SegmentWriter`` writes
    for the same documents analysed by the schema's analyzer: the same terms, statistics,
    weights and positions."""
    source = _source(tmp_path)
    build_sources(tmp_path / "index", [source], procs=1)
    articles = [index_article(a, a.path) for a in read_jsonl_file(source, 10**7)]
    folder = tmp_path / "whoosh"
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema())
    writer = SegmentWriter(ix, codec=W3Codec(compression=0), compound=False)
    for article in articles:
        writer.add_document(**document(article))
    writer.commit()
    fast = whoosh_index.open_dir(str(gens.current_generation(tmp_path / "index"))).reader()
    whoosh = whoosh_index.open_dir(str(folder)).reader()
    try:
        assert [fast.stored_fields(d)["id"] for d in range(fast.doc_count_all())] == [
            a.id for a in articles]  # the same document numbers
        check_same_postings(fast, whoosh)
    finally:
        fast.close()
        whoosh.close()


def check_same_postings(fast, whoosh) -> None:
    terms = list(whoosh.all_terms())
    assert list(fast.all_terms()) == terms
    assert ("body", b"us") in terms and ("body", b"1000") in terms and ("body", b"the") in terms
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


def test_positions_past_65535_in_one_article_are_kept_whole(tmp_path):
    """A text term's positions are stored two bytes wide unless one of them does not fit: an
    article of 70,000 words (a report, a transcript) keeps the positions of its last words,
    for phrases and for Whoosh's own reader, and shorter articles beside it keep theirs."""
    long_body = "opening words " + "alpha beta " * 35_000 + "closing remarks"
    records = [{"id": "long", "date": "1990-01-01", "title": "A transcript",
                "body": long_body},
               {"id": "short", "date": "1990-01-02", "title": "Closing remarks",
                "body": "remarks on the closing of the alpha plant"}]
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    from searchsvc.core.params import parse_search_args
    from searchsvc.core.search import search

    build_sources(tmp_path / "index", [source], procs=1)
    with open_snapshot(tmp_path / "index") as snap:
        def found(q: str) -> set[str]:
            return {h.id for h in search(snap, parse_search_args({"q": q})).hits}

        assert found('"closing remarks"') == {"long", "short"}
        assert found('"remarks closing"') == set()
        assert found('"beta closing"') == {"long"}
        assert found('"opening words alpha"') == {"long"}
    fast = whoosh_index.open_dir(str(gens.current_generation(tmp_path / "index"))).reader()
    try:
        [closing] = [p for d, p in fast.postings("body", b"close").items_as("positions")
                     if d == 0]
        assert closing == [70_002]
        alpha = dict(fast.postings("body", b"alpha").items_as("positions"))
        assert alpha[0][-1] == 70_000 and alpha[1] == [6]
    finally:
        fast.close()


def _corrupt_columns(index: Path) -> None:
    """Break the per-document columns (the segment's array pack) a snapshot reads after
    Whoosh has opened the segment."""
    pack = next(gens.current_generation(index).glob("*.arrays"))
    pack.write_bytes(b"garbage" * 10)


def test_a_generation_that_cannot_be_opened_is_unavailable(tmp_path):
    index = tmp_path / "index"
    build_sources(index, [SEEDS])
    _corrupt_columns(index)
    engine = open_engine(index)
    try:
        with pytest.raises(IndexUnavailable, match="cannot be opened") as caught:
            engine.snapshot()
        assert gens.current_name(index) in caught.value.detail
    finally:
        engine.close()
        del caught
        gc.collect()


def test_a_generation_that_cannot_be_opened_leaves_no_file_open(tmp_path):
    index = tmp_path / "index"
    build_sources(index, [SEEDS])
    _corrupt_columns(index)
    engine = open_engine(index)
    unraisable: list = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        for _ in range(3):  # a server asks again at every request
            with pytest.raises(IndexUnavailable):
                engine.snapshot()
        gc.collect()
    finally:
        sys.unraisablehook = hook
        engine.close()
    leaked = [u for u in unraisable if issubclass(u.exc_type, ResourceWarning)]
    assert not leaked, f"{len(leaked)} files left open, e.g. {leaked[0].exc_value}"


def test_a_damaged_new_generation_keeps_the_old_one_serving_and_says_so_once(tmp_path,
                                                                            caplog):
    """A server keeps answering on the generation it has when a newer one cannot be opened,
    and logs which one is damaged — once, not at every request."""
    index = tmp_path / "index"
    build_sources(index, [SEEDS])
    engine = open_engine(index)
    try:
        served = engine.snapshot().generation
        before = doc_ids(engine.snapshot())
        build_sources(index, [SEEDS], allow_shrink=True)
        _corrupt_columns(index)
        damaged = gens.current_name(index)
        assert damaged != served
        with caplog.at_level("WARNING", logger="searchsvc.engine"):
            for _ in range(3):
                snap = engine.snapshot()
                assert snap.generation == served and doc_ids(snap) == before
        warned = [r.getMessage() for r in caplog.records if r.name == "searchsvc.engine"]
        assert len(warned) == 1 and damaged in warned[0] and served in warned[0], warned
    finally:
        engine.close()
        gc.collect()


def test_two_indexes_whose_segments_have_the_same_name_are_each_read(tmp_path):
    """Whoosh names segments from the global random: seeded alike (Hypothesis does it for
    every example), two indexes get segments of the same name. Caches per process must not
    mix them up."""
    random.seed(5)
    one = build_index(tmp_path / "one", [{"id": "a1", "body": "one"},
                                         {"id": "a2", "body": "two"}])
    with open_snapshot(one) as snapshot:
        assert doc_ids(snapshot) == {"a1", "a2"}
    random.seed(5)
    two = build_index(tmp_path / "two", [{"id": "b1", "body": "three"}])
    with open_snapshot(two) as snapshot:
        assert doc_ids(snapshot) == {"b1"}


def test_a_searcher_holds_at_most_its_cache_budget_of_postings_and_answers_alike(tmp_path):
    """A worker at a million articles grew past 2 GB holding a few thousand decoded posting
    lists: the cache is bounded in bytes (``SEARCHSVC_POSTINGS_CACHE_MB``), and what it
    evicts is read again, the same; with no cache at all the answers are the same too."""
    from searchsvc import config
    from searchsvc.core.params import parse_search_args
    from searchsvc.core.search import search
    from searchsvc.engines import open_engine

    index = tmp_path / "index"
    build_sources(index, [_source(tmp_path)])
    queries = ["shares", "rose again", '"shares rose"', "city*", "citty~", "maker3 rose",
               "share fall", "again"]

    def answers(snapshot) -> list:
        return [(r.total, [h.id for h in r.hits])
                for q in queries * 2
                for r in [search(snapshot, parse_search_args({"q": q, "per_page": "50"}))]]

    def opened(cache_mb: str):
        settings = config.from_env({"SEARCHSVC_POSTINGS_CACHE_MB": cache_mb})
        settings["INDEX"] = str(index)
        return open_engine(settings)

    default = opened("")
    try:
        expected = answers(default.snapshot())
        assert default.snapshot().postings._cached_bytes > 16 * 1024  # the default holds more
    finally:
        default.close()
    for cache_mb, budget in (("0.015625", 16 * 1024), ("0", 0)):
        engine = opened(cache_mb)
        try:
            snapshot = engine.snapshot()
            assert answers(snapshot) == expected, cache_mb
            held = snapshot.postings._cached_bytes
            assert held <= budget and (held > 0) == (budget > 0), cache_mb
            assert held == sum(size for _, size in snapshot.postings._cache.values())
        finally:
            engine.close()


def test_a_date_filter_matches_the_same_articles_whether_its_window_is_narrow_or_wide(tmp_path):
    """A filter of a few days is answered from the documents in date order (a slice), a wide
    one from a mask over the date column: either way exactly the articles dated within the
    window, counted and faceted alike, and never an undated or deleted one."""
    from searchsvc.core.params import parse_search_args
    from searchsvc.core.search import search

    index = tmp_path / "index"
    build_sources(index, [_source(tmp_path)])
    records = [json.loads(line) for line in
               (tmp_path / "articles.jsonl").read_text("utf-8").splitlines()]
    # about 11 articles a day, so a one-day window is a slice, a longer one a mask
    windows = [("1987-03-05", "1987-03-05"), ("1987-03-01", "1987-03-02"),
               ("1987-03-03", "1987-03-09"), ("1987-03-27", None), (None, "1987-03-01"),
               ("1987-02-01", "1987-02-28")]
    with open_snapshot(index) as snapshot:
        for low, high in windows:
            within = {r["id"] for r in records if r["date"][:10] >= (low or "")
                      and r["date"][:10] <= (high or "9999")}
            args = {"per_page": "100", "facets": "topics", "collapse": "false"}
            args.update({k: v for k, v in (("from", low), ("to", high)) if v})
            for q in ("", "shares"):
                # every generated article says "shares", neither seed does
                expected = {i for i in within if not q or i.startswith("j")}
                result = search(snapshot, parse_search_args({**args, "q": q}))
                assert {h.id for h in result.hits} == expected, (low, high, q)
                assert result.total == len(expected)
                counts = {b["value"]: b["count"] for b in result.facets["topics"]}
                for topic in ("earn", "acq"):
                    assert counts.get(topic, 0) == sum(
                        1 for r in records if r["id"] in expected
                        and topic in r.get("topics", []))


@pytest.mark.parametrize("combinations, signatures", [
    (12, True),     # counted by signature (few value combinations)
    (None, True),   # nearly every article its own combination: counted value by value
    (12, False),    # matches too few for signatures: their values gathered
])
def test_facet_counts_are_exact_for_few_half_or_nearly_all_matches(tmp_path, monkeypatch,
                                                                   combinations, signatures):
    """Every facet's counts are those of the matching articles, whether a search matches a
    few of them, about half or nearly all, however many combinations of values the archive
    has, and whether a facet counts the matches or, having a filter of its own, the matches
    under the other filters."""
    from searchsvc.core.params import parse_search_args
    from searchsvc.core.search import search
    from searchsvc.engines.whoosh import columns

    monkeypatch.setattr(columns, "SIGNATURE_MIN_DOCS", 0 if signatures else 10**9)
    rng = random.Random(7)

    def values() -> dict[str, list[str]]:
        return {"topics": rng.sample(["grain", "oil", "gold", "ship", "rice"], rng.randint(0, 3)),
                "places": rng.sample(["usa", "uk", "japan", "brazil"], rng.randint(0, 2)),
                "people": rng.sample(["ann", "bob", "cy"], rng.randint(0, 2)),
                "orgs": rng.sample(["opec", "ec", "gatt"], rng.randint(0, 1))}

    pool = [values() for _ in range(combinations or 0)]
    records = []
    for i in range(400):
        records.append({"id": f"a{i}", "date": f"1988-01-{i % 28 + 1:02d}",
                        "title": f"report {i}",
                        "body": "market " + " ".join(f"w{k}" for k in range(i % 10)),
                        **(rng.choice(pool) if pool else values())})
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    index = tmp_path / "index"
    build_sources(index, [source])
    names = ("topics", "places", "people", "orgs")

    def expected(chosen: list[dict], name: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in chosen:
            for v in r[name]:
                counts[v] = counts.get(v, 0) + 1
        return counts

    def said(r: dict) -> int:
        return int(r["id"][1:]) % 10  # the article says w0 … w(n-1)

    cases = [("w8", lambda r: said(r) > 8, {}),                         # a tenth: gathered
             ("w4", lambda r: said(r) > 4, {}),                         # half: one pass
             ("market", lambda r: True, {}),                            # all
             ("market -w8", lambda r: said(r) <= 8, {}),                # all but a tenth
             ("market", lambda r: True, {"topics": "oil"}),
             ("w2", lambda r: said(r) > 2, {"places": "uk", "topics": "gold"})]
    with open_snapshot(index) as snapshot:
        for q, said_q, filters in cases:
            result = search(snapshot, parse_search_args(
                {"q": q, "facets": ",".join(names), "facet_size": "10", **filters}))
            assert result.total == sum(
                1 for r in records if said_q(r) and all(v in r[k] for k, v in filters.items()))
            for name in names:
                # a facet with a filter of its own counts the matches under the other filters
                others = {k: v for k, v in filters.items() if k != name}
                chosen = [r for r in records
                          if said_q(r) and all(v in r[k] for k, v in others.items())]
                # (a selected value is listed even when no match has it)
                got = {b["value"]: b["count"] for b in result.facets[name] if b["count"]}
                assert got == expected(chosen, name), (q, filters, name)


def test_a_ranking_tier_matches_the_same_articles_without_scoring_them(tmp_path):
    """The tier of articles having every word (ranked first) is evaluated without scores:
    for every kind of clause it is exactly the articles the scored evaluation finds."""
    from searchsvc.engine import Bool, Fuzzy, Near, Phrase, Prefix, Term, Value, Wildcard

    index = tmp_path / "index"
    build_sources(index, [_source(tmp_path)])
    clauses = [Term("rose"), Term("maker3", "title"), Phrase(("share", "rose")),
               Phrase(("rose", "again"), slop=2), Prefix("cit"), Wildcard("make?3"),
               Fuzzy("city9", distance=1), Near(Term("share"), Term("again"), 3),
               Bool(must=(Term("rose"),), should=(Term("city1"), Term("city2")), min_should=1),
               Bool(should=(Term("city1"), Term("city2"), Term("maker3")), min_should=2),
               Bool(must=(Term("share"),), must_not=(Term("city4"),)),
               Bool(must=(Term("share"), Value("places", "place1")))]
    with open_snapshot(index) as snapshot:
        for q in clauses:
            scored = snapshot.evaluator.hits(q)
            bare = snapshot.evaluator.hits(q, scored=False)
            assert len(scored.doc_ids()) > 0, q
            assert bare.doc_ids().tolist() == scored.doc_ids().tolist(), q
            assert bare.scores is None, q
        # and scoring is back on for the next search
        assert snapshot.evaluator.hits(Term("rose")).scores is not None


def test_a_page_ranked_within_its_tier_scores_only_the_tier(tmp_path, monkeypatch):
    """When the articles having every word can fill the page and the rescore window, only
    they are scored. Every page must be the one scoring every match gives: the same
    articles, scores and totals, with filters, later pages, recency and collapsing (which
    can leave the tier short of a page: then every match is scored after all)."""
    from searchsvc.core.params import parse_search_args
    from searchsvc.core.search import count, search
    from searchsvc.engine import Term
    from searchsvc.engines.whoosh import engine as whoosh_engine

    source = _source(tmp_path)
    copy = {"date": "1987-03-09", "title": "Zebra shares rose", "body": "zebra rose again"}
    harbour = [{"id": f"h{i}", "date": f"1987-03-{i % 28 + 1:02d}", "title": "Harbour news",
                "body": "harbour " * (i % 7 + 1) + "tolls " * (i % 5 + 1) + "rose " * (i % 3)}
               for i in range(80)]  # words said a different number of times in each
    with source.open("a", encoding="utf-8") as fh:  # and a story of 25 copies
        fh.write("".join(json.dumps(r) + "\n" for r in harbour))
        fh.write("".join(json.dumps({"id": f"z{i}", **copy}) + "\n" for i in range(25)))
    index = tmp_path / "index"
    build_sources(index, [source])
    # a window of 20 lets a tier of this small index fill it
    monkeypatch.setattr(whoosh_engine, "RESCORE_WINDOW", 20)
    queries = ["shares rose", "rose again", "share city1 again", "rose maker3",
               "shares rose again city2", "again fall", "the share rose", "zebra rose",
               "harbour tolls", "harbour tolls rose", "harbour rose"]
    variants = [{}, {"collapse": "false"}, {"page": "2"}, {"per_page": "50"},
                {"topics": "acq"}, {"places": "place1", "collapse": "false"},
                {"recency": "1w"}, {"from": "1987-03-05", "to": "1987-03-20"},
                {"page": "3", "collapse": "false", "recency": "4w"}]

    def pages(snapshot) -> list:
        out = []
        for q in queries:
            for extra in variants:
                r = search(snapshot, parse_search_args({"q": q, **extra}))
                out.append((q, extra, r.total, r.total_stories, r.facets,
                            [(h.id, h.score) for h in r.hits]))
        return out

    with open_snapshot(index) as snapshot:
        # what each search scored: "tier" (n documents), "every" match
        scored: list[list[tuple[str, int]]] = []
        ev, engine_search = snapshot.evaluator, snapshot.search
        real_scores_of, real_hits = ev.scores_of, ev.hits

        def spied_search(request):
            scored.append([])
            asked.append(request.query)
            return engine_search(request)

        def scores_of(q, docs):
            scored[-1].append(("tier", len(docs)))
            return real_scores_of(q, docs)

        def hits(q, **kwargs):
            if kwargs.get("scored", True) and q is not None and q is asked[-1]:
                scored[-1].append(("every", 0))
            return real_hits(q, **kwargs)

        asked: list = []
        monkeypatch.setattr(snapshot, "search", spied_search)
        monkeypatch.setattr(ev, "scores_of", scores_of)
        monkeypatch.setattr(ev, "hits", hits)
        lazy = pages(snapshot)
        with monkeypatch.context() as m:  # a tier that is never enough: every match scored
            m.setattr(whoosh_engine.WhooshSnapshot, "_tier_enough",
                      staticmethod(lambda request: 10**9))
            full = pages(snapshot)
        ways = scored[: len(lazy)]
        # a search sorted by date and a count (did-you-mean's) rank nothing: nothing scored
        del scored[:]
        newest = search(snapshot, parse_search_args({"q": "harbour tolls", "sort": "newest"}))
        assert newest.total == 80 and [h.score for h in newest.hits] == [None] * 10
        assert count(snapshot, Term("harbour"), {}) == 80
        assert scored == [[], []]

    partly = [page for page, way in zip(lazy, ways, strict=True)
              if [k for k, _ in way] == ["tier"] and way[0][1] < page[2]]
    assert len(partly) >= len(lazy) // 4  # many pages scored fewer documents than matched
    assert any([k for k, _ in way] == ["tier", "every"] for way in ways)  # some fell back
    assert all([k for k, _ in way] == ["every"] for way in scored[len(lazy):])
    for a, b in zip(lazy, full, strict=True):
        assert a[:5] == b[:5], a[:2]
        assert [i for i, _ in a[5]] == [i for i, _ in b[5]], a[:2]
        assert [s for _, s in a[5]] == pytest.approx([s for _, s in b[5]], rel=1e-5), a[:2]


def test_day_counts_are_those_of_the_matching_articles_dates(tmp_path):
    """The histogram's days, for every article (a page opened on no query, then again from
    what was counted once), for some, and under a date filter (which the histogram
    ignores): each dated article's day once, the undated on none."""
    import datetime as dt
    from collections import Counter

    from searchsvc.engine import DateRange, EngineRequest, Term

    source = _source(tmp_path)
    records = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    undated = [{"id": f"u{i}", "title": "Shares undated", "body": "shares rose in city1"}
               for i in range(5)]
    with source.open("a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in undated))
    index = tmp_path / "index"
    build_sources(index, [source])
    everything = records + undated

    def days(chosen) -> dict[int, int]:
        return dict(Counter(dt.date.fromisoformat(r["date"][:10]).toordinal()
                            for r in chosen if r.get("date")))

    with open_snapshot(index) as snapshot:
        def counted(query=None, **filters) -> dict[int, int]:
            found = snapshot.search(EngineRequest(query=query, filters=filters, days=True,
                                                  sort="newest"))
            return dict(zip(found.days.ordinals.tolist(), found.days.counts.tolist(),
                            strict=True))

        assert counted() == days(everything)
        assert counted() == days(everything)  # from the counts kept
        city1 = [r for r in everything if "city1" in r["body"]]
        assert counted(Term("city1")) == days(city1)
        march = DateRange(dt.date(1987, 3, 10), dt.date(1987, 3, 12))
        assert counted(Term("city1"), date=march) == days(city1)
        assert counted(date=march) == days(everything)
        assert counted(Term("undated")) == {}


@pytest.mark.parametrize("sort_below", [1, 10**9])
def test_a_search_counts_each_story_once(tmp_path, monkeypatch, sort_below):
    """``total_stories``: 25 copies of an article are one story, the other articles one
    each; counted by sorting the matches' story keys or by flags over story numbers."""
    from searchsvc.core.params import parse_search_args
    from searchsvc.core.search import search
    from searchsvc.engines.whoosh import engine as whoosh_engine

    source = _source(tmp_path)
    copy = {"date": "1987-03-09", "title": "Zebra shares rose", "body": "zebra rose again"}
    with source.open("a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps({"id": f"z{i}", **copy}) + "\n" for i in range(25)))
    index = tmp_path / "index"
    build_sources(index, [source])
    monkeypatch.setattr(whoosh_engine, "STORY_COUNT_SORT_MAX", sort_below)
    with open_snapshot(index) as snapshot:
        def counts(q: str) -> tuple[int, int]:
            r = search(snapshot, parse_search_args({"q": q, "collapse": "false"}))
            return r.total, r.total_stories

        assert counts("zebra") == (25, 1)
        assert counts("rose") == (325, 301)
        assert counts("maker3") == (43, 43)
        assert counts("nothingatall") == (0, 0)


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_closing_a_snapshot_releases_its_files_and_maps(tmp_path):
    """A server opens a snapshot per generation for months: each one it closes must give back
    its file descriptors and maps, or a worker runs out of them."""
    from searchsvc.engine import Term

    index = tmp_path / "index"
    build_sources(index, [_source(tmp_path)])

    def held() -> tuple[int, int]:
        """Descriptors and maps of the index's files (other threads' files left out)."""
        files = 0
        for fd in Path("/proc/self/fd").iterdir():
            try:
                files += str(index) in str(fd.readlink())
            except OSError:  # closed meanwhile
                pass
        return files, Path("/proc/self/maps").read_text().count(str(index))

    with open_snapshot(index) as snapshot:  # the first opening maps what stays mapped
        assert snapshot.evaluator.hits(Term("share")).size() > 0
    gc.collect()
    before = held()
    for _ in range(5):
        with open_snapshot(index) as snapshot:
            assert snapshot.evaluator.hits(Term("share")).size() > 0
            assert held()[1] > before[1] or held()[0] > before[0]  # it did open something
    gc.collect()
    assert held() == before
