"""A full build under a tiny memory budget — many segment flushes, merged into one at the
end — must be indistinguishable from one that holds everything in memory: the same
rankings and scores, totals, facets, histogram, stories, suggestions and did-you-mean."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from searchsvc.core import spelling
from searchsvc.core.params import parse_search_args
from searchsvc.core.search import search
from searchsvc.engines.whoosh.engine import WhooshEngine
from searchsvc.ingest.build import full_build

WORDS = [w + s for w in ("oil", "grain", "bank", "rate", "crude", "wheat", "ship", "port",
                         "strike", "union", "bond", "yield", "mine", "gold", "tin", "copper",
                         "coffee", "sugar", "cocoa", "trade", "deficit", "tariff", "export")
         for s in ("", "s", "ed", "ing")] + [f"name{i}" for i in range(300)]
PLACES = ["usa", "uk", "japan", "brazil", "canada", "france"]
TOPICS = ["crude", "grain", "money-fx", "trade", "earn", "acq"]


def write_archive(path: Path, n: int, seed: int = 5) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            story = rng.randrange(n // 3)  # a third as many events as articles: retellings
            srng = random.Random(story)
            told = srng.sample(WORDS, 40)
            body = told[:30] + rng.sample(WORDS, 20)
            rng.shuffle(body)
            fh.write(json.dumps({
                "id": f"a{i:05d}", "date": f"2019-{1 + story % 12:02d}-{1 + story % 28:02d}",
                "title": " ".join(told[:5]).capitalize(),
                "body": ". ".join(" ".join(body[k:k + 10]) for k in range(0, 50, 10)) + ".",
                "places": srng.sample(PLACES, 1 + story % 2),
                "topics": srng.sample(TOPICS, 1 + story % 3)}) + "\n")
    return path


QUERIES = [{"q": "oil"}, {"q": "crude oil prices"}, {"q": '"gold mine"'}, {"q": "strik*"},
           {"q": "tarif~"}, {"q": "bank -bond"}, {"q": "name12 OR name200"},
           {"q": "title:coffee"}, {"q": "", "places": "uk"},
           {"q": "sugar", "topics": "crude", "from": "2019-03", "to": "2019-08"},
           {"q": "trade deficit", "sort": "newest"}, {"q": "exporting", "collapse": "false"},
           {"q": "copper NEAR/3 tin"}, {"q": "wheat", "per_page": "50", "page": "2"}]


def outcome(index: Path) -> list:
    engine = WhooshEngine(index)
    try:
        snapshot = engine.snapshot()
        out: list = []
        for args in QUERIES:
            result = search(snapshot, parse_search_args(args))
            out.append((args, result.total, result.total_stories,
                        [(h.id, h.score, h.story) for h in result.hits],
                        result.facets, result.did_you_mean))
        out.append(spelling.suggest(snapshot, "gold m"))
        out.append(sorted((k, v) for k, v in snapshot.vocabulary().words().items()))
        return out
    finally:
        engine.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return write_archive(tmp_path_factory.mktemp("budget") / "archive.jsonl", 2400)


@pytest.fixture
def merges(monkeypatch) -> list[int]:
    """The number of segments each merge took (the build's flushes, seen from its end)."""
    from searchsvc.engines.whoosh import merging

    taken: list[int] = []
    real = merging.merge

    def merge(ix, segments, stories, **options):
        taken.append(len(segments))
        return real(ix, segments, stories, **options)

    monkeypatch.setattr(merging, "merge", merge)
    return taken


@pytest.mark.parametrize("procs", [1, 2])
def test_a_tiny_memory_budget_gives_the_same_search_results(archive, tmp_path, procs, merges):
    roomy, tiny = tmp_path / "roomy", tmp_path / "tiny"
    full_build(WhooshEngine(roomy), roomy, [archive], procs=procs)
    # One segment per worker, merged into one at the end.
    assert merges == ([] if procs == 1 else [2])
    merges.clear()
    full_build(WhooshEngine(tiny, build_memory_mb=0.05), tiny, [archive], procs=procs)
    # Flushed every few articles (hundreds of segments), merged by copying their postings.
    assert len(merges) == 1 and merges[0] >= 100
    assert segment_sizes(roomy) == segment_sizes(tiny) == [2400]
    assert outcome(tiny) == outcome(roomy)


def segment_sizes(index: Path) -> list[int]:
    engine = WhooshEngine(index)
    try:
        return sorted(leaf.doc_count() for leaf, _ in engine.snapshot().postings.leaves)
    finally:
        engine.close()


@pytest.mark.parametrize("procs", [1, 2])
def test_a_writer_over_its_resident_limit_flushes_whatever_its_estimate(archive, tmp_path,
                                                                       procs, monkeypatch,
                                                                       merges):
    """The postings estimate undercounts a large vocabulary (a worker reached 1.1 GB at an
    estimated 256 MB): a writer whose process is past its share of the budget writes its
    segment out, and the index is the same."""
    from searchsvc.engines.whoosh import engine as whoosh_engine

    roomy, pressed = tmp_path / "roomy", tmp_path / "pressed"
    full_build(WhooshEngine(roomy), roomy, [archive], procs=procs)
    merges.clear()
    monkeypatch.setattr(whoosh_engine, "RSS_EVERY", 50)
    # Every process reads as if it were over any limit; the estimate alone never flushes.
    monkeypatch.setattr(whoosh_engine, "_resident_bytes", lambda: 1 << 50)
    monkeypatch.setattr(whoosh_engine, "MEMORY_SHARE", 1e6)
    full_build(WhooshEngine(pressed, build_memory_mb=4), pressed, [archive], procs=procs)
    assert len(merges) == 1 and merges[0] > (1 if procs == 1 else 2)
    assert segment_sizes(pressed) == [2400]
    assert outcome(pressed) == outcome(roomy)
