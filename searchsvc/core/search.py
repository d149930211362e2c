"""The search pipeline: a :class:`SearchQuery` in, a :class:`SearchResult` out. No Flask here,
and no engine: the snapshot is reached through the port (``searchsvc.engine``).

1. read the query text (``querytext``: what the person meant, as a neutral query tree and the
   all-words tier);
2. one :class:`EngineRequest`: the tree, the date and facet filters (named, so each facet can
   ignore its own), sort and recency, the page, collapse by story, every facet, day counts;
3. shape the answer: hits with ``title_html`` and snippets (``highlight``), the date
   histogram's calendar (``histogram``), did-you-mean (``spelling``), and — when the query
   used syntax and its plain reading would find far more — ``interpreted_as`` saying how it
   was read.

``total`` and every facet count count articles; ``total_stories`` counts the stories they
belong to, which is what the hits list when ``collapse`` is on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from searchsvc.core import highlight, histogram, querytext, spelling
from searchsvc.core.params import SearchQuery
from searchsvc.engine import (
    FACETS,
    Bool,
    DateRange,
    EngineRequest,
    FacetRequest,
    Query,
    Snapshot,
    StoredArticle,
    Value,
)

PLAIN_MUCH_MORE = 2.0  # interpreted_as when the plain reading finds at least this many times


@dataclass
class Hit:
    id: str
    date: str | None
    title: str
    title_html: str
    score: float | None
    snippets: list[str]
    url: str
    source: str | None
    topics: list[str]
    places: list[str]
    people: list[str]
    orgs: list[str]
    story: dict | None = None


@dataclass
class SearchResult:
    query: dict
    total: int
    total_stories: int
    took_ms: float
    hits: list[Hit]
    facets: dict
    did_you_mean: dict | None = None
    interpreted_as: dict | None = None
    approximate: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        # Shallow: a result is built per request and only serialised (asdict deep-copies).
        out = dict(self.__dict__)
        out["hits"] = [dict(h.__dict__) for h in self.hits]
        if not self.approximate:
            out.pop("approximate")
        return out


def article_url(article_id: str) -> str:
    return "/articles/" + quote(article_id, safe="/")


def make_hit(article: StoredArticle, score: float | None,
             marks: dict[str, highlight.Matcher] | None) -> Hit:
    marks = marks or {}
    return Hit(
        id=article.id,
        date=article.date.isoformat() if article.date else None,
        title=article.title,
        title_html=highlight.highlight_all(article.title, marks.get("title")),
        score=score,
        snippets=highlight.snippets(article.body, marks.get("body")),
        url=article_url(article.id),
        source=article.source,
        topics=article.topics, places=article.places, people=article.people,
        orgs=article.orgs,
    )


def story_dict(story) -> dict:
    """A hit's ``story``: its id, how many of its articles this search matches (``size``)
    and their ids but the hit's (``others``), and how many it has in all (``total``: the
    versions its article page lists)."""
    return {"id": story.id, "size": story.size, "others": story.others, "total": story.total}


def filters_of(sq: SearchQuery) -> dict[str, Query]:
    """The search's filters, named so each facet can count without its own."""
    out: dict[str, Query] = {}
    if sq.date_from or sq.date_to:
        out["date"] = DateRange(sq.date_from, sq.date_to)
    for name, values in sq.filters.items():
        clauses = tuple(Value(name, v) for v in values)
        out[name] = clauses[0] if len(clauses) == 1 else Bool(should=clauses, min_should=1)
    return out


def search(snapshot: Snapshot, sq: SearchQuery) -> SearchResult:
    started = time.perf_counter()
    parsed = querytext.parse(sq.q)
    if parsed.match_all and sq.sort == "relevance":
        # No words to rank by ("*", punctuation only): the order is newest first, say so.
        sq = replace(sq, sort="newest")
    filters = filters_of(sq)
    request = EngineRequest(
        query=parsed.match, first=parsed.first, filters=filters, sort=sq.sort,  # type: ignore[arg-type]
        recency_days=sq.recency_days, offset=sq.offset, limit=sq.per_page,
        collapse=sq.collapse,
        facets=tuple(FacetRequest(name, sq.facet_size, sq.filters.get(name, ()))
                     for name in FACETS),
        days=True, rescore=parsed.proximity)
    result = snapshot.search(request)
    marks = highlight.matchers(parsed.text_clauses())
    hits = []
    for h in result.hits:
        if h.article is None:
            continue
        hit = make_hit(h.article, h.score, marks)
        hit.story = story_dict(h.story)
        hits.append(hit)
    interval = histogram.resolve(sq.interval, result.days)
    facets: dict = {"date": {
        "interval": interval,
        "buckets": histogram.buckets(result.days, interval, (sq.date_from, sq.date_to)),
    }}
    for name in FACETS:
        chosen = set(sq.filters.get(name, ()))
        facets[name] = [{"value": v, "count": c, "selected": v in chosen}
                        for v, c in result.facets.get(name, [])]
    did_you_mean = spelling.correction(snapshot, parsed, filters, result.total,
                                       [h.id for h in result.hits[:1]])
    return SearchResult(
        query=sq.echo(), total=result.total, total_stories=result.total_stories,
        took_ms=round((time.perf_counter() - started) * 1000, 2), hits=hits, facets=facets,
        did_you_mean=did_you_mean,
        interpreted_as=interpretation(snapshot, parsed, filters, result.total),
        approximate=list(result.approximate))


def count(snapshot: Snapshot, query: Query | None, filters: dict[str, Query]) -> int:
    """How many articles a query finds under the filters (nothing else computed)."""
    return snapshot.search(EngineRequest(query=query, filters=filters, limit=0,
                                         collapse=False, fields=False)).total


def interpretation(snapshot: Snapshot, parsed: querytext.ParsedQuery,
                   filters: dict[str, Query], total: int) -> dict | None:
    """How a query with syntax was read, when reading it as plain words would find far more:
    ``{"query": reading, "plain": {"q": words, "total": n}}``."""
    if not parsed.structured or parsed.match_all or not parsed.plain_text:
        return None
    plain = querytext.parse(parsed.plain_text)
    if plain.match_all:
        return None
    found = count(snapshot, plain.match, filters)
    if found <= total or found < PLAIN_MUCH_MORE * max(total, 1):
        return None
    return {"query": querytext.describe(parsed.match),
            "plain": {"q": parsed.plain_text, "total": found}}
