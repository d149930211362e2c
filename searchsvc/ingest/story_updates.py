"""Stories kept up to date by an update, without clustering the whole archive again.

A new or changed article is compared (TF-IDF cosine, the same terms and threshold as
``stories.cluster``) with the articles dated within the story window of it, which the engine
finds with a date filter; it joins the story of the most similar one at or above the
threshold, or starts its own. When a story's first article (whose id is the story's id) is
deleted, the story is handed on to its next earliest article.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import numpy as np

from searchsvc import analysis
from searchsvc.engine import DateRange, EngineRequest, IndexedArticle, Snapshot, Value
from searchsvc.ingest.prepare import story_terms
from searchsvc.ingest.stories import THRESHOLD, WINDOW_DAYS, TermTable, _cosines, _matrix

MAX_NEIGHBOURS = 5000


def _neighbours(snapshot: Snapshot, low: dt.date, high: dt.date) -> list:
    result = snapshot.search(EngineRequest(
        query=None, filters={"date": DateRange(low, high)}, sort="newest", offset=0,
        limit=MAX_NEIGHBOURS, collapse=False))
    return [h.article for h in result.hits if h.article is not None]


def _terms_of(title: str, body: str) -> dict[str, int]:
    counts = analysis.content_counts(analysis.positions(title))
    for term, n in analysis.content_counts(analysis.positions(body)).items():
        counts[term] = counts.get(term, 0) + n
    return counts


def assign_stories(snapshot: Snapshot, articles: Sequence[IndexedArticle]) -> dict[str, str]:
    """article id → story id for new or changed articles."""
    dated = [a for a in articles if a.date is not None]
    out: dict[str, str] = {a.id: a.id for a in articles}
    if not dated:
        return out
    window = dt.timedelta(days=WINDOW_DAYS)
    groups: list[list[IndexedArticle]] = []
    for article in sorted(dated, key=lambda a: a.date):  # type: ignore[arg-type, return-value]
        if groups and article.date - groups[-1][0].date <= 4 * window:  # type: ignore[operator]
            groups[-1].append(article)
        else:
            groups.append([article])
    replaced = {a.id for a in articles}
    for group in groups:
        low = group[0].date - window  # type: ignore[operator]
        high = group[-1].date + window  # type: ignore[operator]
        near = [n for n in _neighbours(snapshot, low, high) if n.id not in replaced]
        table = TermTable()
        for n in near:
            table.add(n.id, n.date.toordinal() if n.date else None, _terms_of(n.title, n.body))
        for a in group:
            table.add(a.id, a.date.toordinal(), story_terms(a))  # type: ignore[union-attr]
        if len(table) < 2:
            continue
        m = _matrix(table)
        dates = np.frombuffer(table.dates, dtype=np.int64)
        k = len(near)
        for j, a in enumerate(group):
            me = k + j
            others = np.array([i for i in range(len(table)) if i != me
                               and abs(dates[i] - dates[me]) <= WINDOW_DAYS], dtype=np.int64)
            if not len(others):
                continue
            sims = _cosines(m, np.full(len(others), me), others)
            best = int(np.argmax(sims))
            if sims[best] < THRESHOLD:
                continue
            other = int(others[best])
            if other < k:
                out[a.id] = near[other].story or near[other].id
            else:
                partner = group[other - k]
                out[a.id] = out.get(partner.id, partner.id)
                if out[a.id] == a.id:  # two new articles: the earlier one leads
                    first = min((a, partner), key=lambda x: (x.date, x.id))
                    out[a.id] = out[partner.id] = first.id
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
            limit=MAX_NEIGHBOURS, collapse=False))
        members = [(h.id, h.article.date if h.article else None) for h in result.hits
                   if h.id not in gone and h.article is not None
                   and h.article.story == article_id]
        leader = hand_on(members)
        if leader is not None:
            out.update({m: leader for m, _ in members})
    return out
