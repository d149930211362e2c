"""Stories kept up to date by an update, without clustering the whole archive again.

``stories.assign`` decides with the rules of ``stories.cluster``; what it needs from the index
is found here, so an update costs what it changes:

* the **candidates**: the articles dated within ``WINDOW_DAYS`` of the new one that share its
  most distinctive terms — a search, the blocking step of ``cluster`` done by the index — and
  the first article of each of their stories (for the leader check);
* the collection's **document frequencies** of their terms (from the term dictionaries), and
  how many articles within ``WINDOW_DAYS`` of a pair's later date use the terms it shares
  (the burst rule), counted by the engine under a date filter — both as a full build would
  count them: with the update's new articles, without the versions they replace.

When a story's first article is deleted, ``stories.hand_on`` names the story after the next
earliest of its remaining articles.
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
    Every,
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
    counts = analysis.content_counts(analysis.terms(article.title)
                                     + analysis.terms(article.body))
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
    skip = {a.id for a in articles}
    counted = {a.id: story_terms(a) for a in articles}
    new = [DocTerms(a.id, a.date.toordinal(), counted[a.id],  # type: ignore[union-attr]
                    entities(a.title, a.body)) for a in dated]
    # The snapshot still holds (and counts) the versions the changed articles replace, and
    # none of the new ones; a full build of the same sources counts the reverse. Its
    # statistics are corrected for both below, or a follow-up's terms look rarer, so more
    # "news", than a rebuild finds them, and the two group stories differently.
    replaced = [_doc(old) for old in snapshot.documents(sorted(skip)) if old is not None]
    n = max(snapshot.info().documents - len(replaced) + len(articles), 1)
    span = dt.timedelta(days=WINDOW_DAYS)
    window: dict[str, tuple[DocTerms, str]] = {}
    terms: set[str] = set()
    for doc in new:
        terms.update(doc.tf)
    # The new articles' own terms decide the burst rule and which of their key terms can pair:
    # counted as a full build counts them, over the live articles' titles and bodies together
    # (a term dictionary counts title and body apart, and deleted articles until a merge).
    # The window's other terms only shape its articles' weights: the dictionaries do there.
    df = snapshot.doc_freq(sorted(terms), within=Every())
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
    for tf in counted.values():
        for t in tf:
            df[t] = df.get(t, 0) + 1
    for old_doc in replaced:
        for t in old_doc.tf:
            if t in df:
                df[t] = max(df[t] - 1, 0)
    out.update(assign(new, list(window.values()), df, n,
                      _Near(snapshot, new, replaced).counts))
    return out


class _Near:
    """The burst rule's counts around a day, as a full build has them: the index's articles
    dated within ``WINDOW_DAYS`` (asked once per day and term, and only for the pairs that
    pass the similarity rules), with this update's new articles in and the versions they
    replace out."""

    def __init__(self, snapshot: Snapshot, new: Sequence[DocTerms],
                 replaced: Sequence[DocTerms]) -> None:
        self.snapshot = snapshot
        self.new = new
        self.replaced = [d for d in replaced if d.date is not None]
        self.days: dict[int, tuple[dict[str, int], int]] = {}

    def counts(self, day: int, terms: Iterable[str]) -> tuple[Mapping[str, int], int]:
        span = WINDOW_DAYS
        within = DateRange(dt.date.fromordinal(day - span), dt.date.fromordinal(day + span))
        added = [d for d in self.new if abs(d.date - day) <= span]  # type: ignore[operator]
        gone = [d for d in self.replaced if abs(d.date - day) <= span]  # type: ignore[operator]
        if day not in self.days:
            size = self.snapshot.search(EngineRequest(
                query=None, filters={"date": within}, limit=0, collapse=False,
                fields=False)).total
            self.days[day] = ({}, size + len(added) - len(gone))
        found, size = self.days[day]
        missing = sorted(set(terms) - found.keys())
        if missing:
            got = self.snapshot.doc_freq(missing, within=within)
            for t in missing:
                found[t] = (got.get(t, 0) + sum(t in d.tf for d in added)
                            - sum(t in d.tf for d in gone))
        return found, size


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
