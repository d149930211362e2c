"""Stories kept up to date by an update, without clustering the whole archive again.

``stories.assign`` decides with the rules of ``stories.cluster``; what it needs from the index
is found here, so an update costs what it changes:

* the **candidates**: the articles dated within ``WINDOW_DAYS`` of the new one that share its
  most distinctive terms — a search, the blocking step of ``cluster`` done by the index — and
  the first article of each of their stories (for the leader check);
* the collection's **document frequencies** of their terms (from the term dictionaries), and
  how many articles of the whole date window use each of the new article's terms (the burst
  rule), counted by the engine under a date filter.

When a story's first article is deleted, ``stories.hand_on`` names the story after the next
earliest of its remaining articles.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from searchsvc import analysis
from searchsvc.engine import (
    Bool,
    DateRange,
    EngineRequest,
    IndexedArticle,
    Snapshot,
    StoredArticle,
    Term,
    Value,
)
from searchsvc.ingest.prepare import story_terms
from searchsvc.ingest.stories import KEY_TERMS, WINDOW_DAYS, DocTerms, assign, entities, hand_on

CANDIDATES = 50
MAX_MEMBERS = 5000


def _doc(article: StoredArticle) -> DocTerms:
    counts = analysis.content_counts(analysis.positions(article.title))
    for term, n in analysis.content_counts(analysis.positions(article.body)).items():
        counts[term] = counts.get(term, 0) + n
    return DocTerms(article.id, article.date.toordinal() if article.date else None, counts,
                    entities(article.title, article.body))


def _key_terms(tf: Mapping[str, int], df: Mapping[str, int], n: int) -> list[str]:
    weight = {t: (1 + math.log(c)) * math.log((n + 1) / (df.get(t, 0) + 1))
              for t, c in tf.items() if df.get(t, 0) >= 1}
    return sorted(weight, key=lambda t: (-weight[t], t))[: KEY_TERMS * 2]


def assign_stories(snapshot: Snapshot, articles: Sequence[IndexedArticle]) -> dict[str, str]:
    """article id → story id for new or changed articles."""
    out: dict[str, str] = {a.id: a.id for a in articles}
    dated = [a for a in articles if a.date is not None]
    if not dated:
        return out
    n = max(snapshot.info().documents, 1) + len(dated)
    skip = {a.id for a in articles}
    new = [DocTerms(a.id, a.date.toordinal(), story_terms(a),  # type: ignore[union-attr]
                    entities(a.title, a.body)) for a in dated]
    span = dt.timedelta(days=WINDOW_DAYS)
    days = [a.date for a in dated if a.date is not None]
    within = DateRange(min(days) - span, max(days) + span)
    window: dict[str, tuple[DocTerms, str]] = {}
    terms: set[str] = set()
    for doc in new:
        terms.update(doc.tf)
    df = snapshot.doc_freq(sorted(terms))
    for doc in new:
        key = _key_terms(doc.tf, df, n)
        if not key:
            continue
        found = snapshot.search(EngineRequest(
            query=Bool(should=tuple(Term(t) for t in key), min_should=min(2, len(key))),
            filters={"date": DateRange(dt.date.fromordinal(doc.date) - span,  # type: ignore[arg-type]
                                       dt.date.fromordinal(doc.date) + span)},  # type: ignore[arg-type]
            limit=CANDIDATES + len(skip), collapse=False))
        for h in found.hits:
            if h.article is not None and h.id not in skip and h.id not in window:
                window[h.id] = (_doc(h.article), h.article.story or h.id)
    # The stories' first articles, for the leader check.
    leaders = {story for _, story in window.values() if story not in window}
    for leader in snapshot.documents(sorted(leaders)):
        if leader is not None and leader.id not in skip:
            window[leader.id] = (_doc(leader), leader.story or leader.id)
    for d, _ in window.values():
        terms.update(d.tf)
    df = {**df, **snapshot.doc_freq(sorted(terms - df.keys()))}
    near = snapshot.doc_freq(sorted({t for d in new for t in d.tf}), within=within)
    near_size = snapshot.search(EngineRequest(query=None, filters={"date": within}, limit=0,
                                              collapse=False, fields=False)).total
    out.update(assign(new, list(window.values()), df, n, near, near_size))
    return out


def hand_on_stories(snapshot: Snapshot, deleted: Sequence[str], replaced: set[str],
                    ) -> dict[str, str]:
    """New story ids for the remaining articles of stories whose first article is deleted
    (a story left with one article is no story any more: it gets that article's own id)."""
    out: dict[str, str] = {}
    gone = set(deleted) | replaced
    for article_id in deleted:
        result = snapshot.search(EngineRequest(
            query=None, filters={"story": Value("story", article_id)}, sort="oldest",
            limit=MAX_MEMBERS, collapse=False))
        members = [(h.id, h.article.date.toordinal() if h.article and h.article.date else None)
                   for h in result.hits if h.id not in gone]
        if len(members) == 1:
            out[members[0][0]] = members[0][0]
        elif members:
            leader = hand_on(members)
            out.update({m: leader for m, _ in members})
    return out
