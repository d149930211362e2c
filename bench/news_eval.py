"""Measure the news-aware features on Reuters: places from plain text, and story clustering.

    python -m bench.news_eval places   # precision/recall of places found in the text vs the
                                       # hand-labelled Reuters ``places`` field
    python -m bench.news_eval stories  # cluster-size statistics, and precision on the pairs
                                       # hand-labelled in bench/story_labels.tsv
    python -m bench.news_eval sample   # print a fresh random sample of pairs to label

Places: every Reuters article with at least one label; our country names are mapped to
Reuters' place codes (slug of the name, plus the table below for the names that differ, e.g.
"United States" → usa). Micro-averaged over all (article, place) pairs. Only the places our
gazetteer can name at all (countries) are in scope; Reuters' labels are all countries.

Stories: a pair is (article, its story's first article). Labelled 1 when both report the same
event or announcement (same company action, same policy decision, same market event),
0 otherwise — judged from title and opening, written down in story_labels.tsv.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from searchsvc.ingest.places import find_places
from searchsvc.ingest.prepare import index_article, story_terms
from searchsvc.ingest.sources import collect, read_sources
from searchsvc.ingest.stories import DocTerms, cluster

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "reuters21578.jsonl.gz"
LABELS = Path(__file__).with_name("story_labels.tsv")
TO_REUTERS = {
    "United States": "usa", "United Kingdom": "uk", "Soviet Union": "ussr", "Russia": "ussr",
    "United Arab Emirates": "uae", "Republic of the Congo": "congo",
    "Democratic Republic of the Congo": "zaire", "Germany": "west-germany",
    "Cambodia": "kampuchea", "Myanmar": "burma", "Trinidad and Tobago": "trinidad-tobago",
    "Antigua and Barbuda": "antigua", "Eswatini": "swaziland",
    "U.S. Virgin Islands": "us-virgin-islands", "Yemen": "yemen-arab-republic",
}


def reuters_code(name: str) -> str:
    return TO_REUTERS.get(name, name.lower().replace(" ", "-"))


def load() -> list:
    articles, _ = collect(read_sources([CORPUS]))
    return list(articles.values())


def places() -> dict:
    counts = Counter()
    labelled = 0
    started = time.perf_counter()
    for a in load():
        gold = set(a.places)
        if not gold:
            continue
        labelled += 1
        found = {reuters_code(p) for p in find_places(f"{a.title}\n{a.body}")}
        for scope, keep in (("all", lambda c: True), ("without_usa", lambda c: c != "usa")):
            g, f = {c for c in gold if keep(c)}, {c for c in found if keep(c)}
            counts[scope, "tp"] += len(f & g)
            counts[scope, "fp"] += len(f - g)
            counts[scope, "fn"] += len(g - f)
    result: dict = {"articles": labelled, "seconds": round(time.perf_counter() - started, 1)}
    for scope in ("all", "without_usa"):
        tp, fp, fn = (counts[scope, k] for k in ("tp", "fp", "fn"))
        result[scope] = {"precision": round(tp / (tp + fp), 3), "recall": round(tp / (tp + fn), 3),
                         "true_pos": tp, "false_pos": fp, "false_neg": fn}
    print(json.dumps(result, indent=2))
    return result


def _stories(articles: list) -> dict[str, str]:
    # The terms a build clusters on: the shared ingest's analysis of each article.
    docs = [DocTerms(a.id, a.date.toordinal() if a.date else None,
                     story_terms(index_article(a, a.path))) for a in articles]
    return cluster(docs)


def stories() -> dict:
    articles = load()
    started = time.perf_counter()
    mapping = _stories(articles)
    seconds = time.perf_counter() - started
    sizes = Counter(Counter(mapping.values()).values())
    result = {
        "articles": len(articles), "clustered_articles": len(mapping),
        "stories": len(set(mapping.values())), "seconds": round(seconds, 2),
        "size_histogram": dict(sorted(sizes.items())),
        "largest": max(sizes) if sizes else 0,
    }
    if LABELS.exists():
        rows = [line.split("\t") for line in LABELS.read_text("utf-8").splitlines()
                if line and not line.startswith("#")]
        current = [r for r in rows if mapping.get(r[0]) == mapping.get(r[1]) is not None]
        result["labelled_pairs"] = len(rows)
        result["labelled_pairs_still_clustered"] = len(current)
        result["precision"] = round(sum(r[2] == "1" for r in current) / max(1, len(current)), 3)
    print(json.dumps(result, indent=2))
    return result


def sample(n: int = 60, seed: int = 2026) -> None:
    articles = load()
    by_id = {a.id: a for a in articles}
    mapping = _stories(articles)
    pairs = [(a, s) for a, s in mapping.items() if a != s]
    random.Random(seed).shuffle(pairs)
    for a, s in pairs[:n]:
        for x in (s, a):
            art = by_id[x]
            print(f"{x}\t{art.date}\t{art.title[:70]}\t{' '.join(art.body.split())[:160]}")
        print()


if __name__ == "__main__":
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} is not available")
    {"places": places, "stories": stories, "sample": sample}[sys.argv[1]]()
