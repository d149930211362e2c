"""Single articles, their related coverage, and the index's own description (stats).

Related coverage is the other versions of the article's story (every one, newest first), then
articles that are merely similar: found with a more-like-this query made here — the article's
:data:`MLT_TERMS` most distinctive content terms (tf × idf) OR-ed — so both engines find the
same similar articles.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from searchsvc import analysis
from searchsvc.core.search import Hit, article_url, make_hit, story_dict
from searchsvc.engine import (
    FACETS,
    Bool,
    EngineRequest,
    FacetRequest,
    Snapshot,
    StoredArticle,
    Term,
    Value,
)
from searchsvc.errors import NotFound

MLT_TERMS = 25
MAX_VERSIONS = 500


@dataclass
class Article:
    id: str
    date: str | None
    title: str
    body: str
    url: str
    source: str | None
    topics: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    story: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _stored(snapshot: Snapshot, article_id: str) -> StoredArticle:
    found = snapshot.documents([article_id])[0]
    if found is None:
        raise NotFound(f"no article with id {article_id!r}")
    return found


def get_article(snapshot: Snapshot, article_id: str) -> Article:
    a = _stored(snapshot, article_id)
    return Article(id=a.id, date=a.date.isoformat() if a.date else None, title=a.title,
                   body=a.body, url=a.url or article_url(a.id), source=a.source,
                   topics=a.topics, places=a.places, people=a.people, orgs=a.orgs,
                   story=a.story)


def _hits(snapshot: Snapshot, request: EngineRequest, skip: set[str]) -> list[Hit]:
    out = []
    for h in snapshot.search(request).hits:
        if h.article is None or h.id in skip:
            continue
        hit = make_hit(h.article, h.score, None)
        hit.story = story_dict(h.story)
        out.append(hit)
    return out


def versions(snapshot: Snapshot, article_id: str, limit: int = MAX_VERSIONS) -> list[Hit]:
    """The other articles of the article's story, newest first (all of them, up to
    ``limit``): what "N more versions" counts."""
    a = _stored(snapshot, article_id)
    story = a.story or a.id
    return _hits(snapshot, EngineRequest(query=None, filters={"story": Value("story", story)},
                                         sort="newest", limit=limit + 1, collapse=False),
                 {article_id})[:limit]


def similar(snapshot: Snapshot, article_id: str, limit: int, skip: set[str]) -> list[Hit]:
    a = _stored(snapshot, article_id)
    counts = analysis.content_counts(analysis.terms(f"{a.title}\n{a.body}"))
    if not counts:
        return []
    df = snapshot.doc_freq(list(counts))
    n = max(snapshot.info().documents, 1)
    weights = {t: c * math.log(1 + n / (df[t] + 1)) for t, c in counts.items()
               if df.get(t, 0) >= 2}
    best = sorted(weights, key=lambda t: (-weights[t], t))[:MLT_TERMS]
    if not best:
        return []
    query = Bool(should=tuple(Term(t) for t in best), min_should=1)
    return _hits(snapshot, EngineRequest(query=query, limit=limit + len(skip) + 1,
                                         collapse=False), skip | {article_id})[:limit]


def related(snapshot: Snapshot, article_id: str, limit: int = 5) -> list[Hit]:
    """Other versions of the article's story first (newest first), then similar articles."""
    chosen = versions(snapshot, article_id, limit)
    if len(chosen) < limit:
        chosen += similar(snapshot, article_id, limit - len(chosen),
                          {h.id for h in chosen})
    return chosen


def stats(snapshot: Snapshot, facet_size: int = 50) -> dict:
    info = snapshot.info()
    result = snapshot.search(EngineRequest(
        query=None, limit=0, collapse=False, fields=False,
        facets=tuple(FacetRequest(name, facet_size) for name in FACETS)))
    record = info.record
    return {
        "documents": info.documents,
        "date_range": {"min": info.date_min.isoformat() if info.date_min else None,
                       "max": info.date_max.isoformat() if info.date_max else None},
        "undated": info.undated,
        "index": {
            "engine": info.engine,
            "generation": info.generation,
            "size_bytes": info.size_bytes,
            "segments": info.segments,
            "built_at": record.get("built_at"),
            "build_seconds": record.get("seconds"),
            "sources": record.get("sources", []),
            "vocabulary": len(snapshot.vocabulary()),
            "build": record.get("summary"),
        },
        "facets": {name: [{"value": v, "count": c} for v, c in result.facets.get(name, [])]
                   for name in FACETS},
    }
