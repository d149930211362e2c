"""Merging segments by copying their postings (``engines.whoosh.merging``) loses nothing: a
build flushed into hundreds of segments and merged holds, term by term and document by
document, what one writer holding everything would have written; and merging updates'
segments, where replaced and removed articles are deleted documents, searches like a fresh
build of the same articles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.index import search_ids
from test_memory_budget import write_archive

from searchsvc.core.params import parse_search_args
from searchsvc.core.search import search
from searchsvc.engine import FACETS, TEXT_FIELDS
from searchsvc.engines.whoosh import merging
from searchsvc.engines.whoosh.codec import read_record_from
from searchsvc.engines.whoosh.columns import segment_data
from searchsvc.engines.whoosh.engine import MERGE_FACTOR, WhooshEngine
from searchsvc.errors import BuildError
from searchsvc.ingest.build import full_build


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return write_archive(tmp_path_factory.mktemp("merging") / "archive.jsonl", 900, seed=11)


def only_segment(engine: WhooshEngine):
    snapshot = engine.snapshot()
    leaves = snapshot.postings.leaves
    assert len(leaves) == 1
    return snapshot, leaves[0][0]


def postings_of(reader, fieldname: str, tbytes: bytes, info) -> tuple:
    if fieldname in TEXT_FIELDS:
        folder = Path(reader._storage.folder)
        with open(folder / reader.segment().make_filename(".pst"), "rb") as fh:
            return tuple(a.tolist() for a in read_record_from(fh, info.extent()[0]))
    m = reader.postings(fieldname, tbytes)
    out = []
    while m.is_active():
        out.append((m.id(), m.weight(), m.value()))
        m.next()
    return tuple(out)


def test_a_merged_build_holds_what_one_writer_writes(archive, tmp_path):
    whole, merged = tmp_path / "whole", tmp_path / "merged"
    full_build(WhooshEngine(whole), whole, [archive], procs=1)
    full_build(WhooshEngine(merged, build_memory_mb=0.05), merged, [archive], procs=1)
    a_engine, b_engine = WhooshEngine(whole), WhooshEngine(merged)
    try:
        (_, a), (_, b) = only_segment(a_engine), only_segment(b_engine)
        terms_a, terms_b = list(a), list(b)
        assert [t for t, _ in terms_a] == [t for t, _ in terms_b]
        assert {f for (f, _), _ in terms_a} >= {"title", "body", "id", "date", "places"}
        for ((fieldname, tbytes), ia), (_, ib) in zip(terms_a, terms_b, strict=True):
            assert (ia.weight(), ia.doc_frequency(), ia.min_length(), ia.max_length(),
                    ia.max_weight(), ia.min_id(), ia.max_id()) == \
                (ib.weight(), ib.doc_frequency(), ib.min_length(), ib.max_length(),
                 ib.max_weight(), ib.min_id(), ib.max_id()), (fieldname, tbytes)
            assert postings_of(a, fieldname, tbytes, ia) == postings_of(b, fieldname, tbytes, ib)
        assert a.doc_count_all() == b.doc_count_all() == 900
        for d in range(900):
            assert a.stored_fields(d) == b.stored_fields(d)
            for f in TEXT_FIELDS:
                assert a.doc_field_length(d, f) == b.doc_field_length(d, f)
        ca, cb = segment_data(a), segment_data(b)
        assert np.array_equal(ca.date, cb.date)
        for f in TEXT_FIELDS:
            assert np.array_equal(ca.lengths[f], cb.lengths[f])
            assert ca.lexicons is not None and cb.lexicons is not None
            assert ca.lexicons[f].terms.all() == cb.lexicons[f].terms.all()
        for name in FACETS:
            (va, oa, xa), (vb, ob, xb) = ca.facets[name], cb.facets[name]
            assert [[va[v] for v in xa[oa[d]:oa[d + 1]]] for d in range(900)] == \
                [[vb[v] for v in xb[ob[d]:ob[d + 1]]] for d in range(900)]
        for column in ("ids", "stories", "hashes", "origins"):
            assert getattr(ca, column).all() == getattr(cb, column).all()
        assert np.array_equal(ca.story_key, cb.story_key)
    finally:
        a_engine.close()
        b_engine.close()


def segment_files(engine: WhooshEngine) -> dict[str, bytes]:
    """The only segment's files, by what follows the segment's name (``.pst``, ``.trm``...)."""
    _, reader = only_segment(engine)
    name = reader.segment().make_filename("")
    return {p.name[len(name):]: p.read_bytes()
            for p in Path(reader._storage.folder).glob(name + "*")}


def test_a_merge_with_a_helper_process_writes_the_segment_one_process_writes(archive, tmp_path,
                                                                             monkeypatch):
    """A large merge has a forked helper merge every field after ``body`` while the merging
    process merges the rest, then appends the helper's postings and term rows: the merged
    segment is the one a single process writes, byte for byte, so searches cannot tell."""
    one, two = tmp_path / "one", tmp_path / "two"
    # Under 2,000 articles a build writes in one process, so both number documents alike;
    # procs=2 lets the merge have its helper, from the size set here.
    for index, helper_from in ((one, 10**9), (two, 0)):
        monkeypatch.setattr(merging, "HELPER_MIN_DOCS", helper_from)
        full_build(WhooshEngine(index, build_memory_mb=0.05), index, [archive], procs=2)
    a_engine, b_engine = WhooshEngine(one), WhooshEngine(two)
    try:
        a, b = segment_files(a_engine), segment_files(b_engine)
        assert {".pst", ".trm", ".arrays"} <= a.keys() and a.keys() == b.keys()
        assert all(a[suffix] == b[suffix] for suffix in a), [s for s in a if a[s] != b[s]]
        (_, reader), = [only_segment(b_engine)]
        fields = {f for (f, _), _ in reader}
        assert {"title", "body", "id", "date", "places"} <= fields  # before and after the cut
        # The helper's files went when it was done.
        assert not list(Path(reader._storage.folder).glob("*.helper*"))
        for q in ({"q": "crude oil prices"}, {"q": "title:coffee"}, {"q": "", "places": "uk"}):
            sq = parse_search_args({**q, "collapse": "false", "per_page": "50"})
            got, want = search(b_engine.snapshot(), sq), search(a_engine.snapshot(), sq)
            assert got.total == want.total > 0
            assert [(h.id, h.score) for h in got.hits] == [(h.id, h.score) for h in want.hits]
    finally:
        a_engine.close()
        b_engine.close()


def test_a_failed_merge_helper_fails_the_build_and_the_served_index_stays(archive, tmp_path,
                                                                            monkeypatch):
    index = tmp_path / "index"
    full_build(WhooshEngine(index), index, [archive], procs=1)
    before = outcome(index)

    def broken(self, names, postings_path, rows_path):
        raise RuntimeError("no space left for the rows")

    monkeypatch.setattr(merging, "HELPER_MIN_DOCS", 0)
    monkeypatch.setattr(merging._MergeWriter, "write_fields", broken)
    engine = WhooshEngine(index, build_memory_mb=0.05)
    try:
        with pytest.raises(BuildError, match="merge's helper process failed: RuntimeError: "
                                             "no space left for the rows"):
            full_build(engine, index, [archive], procs=2)
    finally:
        engine.close()  # it opened the served generation, to refuse shrinking it
    assert outcome(index) == before
    assert not list(index.glob("**/*.helper*"))


def write_update(src: Path, n: int, revision: int = 0) -> None:
    words = "revised walruses" if revision else "walruses"
    (src / f"u{n}.jsonl").write_text(json.dumps(
        {"id": f"u{n}", "date": f"2020-02-{n + 1:02d}", "title": f"Update {n}",
         "body": f"Update number{n} about {words} and seals {'again ' * revision}.",
         "topics": [f"t{n % 3}"], "places": ["usa"] if n % 2 else ["uk"]}) + "\n")


QUERIES = [{"q": "walruses"}, {"q": "revised"}, {"q": "seals again"}, {"q": "number3"},
           {"q": "", "places": "usa"}, {"q": '"about walruses"'}, {"q": "updat*"},
           {"q": '"walruses and seals"'}, {"q": '"update seals"~4'},
           {"q": "walruses NEAR/2 seals"}, {"q": '"about revised" NEAR/3 seals'}]


def outcome(index: Path) -> list:
    engine = WhooshEngine(index)
    try:
        snapshot = engine.snapshot()
        return [(q, (r := search(snapshot, parse_search_args({**q, "collapse": "false"}))).total,
                 [(h.id, h.score) for h in r.hits], r.facets) for q in QUERIES]
    finally:
        engine.close()


def test_merged_updates_with_replaced_and_removed_articles_search_like_a_fresh_build(
        tmp_path):
    from support.index import build_sources

    src = tmp_path / "src"
    src.mkdir()
    write_update(src, 99)
    index = tmp_path / "index"
    build_sources(index, [src], "whoosh")
    for n in range(MERGE_FACTOR + 2):
        write_update(src, n)
        if n:
            write_update(src, n - 1, revision=n)  # the previous one replaced
        if n == 6:
            (src / "u2.jsonl").unlink()  # and one removed
        build_sources(index, [src], "whoosh", update_only=True)
    engine = WhooshEngine(index)
    try:
        snapshot = engine.snapshot()
        # The small segments were merged, their deleted documents left out.
        assert len(snapshot.postings.leaves) < MERGE_FACTOR
        assert snapshot.reader.doc_count_all() < 2 * (MERGE_FACTOR + 2)
        assert "u2" not in search_ids(snapshot, "walruses", collapse="false")
    finally:
        engine.close()
    fresh = tmp_path / "fresh"
    build_sources(fresh, [src], "whoosh")
    assert outcome(index) == outcome(fresh)


def test_an_index_of_several_segments_searches_like_one_built_at_once(tmp_path):
    """Before any merge: a build and a few updates, each its own segment. Phrases and
    proximity read each word's positions segment by segment: every query must find and
    score what a single-segment build does."""
    from support.index import build_sources

    def write(n: int) -> None:  # the words in other places and orders in each article
        body = ("filler " * (n % 4) + ("about walruses and seals" if n % 3 else
                                       "seals and walruses about") + " seals" * (n % 2))
        (src / f"s{n}.jsonl").write_text("".join(json.dumps(
            {"id": f"s{n}-{k}", "date": f"2020-03-{n + k + 1:02d}", "title": f"Update {n}",
             "body": body + " filler" * k, "topics": [f"t{k}"], "places": ["usa"]}) + "\n"
            for k in range(n % 3 + 1)))

    src = tmp_path / "src"
    src.mkdir()
    write(0)
    write(1)
    index = tmp_path / "index"
    build_sources(index, [src], "whoosh")
    for n in range(2, 6):
        write(n)
        build_sources(index, [src], "whoosh", update_only=True)
    engine = WhooshEngine(index)
    try:
        assert len(engine.snapshot().postings.leaves) >= 3
    finally:
        engine.close()
    fresh = tmp_path / "fresh"
    build_sources(fresh, [src], "whoosh")
    found = outcome(index)
    phrased = [total for q, total, _, _ in found if '"' in q["q"] or "NEAR" in q["q"]]
    assert sum(1 for total in phrased if total) >= 3  # the phrases and proximity find some
    assert found == outcome(fresh)


def test_merged_string_columns_keep_the_live_documents_strings_in_order():
    """Ids, hashes, origins and story ids are joined as bytes, deleted documents' left out:
    what comes out is the list of the live documents' strings, multi-byte and empty ones
    included."""
    from searchsvc.engines.whoosh.packs import Strings, concat_strings, pack_strings

    lists = [["a1", "", "Zürich-7", "北京"], ["x"], [], ["é", "last", ""]]
    keeps = [np.array([True, False, True, True]), np.array([False]), np.zeros(0, bool),
             np.array([True, True, False])]
    parts = [(Strings(*pack_strings(values)), keep) for values, keep in zip(lists, keeps,
                                                                         strict=True)]
    blob, offsets = concat_strings(parts)
    expected = [v for values, keep in zip(lists, keeps, strict=True)
                for v, k in zip(values, keep, strict=True) if k]
    assert Strings(blob, offsets).all() == expected == ["a1", "Zürich-7", "北京", "é", "last"]
    everything = concat_strings([(p[0], np.ones(len(p[0]), bool)) for p in parts])
    assert Strings(*everything).all() == [v for values in lists for v in values]
