"""Stories kept up to date by an update, without clustering the whole archive again.

A new or changed article is compared with the articles of its story window that could be the
same story: the engine finds them with a search for the article's most distinctive terms
among the articles dated within :data:`~searchsvc.ingest.stories.WINDOW_DAYS` of it (the
blocking step of ``stories.cluster``, done by the index). Their TF-IDF cosine is computed with
the collection's document frequencies (as ``cluster`` weighs terms); the article joins the
story of the most similar one at or above the threshold — provided it is also similar enough
to that story's first article (the leader check of ``cluster``) — or starts its own. When a
story's first article is deleted, the story is handed on to its next earliest article.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence

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
from searchsvc.ingest.stories import KEY_TERMS, THRESHOLD, WINDOW_DAYS

CANDIDATES = 50
MAX_MEMBERS = 5000


def _terms_of(title: str, body: str) -> dict[str, int]:
    counts = analysis.content_counts(analysis.positions(title))
    for term, n in analysis.content_counts(analysis.positions(body)).items():
        counts[term] = counts.get(term, 0) + n
    return counts


def _vector(tf: Mapping[str, int], df: Mapping[str, int], n: int) -> dict[str, float]:
    """Sublinear tf × smoothed idf, L2-normalised (``stories._matrix``'s weights)."""
    w = {t: (1.0 + math.log(c)) * (math.log((n + 1) / (df.get(t, 0) + 1)) + 1.0)
         for t, c in tf.items() if c > 0}
    norm = math.sqrt(sum(v * v for v in w.values())) or 1.0
    return {t: v / norm for t, v in w.items()}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def _candidates(snapshot: Snapshot, article: IndexedArticle, tf: Mapping[str, int],
                df: Mapping[str, int], n: int, skip: set[str]) -> list[StoredArticle]:
    assert article.date is not None
    window = dt.timedelta(days=WINDOW_DAYS)
    weights = _vector(tf, df, n)
    key = sorted((t for t in weights if df.get(t, 0) >= 1),
                 key=lambda t: (-weights[t], t))[:KEY_TERMS * 2]
    if not key:
        return []
    result = snapshot.search(EngineRequest(
        query=Bool(should=tuple(Term(t) for t in key), min_should=2 if len(key) > 1 else 1),
        filters={"date": DateRange(article.date - window, article.date + window)},
        limit=CANDIDATES + len(skip), collapse=False))
    return [h.article for h in result.hits if h.article is not None and h.id not in skip]


def assign_stories(snapshot: Snapshot, articles: Sequence[IndexedArticle]) -> dict[str, str]:
    """article id → story id for new or changed articles."""
    out: dict[str, str] = {a.id: a.id for a in articles}
    dated = [a for a in articles if a.date is not None]
    if not dated:
        return out
    n = max(snapshot.info().documents, 1)
    skip = {a.id for a in articles}
    own = {a.id: story_terms(a) for a in dated}
    analysed: dict[str, dict[str, int]] = {}  # a batch's candidates overlap: analyse once
    for a in sorted(dated, key=lambda x: (x.date, x.id)):  # type: ignore[arg-type, return-value]
        tf = own[a.id]
        near = _candidates(snapshot, a, tf, snapshot.doc_freq(list(tf)), n, skip)
        for c in near:
            if c.id not in analysed:
                analysed[c.id] = _terms_of(c.title, c.body)
        others = {c.id: analysed[c.id] for c in near}
        df = snapshot.doc_freq(sorted(set(tf).union(*others.values())))
        mine = _vector(tf, df, n)
        best, best_sim = None, THRESHOLD
        for c in near:
            sim = cosine(mine, _vector(others[c.id], df, n))
            if sim >= best_sim:
                best, best_sim = c, sim
        # Articles of this same update (a batch) can be one story among themselves.
        for other in dated:
            if other.id != a.id and other.id in out and abs(
                    (other.date - a.date).days) <= WINDOW_DAYS:  # type: ignore[operator]
                sim = cosine(mine, _vector(own[other.id], df, n))
                if sim >= best_sim and (other.date, other.id) < (a.date, a.id):  # type: ignore[operator]
                    best, best_sim = None, sim
                    out[a.id] = out[other.id]
        if best is not None:
            story = best.story or best.id
            leader = best if story == best.id else next(
                iter(snapshot.documents([story])), None)
            if leader is None or leader.id == best.id or cosine(
                    mine, _vector(_terms_of(leader.title, leader.body), df, n)) >= THRESHOLD:
                out[a.id] = story
    return out


def hand_on(members: Iterable[tuple[str, dt.date | None]]) -> str | None:
    """The story's new id when its first article is gone: the next earliest article's."""
    ordered = sorted(members, key=lambda m: (m[1] is None, m[1] or dt.date.min, m[0]))
    return ordered[0][0] if ordered else None


def hand_on_stories(snapshot: Snapshot, deleted: Sequence[str], replaced: set[str],
                    ) -> dict[str, str]:
    """New story ids for the remaining articles of stories whose first article is deleted."""
    out: dict[str, str] = {}
    gone = set(deleted) | replaced
    for article_id in deleted:
        result = snapshot.search(EngineRequest(
            query=None, filters={"story": Value("story", article_id)}, sort="oldest",
            limit=MAX_MEMBERS, collapse=False))
        members = [(h.id, h.article.date if h.article else None) for h in result.hits
                   if h.id not in gone and h.article is not None
                   and h.article.story == article_id]
        leader = hand_on(members)
        if leader is not None:
            out.update({m: leader for m, _ in members})
    return out
