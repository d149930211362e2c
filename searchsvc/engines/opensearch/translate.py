"""An :class:`~searchsvc.engine.EngineRequest` as OpenSearch's query DSL, and the response back.

The request translator and the response translator are a pair (SearXNG's habit): one builds
the ``_search`` body, the other reads it, and nothing else here talks to a cluster.

How each part is made exact:

* **matching and scoring**: each node of the query tree has its Lucene twin (a clause on the
  article's text is matched and scored on the combined field ``text_terms``, as the embedded
  engine scores it; ``title:``/``body:`` on their own field); the proximity bonus is a
  sloppy ``match_phrase`` per pair (``rescore`` cannot be combined with ``collapse`` in
  OpenSearch, so it is scored on every match); filters (facet values, dates) are
  in filter context and score nothing; prefix, wildcard and fuzzy clauses are sent as the
  index terms they expand to (asked of the cluster by the engine, see ``expansion``), each
  scored as a term of its own with the clause's boost — as the embedded engine scores them
  (Lucene's own fuzzy rewrite would scale each term by its similarity) — and more than the
  engine's term limit in one query is refused, as there;
* **the all-words tier**: a ``constant_score`` clause adds a bonus larger than any score the
  query can reach to the documents of the first tier, which is subtracted again from the hits'
  scores; ties break on date (newest first) and id;
* **exact totals** (``track_total_hits``), **statistics over all shards**
  (``dfs_query_then_fetch``, requested by the engine), the search's filters as a
  ``post_filter`` so that every facet (and the day counts) can be counted with all filters but
  its own, facet counts from ``terms`` aggregations whose shard size covers every value (the
  response's error bound is checked: anything inexact is reported in ``approximate``);
* **stories**: ``collapse`` on the story field with ``inner_hits`` (which OpenSearch runs with
  the query and the post filter, so the story's size counts what this search matches);
  ``total_stories`` from a ``cardinality`` aggregation, exact up to
  :data:`CARDINALITY_EXACT` stories and reported approximate above;
* **recency**: ``function_score`` with an ``exp`` decay of half-life ``h`` around the newest
  article (``0.5^(age/h)``), undated articles weighted as the oldest.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable

import numpy as np

from searchsvc.engine import (
    BM25_K1,
    Bool,
    DateRange,
    DayCounts,
    EngineHit,
    EngineRequest,
    EngineResult,
    Every,
    Fuzzy,
    Near,
    Phrase,
    Prefix,
    Query,
    StoredArticle,
    StoryInfo,
    Term,
    Value,
    Wildcard,
    walk,
)
from searchsvc.engines.opensearch.mapping import TERM_FIELDS, TEXT_FIELD
from searchsvc.errors import QueryTooExpensive

CARDINALITY_EXACT = 40_000  # the largest precision_threshold OpenSearch accepts
SHARD_SIZE = 10_000         # terms per shard a facet aggregation considers
SOURCE_FIELDS = ["id", "title", "body", "date", "url", "source", "topics", "places", "people",
                 "orgs", "story"]


Expander = Callable[["Prefix | Wildcard | Fuzzy", str], list[str]]


class _Ctx:
    """One query's translation: the term limit, the expander (the index terms a prefix,
    wildcard or fuzzy clause stands for on a field; None sends Lucene's own clause), and what
    is left of the limit (shared by every expansion of the query, as in the embedded
    engine)."""

    def __init__(self, max_terms: int, expand: Expander | None = None):
        self.max_terms = max_terms
        self.expand = expand
        self.budget = max_terms

    def fresh(self) -> _Ctx:
        return _Ctx(self.max_terms, self.expand)


def expansion(q: Prefix | Wildcard | Fuzzy, field: str, max_terms: int) -> dict:
    """The clause whose rewrite (``_validate/query?rewrite=true``) lists every index term
    ``q`` expands to on ``field``: one term query per term (``scoring_boolean``)."""
    if isinstance(q, Prefix):
        return {"prefix": {field: {"value": q.text, "rewrite": "scoring_boolean"}}}
    if isinstance(q, Wildcard):
        return {"wildcard": {field: {"value": q.pattern, "rewrite": "scoring_boolean"}}}
    return {"fuzzy": {field: {"value": q.text, "fuzziness": min(max(q.distance, 1), 2),
                              "prefix_length": min(max(q.prefix, 1), len(q.text)),
                              "transpositions": False, "max_expansions": max_terms + 1,
                              "rewrite": "scoring_boolean"}}}


def expanded_terms(explanations: list[str], field: str) -> set[str]:
    """The terms of ``field`` a rewritten query's explanations name. Index terms hold no
    space, bracket, ``^``, ``*``, ``?`` or ``~`` (``searchsvc.analysis.TOKEN_PATTERN``); a
    shard none of whose terms match leaves the clause as it was (``text_terms:p*``,
    ``text_terms:oil~1``), which names no term."""
    pattern = re.compile(re.escape(field) + r":([^\s()^*?~]+)(?=[\s)^]|$)")
    return {t for text in explanations for t in pattern.findall(text)}


def _expanded(q: Prefix | Wildcard | Fuzzy, ctx: _Ctx) -> dict:
    assert ctx.expand is not None
    clauses = []
    for f in _fields(q.field):
        terms = ctx.expand(q, f)
        ctx.budget -= len(terms)
        if ctx.budget < 0:
            raise QueryTooExpensive(
                f"the query's wildcards or fuzzy terms expand to more than {ctx.max_terms} "
                "terms; make them more specific")
        clauses += [{"term": {f: {"value": t, "boost": q.boost}}} for t in terms]
    if not clauses:
        return {"match_none": {}}
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses}}


def _fields(fld: str | None) -> list[str]:
    return [TERM_FIELDS[fld]] if fld in TERM_FIELDS else [TEXT_FIELD]


def _any_field(clauses: list[dict]) -> dict:
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses}}


def query(q: Query, ctx: _Ctx) -> dict:
    """One node of the tree in the query DSL."""
    if isinstance(q, Term):
        return _any_field([{"term": {f: {"value": q.text, "boost": q.boost}}}
                           for f in _fields(q.field)])
    if isinstance(q, Phrase):
        return _any_field([{"match_phrase": {f: {"query": " ".join(q.terms), "slop": q.slop,
                                                 "analyzer": "terms", "boost": q.boost}}}
                           for f in _fields(q.field)])
    if isinstance(q, Near):
        return _any_field([{"span_near": {"clauses": [_span(q.left, f), _span(q.right, f)],
                                          "slop": q.distance, "in_order": False,
                                          "boost": q.boost}}
                           for f in _fields(q.left.field)])
    if isinstance(q, (Prefix, Wildcard, Fuzzy)) and ctx.expand is not None:
        return _expanded(q, ctx)
    if isinstance(q, Prefix):
        return _any_field([{"prefix": {f: {"value": q.text, "rewrite": "scoring_boolean",
                                           "boost": q.boost}}} for f in _fields(q.field)])
    if isinstance(q, Wildcard):
        return _any_field([{"wildcard": {f: {"value": q.pattern, "rewrite": "scoring_boolean",
                                             "boost": q.boost}}} for f in _fields(q.field)])
    if isinstance(q, Fuzzy):
        return _any_field([{"fuzzy": {f: {"value": q.text, "fuzziness": q.distance,
                                          "prefix_length": q.prefix, "transpositions": False,
                                          "max_expansions": ctx.max_terms,
                                          "rewrite": "scoring_boolean", "boost": q.boost}}}
                           for f in _fields(q.field)])
    if isinstance(q, (Value, DateRange)):
        return {"constant_score": {"filter": filter_(q), "boost": 0.0}}
    if isinstance(q, Every):
        return {"match_all": {"boost": 0.0}}
    return _bool(q, ctx)


def _span(side: Term | Phrase, field: str) -> dict:
    if isinstance(side, Term):
        return {"span_term": {field: side.text}}
    return {"span_near": {"clauses": [{"span_term": {field: t}} for t in side.terms],
                          "slop": side.slop, "in_order": True}}


def _is_filter(q: Query) -> bool:
    return isinstance(q, (Value, DateRange))


def _bool(q: Bool, ctx: _Ctx) -> dict:
    out: dict = {}
    must = [c for c in q.must if not _is_filter(c)]
    filters = [c for c in q.must if _is_filter(c)]
    if must:
        out["must"] = [query(c, ctx) for c in must]
    if filters:
        out["filter"] = [filter_(c) for c in filters]
    if q.should:
        out["should"] = [query(c, ctx) for c in q.should]
        out["minimum_should_match"] = q.min_should if (q.must or q.min_should) else 1
    if q.must_not:
        out["must_not"] = [filter_(c, ctx) for c in q.must_not]
    if not out:
        return {"match_none": {}}
    if not (q.must or q.should):
        out["must"] = [{"match_all": {"boost": 0.0}}]
    return {"bool": out}


def filter_(q: Query, ctx: _Ctx | None = None) -> dict:
    """A node in filter context (no score); ``ctx`` the query's translation, whose term limit
    its expansions count towards."""
    if isinstance(q, Value):
        return {"term": {q.field: q.value}}
    if isinstance(q, DateRange):
        bounds = {}
        if q.low:
            bounds["gte"] = q.low.isoformat()
        if q.high:
            bounds["lte"] = q.high.isoformat()
        return {"range": {"date": bounds}} if bounds else {"exists": {"field": "date"}}
    if isinstance(q, Every):
        return {"match_all": {}}
    if isinstance(q, Bool) and all(_is_filter(c) or isinstance(c, Bool) for c in walk(q)):
        out: dict = {}
        if q.must:
            out["filter"] = [filter_(c, ctx) for c in q.must]
        if q.should:
            out["should"] = [filter_(c, ctx) for c in q.should]
            out["minimum_should_match"] = q.min_should if (q.must or q.min_should) else 1
        if q.must_not:
            out["must_not"] = [filter_(c, ctx) for c in q.must_not]
        return {"bool": out} if out else {"match_none": {}}
    return {"bool": {"filter": [query(q, ctx if ctx is not None else _Ctx(1024))]}}


def score_bound(q: Query | None, documents: int, max_terms: int) -> float:
    """More than any score ``q`` can give a document: each scored term contributes at most
    ``idf · (k1 + 1)``, and idf is at most ``ln(1 + N/0.5)``."""
    if q is None:
        return 1.0
    per_term = math.log(1 + (documents + 0.5) / 0.5) * (BM25_K1 + 1)
    total = 0.0
    for node in walk(q):
        boost = getattr(node, "boost", 1.0)
        if isinstance(node, Term):
            total += per_term * boost
        elif isinstance(node, Phrase):
            total += per_term * boost * len(node.terms)
        elif isinstance(node, Near):
            sides = [node.left, node.right]
            total += per_term * boost * sum(len(getattr(s, "terms", (1,))) for s in sides)
        elif isinstance(node, (Prefix, Wildcard, Fuzzy)):
            total += per_term * boost * max_terms
    return max(total, 1.0)


def tier_bonus(bound: float) -> float:
    return float(2 ** math.ceil(math.log2(bound + 1)))


def body(request: EngineRequest, *, documents: int, newest: dt.date | None,
         oldest: dt.date | None, max_terms: int,
         expand: Expander | None = None) -> tuple[dict, float]:
    """The ``_search`` body for ``request`` and the tier bonus to subtract from scores
    (``expand``: see :class:`_Ctx`)."""
    ctx = _Ctx(max_terms, expand)
    ranked = request.sort == "relevance" and request.query is not None
    main = query(request.query, ctx) if request.query is not None else {"match_all": {}}
    if ranked and request.rescore:
        main = {"bool": {"must": [main], "should": [query(q, ctx) for q in request.rescore]}}
    if ranked and request.recency_days and newest is not None:
        main = _recency(main, request.recency_days, newest, oldest)
    bonus = 0.0
    if ranked and request.first is not None:
        bound = score_bound(request.query, documents, max_terms) + sum(
            score_bound(q, documents, max_terms) for q in request.rescore)
        bonus = tier_bonus(bound)
        main = {"bool": {"must": [main], "should": [
            {"constant_score": {"filter": filter_(request.first, ctx.fresh()),
                                "boost": bonus}}]}}
    out: dict = {"query": main, "track_total_hits": True, "from": request.offset,
                 "size": request.limit,
                 "_source": SOURCE_FIELDS if request.fields else False}
    if ranked:
        out["sort"] = [{"_score": "desc"}, {"date": {"order": "desc", "missing": "_last"}},
                       {"id": "asc"}]
        out["track_scores"] = True
    else:
        order = "asc" if request.sort == "oldest" else "desc"
        out["sort"] = [{"date": {"order": order, "missing": "_last"}}, {"id": "asc"}]
    filters = request.filters
    if filters:
        out["post_filter"] = {"bool": {"filter": [filter_(f, ctx.fresh())
                                                  for f in filters.values()]}}
    if request.collapse and request.limit > 0:
        out["collapse"] = {"field": "story", "inner_hits": {
            "name": "story", "size": request.story_others + 1, "_source": ["date"],
            "sort": [{"date": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]}}
    aggs: dict = {}

    def without(skip: str | None) -> dict:
        return {"bool": {"filter": [filter_(f, ctx.fresh()) for name, f in filters.items()
                                    if name != skip]}}

    for f in request.facets:
        terms = {"field": f.name, "size": f.size, "shard_size": max(SHARD_SIZE, f.size),
                 "order": [{"_count": "desc"}, {"_key": "asc"}]}
        inner = {"top": {"terms": terms}}
        if f.selected:
            inner["chosen"] = {"terms": {"field": f.name, "include": list(f.selected),
                                         "size": len(f.selected)}}
        aggs[f"facet_{f.name}"] = {"filter": without(f.name), "aggs": inner}
    if request.days:
        aggs["days"] = {"filter": without("date"), "aggs": {"d": {"date_histogram": {
            "field": "date", "calendar_interval": "1d", "min_doc_count": 1,
            "format": "yyyy-MM-dd"}}}}
    aggs["stories"] = {"filter": without(None), "aggs": {"n": {"cardinality": {
        "field": "story", "precision_threshold": CARDINALITY_EXACT}}}}
    out["aggs"] = aggs
    return out, bonus


def _recency(main: dict, half_life: float, newest: dt.date, oldest: dt.date | None) -> dict:
    span = (newest - oldest).days if oldest else 0
    return {"function_score": {
        "query": main,
        "functions": [
            {"filter": {"exists": {"field": "date"}},
             # Whole milliseconds: OpenSearch takes no fractional or exponent-written
             # time value (``:g`` wrote 3000y as 1.095e+06d).
             "exp": {"date": {"origin": newest.isoformat(),
                              "scale": f"{round(half_life * 86_400_000)}ms",
                              "decay": 0.5}}},
            {"filter": {"bool": {"must_not": {"exists": {"field": "date"}}}},
             "weight": 0.5 ** (span / half_life)},
        ],
        "score_mode": "first", "boost_mode": "multiply"}}


def article(source: dict) -> StoredArticle:
    date = source.get("date")
    return StoredArticle(
        id=source["id"], title=source.get("title", ""), body=source.get("body", ""),
        date=dt.date.fromisoformat(date) if date else None, url=source.get("url"),
        source=(source.get("source") or [None])[0] if isinstance(source.get("source"), list)
        else source.get("source"),
        topics=list(source.get("topics", [])), places=list(source.get("places", [])),
        people=list(source.get("people", [])), orgs=list(source.get("orgs", [])),
        story=source.get("story"))


def result(response: dict, request: EngineRequest, bonus: float,
           stories: dict[str, StoryInfo]) -> EngineResult:
    ranked = request.sort == "relevance" and request.query is not None
    hits = []
    for h in response["hits"]["hits"]:
        src = h.get("_source") or {}
        story = stories.get(h["_id"])
        if story is None:  # from collapse's inner hits
            inner = h.get("inner_hits", {}).get("story", {}).get("hits", {})
            members = [m["_id"] for m in inner.get("hits", [])]
            story_id = (h.get("fields", {}).get("story") or [src.get("story") or h["_id"]])[0]
            story = StoryInfo(id=story_id, size=int(inner.get("total", {}).get("value", 1)),
                              others=[m for m in members if m != h["_id"]]
                              [: request.story_others])
        score = h.get("_score")
        if ranked and score is not None:
            score = score - bonus if bonus and score >= bonus else score
            score = round(float(score), 4)
        else:
            score = None
        hits.append(EngineHit(id=h["_id"], score=score,
                              article=article(src) if request.fields else None, story=story))
    aggs = response.get("aggregations", {})
    approximate = []
    facets = {}
    for f in request.facets:
        agg = aggs.get(f"facet_{f.name}", {})
        top = agg.get("top", {})
        if top.get("doc_count_error_upper_bound", 0) or top.get("sum_other_doc_count", 0) \
                and len(top.get("buckets", [])) < f.size:
            approximate.append(f"facets.{f.name}")
        values = [(b["key"], int(b["doc_count"])) for b in top.get("buckets", [])]
        shown = {v for v, _ in values}
        chosen = {b["key"]: int(b["doc_count"]) for b in agg.get("chosen", {}).get("buckets", [])}
        for value in f.selected:
            if value not in shown:
                values.append((value, chosen.get(value, 0)))
        facets[f.name] = values
    found = aggs.get("days", {}).get("d", {}).get("buckets", [])
    days = DayCounts(
        np.fromiter((dt.date.fromisoformat(b["key_as_string"]).toordinal() for b in found),
                    dtype=np.int64, count=len(found)),
        np.fromiter((b["doc_count"] for b in found), dtype=np.int64, count=len(found)))
    total_stories = int(aggs.get("stories", {}).get("n", {}).get("value", 0))
    if total_stories > CARDINALITY_EXACT:
        approximate.append("total_stories")
    total = int(response["hits"]["total"]["value"])
    return EngineResult(total=total, total_stories=min(total_stories, total), hits=hits,
                        facets=facets, days=days, approximate=tuple(approximate))
