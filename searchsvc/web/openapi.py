"""The OpenAPI 3.1 description of the HTTP API (served at ``/api/openapi.json``)."""

from __future__ import annotations

from searchsvc.core.params import FACETS, INTERVALS, MAX_PER_PAGE, SORTS

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_STRS = {"type": "array", "items": _STR}
_DATE = {"type": ["string", "null"], "format": "date"}


def _param(name: str, schema: dict, description: str, required: bool = False,
           where: str = "query", explode: bool | None = None) -> dict:
    p = {"name": name, "in": where, "required": required, "schema": schema,
         "description": description}
    if explode is not None:
        p["style"], p["explode"] = "form", explode
    return p


def _problem_response(description: str) -> dict:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description,
            "content": {"application/problem+json": {"schema": schema}}}


def _json(ref: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_HIT = {
    "type": "object",
    "required": ["id", "date", "title", "title_html", "score", "snippets", "url", "topics",
                 "places"],
    "properties": {
        "id": _STR, "date": _DATE, "title": _STR, "title_html": _STR,
        "score": {"type": ["number", "null"]}, "snippets": _STRS, "url": _STR,
        "source": _NSTR, "topics": _STRS, "places": _STRS, "people": _STRS, "orgs": _STRS,
        "story": {"type": "object"},
    },
}
_FACET_VALUE = {"type": "object", "required": ["value", "count", "selected"],
                "properties": {"value": _STR, "count": {"type": "integer", "minimum": 0},
                               "selected": {"type": "boolean"}}}
_BUCKET = {"type": "object", "required": ["value", "count", "selected"],
           "properties": {"value": {"type": "string", "format": "date"},
                          "from": {"type": "string", "format": "date"},
                          "to": {"type": "string", "format": "date"},
                          "count": {"type": "integer", "minimum": 0},
                          "selected": {"type": "boolean"}}}

SCHEMAS = {
    "Problem": {
        "type": "object", "required": ["type", "title", "status", "code", "detail"],
        "properties": {"type": _STR, "title": _STR, "status": {"type": "integer"}, "code": _STR,
                       "detail": _STR},
    },
    "Hit": _HIT,
    "SearchResponse": {
        "type": "object",
        "required": ["query", "total", "took_ms", "hits", "facets", "did_you_mean"],
        "properties": {
            "query": {"type": "object"},
            "total": {"type": "integer", "minimum": 0},
            "took_ms": {"type": "number"},
            "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
            "facets": {
                "type": "object", "required": ["date", *FACETS],
                "properties": {
                    "date": {"type": "object", "required": ["interval", "buckets"],
                             "properties": {"interval": {"enum": list(INTERVALS[1:])},
                                            "buckets": {"type": "array", "items": _BUCKET}}},
                    **{f: {"type": "array", "items": _FACET_VALUE} for f in FACETS},
                },
            },
            "did_you_mean": {"oneOf": [
                {"type": "null"},
                {"type": "object", "required": ["q", "html"],
                 "properties": {"q": _STR, "html": _STR, "total": {"type": "integer"}}}]},
        },
    },
    "Article": {
        "type": "object",
        "required": ["id", "date", "title", "body", "url", "source", "topics", "places",
                     "people", "orgs"],
        "properties": {"id": _STR, "date": _DATE, "title": _STR, "body": _STR, "url": _STR,
                       "source": _NSTR, "topics": _STRS, "places": _STRS, "people": _STRS,
                       "orgs": _STRS},
    },
    "Related": {"type": "object", "required": ["id", "related"],
                "properties": {"id": _STR, "related": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Hit"}}}},
    "Suggestions": {"type": "object", "required": ["q", "suggestions"],
                    "properties": {"q": _STR, "suggestions": _STRS}},
    "Stats": {"type": "object", "required": ["documents", "date_range", "index", "facets"],
              "properties": {"documents": {"type": "integer"},
                             "date_range": {"type": "object",
                                            "properties": {"min": _DATE, "max": _DATE}},
                             "index": {"type": "object"}, "facets": {"type": "object"}}},
    "Health": {"type": "object", "required": ["status", "documents"],
               "properties": {"status": {"const": "ok"}, "documents": {"type": "integer"}}},
    "Accepted": {"type": "object", "required": ["status"], "properties": {"status": _STR}},
}

_BAD = _problem_response("Invalid parameter (problem+json)")
_NOT_FOUND = _problem_response("No such article (problem+json)")
_UNAVAILABLE = _problem_response("No index can be opened (problem+json)")


def openapi_document() -> dict:
    search_params = [
        _param("q", _STR, "Query in Whoosh syntax; invalid syntax is searched as plain words."),
        _param("from", _STR, "Inclusive lower date bound (any date python-dateutil reads)."),
        _param("to", _STR, "Inclusive upper date bound."),
        _param("sort", {"enum": list(SORTS)}, "relevance (default with q), newest, oldest."),
        _param("page", {"type": "integer", "minimum": 1}, "1-based page."),
        _param("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
               "Hits per page (page × per_page ≤ 10,000)."),
        *[_param(f, {"type": "array", "items": _STR}, f"Filter on {f} (repeatable, OR-ed).",
                 explode=True) for f in FACETS],
        _param("interval", {"enum": list(INTERVALS)}, "Date histogram interval."),
        _param("collapse", {"type": "boolean"}, "Collapse articles of the same story."),
        _param("recency", {"type": "string", "pattern": "^[0-9]{1,5}[dwmy]$"},
               "Half-life blending recency into relevance, e.g. 30d (0d: off)."),
        _param("facet_size", {"type": "integer", "minimum": 1, "maximum": 1000},
               "Values returned per facet (default 20; selected values always included)."),
    ]
    limit = _param("limit", {"type": "integer", "minimum": 1, "maximum": 50}, "Maximum results.")
    article_id = _param("id", _STR, "Article id.", required=True, where="path")
    return {
        "openapi": "3.1.0",
        "info": {"title": "searchsvc", "version": "1.0.0",
                 "description": "Full-text search over news archives."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Ranked, faceted search with highlighted snippets",
                "operationId": "search", "parameters": search_params,
                "responses": {"200": _json("SearchResponse", "Search results"), "400": _BAD,
                              "503": _UNAVAILABLE}}},
            "/api/articles/{id}": {"get": {
                "summary": "One article", "operationId": "getArticle",
                "parameters": [article_id],
                "responses": {"200": _json("Article", "The article"), "404": _NOT_FOUND,
                              "503": _UNAVAILABLE}}},
            "/api/articles/{id}/related": {"get": {
                "summary": "Other articles about the same story, most similar first",
                "operationId": "related", "parameters": [article_id, limit],
                "responses": {"200": _json("Related", "Related articles"), "400": _BAD,
                              "404": _NOT_FOUND, "503": _UNAVAILABLE}}},
            "/api/suggest": {"get": {
                "summary": "Search-box completions", "operationId": "suggest",
                "parameters": [_param("q", _STR, "What has been typed so far."),
                               _param("limit", {"type": "integer", "minimum": 1,
                                                "maximum": 50}, "Maximum suggestions.")],
                "responses": {"200": _json("Suggestions", "Completions"), "400": _BAD,
                              "503": _UNAVAILABLE}}},
            "/api/stats": {"get": {
                "summary": "Index statistics", "operationId": "stats",
                "responses": {"200": _json("Stats", "Statistics"), "503": _UNAVAILABLE}}},
            "/api/health": {"get": {
                "summary": "Liveness and index availability", "operationId": "health",
                "responses": {"200": _json("Health", "Serving"), "503": _UNAVAILABLE}}},
            "/api/reindex": {"post": {
                "summary": "Rebuild from the configured source in the background",
                "operationId": "reindex", "security": [{"bearer": []}],
                "responses": {
                    "202": _json("Accepted", "Build started"),
                    "401": _problem_response("No token"),
                    "403": _problem_response("Wrong token"),
                    "404": _problem_response("No admin token configured"),
                    "409": _problem_response("A build is already running")}}},
            "/api/openapi.json": {"get": {
                "summary": "This document", "operationId": "openapi",
                "responses": {"200": {"description": "OpenAPI document",
                                      "content": {"application/json": {}}}}}},
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
