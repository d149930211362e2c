"""The OpenAPI 3.1 description of the HTTP API (served at ``/api/openapi.json``).

Every response object the service builds is described field by field with
``additionalProperties: false``: a test validates real responses of every endpoint against
this document (JSON Schema 2020-12), so a field added to a response and not here — or
described here and missing — fails the suite.
"""

from __future__ import annotations

from searchsvc.core.params import FACETS, INTERVALS, MAX_PER_PAGE, SORTS

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_STRS = {"type": "array", "items": _STR}
_INT = {"type": "integer", "minimum": 0}
_NUM = {"type": "number"}
_DATE = {"type": "string", "format": "date"}
_NDATE = {"type": ["string", "null"], "format": "date"}


def _obj(required: list[str], properties: dict) -> dict:
    """A closed object schema: ``required`` always present, the other properties sometimes,
    nothing else."""
    return {"type": "object", "required": required, "properties": properties,
            "additionalProperties": False}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _param(name: str, schema: dict, description: str, required: bool = False,
           where: str = "query", explode: bool | None = None) -> dict:
    p = {"name": name, "in": where, "required": required, "schema": schema,
         "description": description}
    if explode is not None:
        p["style"], p["explode"] = "form", explode
    return p


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _json(ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(ref)}}}


_STORY = _obj(["id", "size", "others", "total"], {
    "id": _STR, "size": {"type": "integer", "minimum": 1}, "others": _STRS,
    "total": {"type": "integer", "minimum": 1}})
_HIT = _obj(
    ["id", "date", "title", "title_html", "score", "snippets", "url", "source", "topics",
     "places", "people", "orgs", "story"],
    {"id": _STR, "date": _NDATE, "title": _STR, "title_html": _STR,
     "score": {"type": ["number", "null"]}, "snippets": _STRS, "url": _STR, "source": _NSTR,
     "topics": _STRS, "places": _STRS, "people": _STRS, "orgs": _STRS,
     "story": {"oneOf": [{"type": "null"}, _ref("Story")]}})
_FACET_VALUE = _obj(["value", "count", "selected"],
                    {"value": _STR, "count": _INT, "selected": {"type": "boolean"}})
_BUCKET = _obj(["value", "from", "to", "count", "selected"],
               {"value": _DATE, "from": _DATE, "to": _DATE, "count": _INT,
                "selected": {"type": "boolean"}})
_ECHO = _obj(["q", "from", "to", "sort", "page", "per_page", "filters", "interval", "collapse",
              "recency"],
             {"q": _STR, "from": _NDATE, "to": _NDATE, "sort": {"enum": list(SORTS)},
              "page": {"type": "integer", "minimum": 1},
              "per_page": {"type": "integer", "minimum": 1}, "filters": {
                  "type": "object", "additionalProperties": _STRS},
              "interval": {"enum": list(INTERVALS)}, "collapse": {"type": "boolean"},
              "recency": _NSTR})
_RECORD = _obj(["id", "state", "mode", "started", "finished", "sources", "summary", "problems",
                "generation", "error"], {
    "id": _STR, "state": {"enum": ["running", "done", "failed"]}, "mode": _STR,
    "started": _NSTR, "finished": _NSTR, "sources": _STRS,
    "summary": {"type": "object"}, "generation": _NSTR, "error": _NSTR,
    "problems": {"type": "array", "items": _obj(["path", "line", "reason"], {
        "path": _STR, "line": {"type": ["integer", "null"]}, "reason": _STR,
        "skipped": {"type": "boolean"}})}})

SCHEMAS: dict = {
    "Problem": _obj(["type", "title", "status", "code", "detail"], {
        "type": _STR, "title": _STR, "status": {"type": "integer"}, "code": _STR,
        "detail": _STR, "accepted": _STRS, "rejected": {"type": "array"}}),
    "Story": _STORY,
    "Hit": _HIT,
    "SearchResponse": _obj(
        ["query", "total", "total_stories", "took_ms", "hits", "facets", "did_you_mean",
         "interpreted_as"],
        {"query": _ECHO, "total": _INT, "total_stories": _INT, "took_ms": _NUM,
         "hits": {"type": "array", "items": _ref("Hit")},
         "facets": _obj(["date", *FACETS], {
             "date": _obj(["interval", "buckets"], {
                 "interval": {"enum": list(INTERVALS[1:])},
                 "buckets": {"type": "array", "items": _BUCKET}}),
             **{f: {"type": "array", "items": _FACET_VALUE} for f in FACETS}}),
         "did_you_mean": {"oneOf": [{"type": "null"}, _obj(["q", "html", "total"], {
             "q": _STR, "html": _STR, "total": _INT})]},
         "interpreted_as": {"oneOf": [{"type": "null"}, _obj(["query", "plain"], {
             "query": _STR, "plain": _obj(["q", "total"], {"q": _STR, "total": _INT})})]},
         "approximate": {"type": "array", "items": _STR,
                         "description": "parts the engine could not count exactly"}}),
    "Article": _obj(["id", "date", "title", "body", "url", "source", "topics", "places",
                     "people", "orgs", "story"], {
        "id": _STR, "date": _NDATE, "title": _STR, "body": _STR, "url": _STR,
        "source": _NSTR, "topics": _STRS, "places": _STRS, "people": _STRS, "orgs": _STRS,
        "story": _NSTR}),
    "Related": _obj(["id", "related"], {"id": _STR, "related": {"type": "array",
                                                                "items": _ref("Hit")}}),
    "Suggestions": _obj(["q", "suggestions", "items"], {
        "q": _STR, "suggestions": _STRS, "items": {"type": "array", "items": _obj(
            ["text", "kind"], {"text": _STR, "kind": {"enum": ["completion", "article"]},
                               "id": _STR})}}),
    "Stats": _obj(["documents", "date_range", "undated", "index", "facets", "last_build"], {
        "documents": _INT, "undated": _INT,
        "date_range": _obj(["min", "max"], {"min": _NDATE, "max": _NDATE}),
        "index": _obj(["engine", "generation", "size_bytes", "segments", "built_at",
                       "build_seconds", "sources", "vocabulary", "build"], {
            "engine": {"enum": ["whoosh", "opensearch"]}, "generation": _STR,
            "size_bytes": _INT, "segments": _INT, "built_at": _NSTR,
            "build_seconds": {"type": ["number", "null"]}, "sources": _STRS,
            "vocabulary": _INT, "build": {"type": ["object", "null"]}}),
        "facets": {"type": "object", "additionalProperties": {"type": "array", "items": _obj(
            ["value", "count"], {"value": _STR, "count": _INT})}},
        "last_build": {"oneOf": [{"type": "null"}, _RECORD]}}),
    "Health": _obj(["status", "documents", "generation", "engine"], {
        "status": {"const": "ok"}, "documents": _INT, "generation": _STR,
        "engine": {"enum": ["whoosh", "opensearch"]}}),
    "Accepted": _obj(["status", "build", "sources"], {
        "status": {"const": "accepted"}, "build": _STR, "sources": _STRS}),
    "Build": _RECORD,
    "Ingested": _obj(["accepted", "rejected", "generation"], {
        "accepted": _STRS, "generation": _NSTR,
        "rejected": {"type": "array", "items": _obj(["line", "id", "code", "detail"], {
            "line": {"type": "integer"}, "id": _NSTR, "code": _STR, "detail": _STR})}}),
    "Timeline": _obj(["interval", "query", "series", "all"], {
        "interval": {"enum": list(INTERVALS[1:])}, "query": _ECHO,
        "series": {"type": "array", "items": _obj(["q", "label", "buckets"], {
            "q": _STR, "label": _STR, "buckets": {"type": "array", "items": _obj(
                ["value", "from", "to", "count", "share"], {
                    "value": _DATE, "from": _DATE, "to": _DATE, "count": _INT,
                    "share": {"type": "number", "minimum": 0, "maximum": 1}})}})},
        "all": {"type": "array", "items": _obj(["value", "from", "to", "count"], {
            "value": _DATE, "from": _DATE, "to": _DATE, "count": _INT})}}),
    "Terms": _obj(["query", "sample", "documents", "terms"], {
        "query": _ECHO, "sample": _INT, "documents": _INT,
        "terms": {"type": "array", "items": _obj(["term", "stem", "score", "count",
                                                  "background"], {
            "term": _STR, "stem": _STR, "score": _NUM, "count": _INT, "background": _INT})}}),
}

_BAD = _problem("Invalid parameter (problem+json)")
_NOT_FOUND = _problem("Not found (problem+json)")
_UNAVAILABLE = _problem("No index can be opened, or the cluster is unreachable")
_ADMIN = {"401": _problem("No admin token"), "403": _problem("Wrong admin token"),
          "404": _problem("No admin token configured: the endpoint is off")}


def openapi_document() -> dict:
    search_params = [
        _param("q", _STR, "Query text (README, 'Query syntax'); text that is not valid "
                          "syntax is searched as plain words."),
        _param("from", _STR, "Inclusive lower date bound: a day, or a month or year "
                             "(its first day)."),
        _param("to", _STR, "Inclusive upper date bound: a day, or a month or year "
                           "(its last day)."),
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
    text = {"text/csv": {"schema": _STR}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "searchsvc", "version": "2.0.0",
                 "description": "Full-text search over news archives."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Ranked, faceted search with highlighted snippets",
                "operationId": "search", "parameters": search_params,
                "responses": {"200": _json("SearchResponse", "Search results"), "400": _BAD,
                              "503": _UNAVAILABLE}}},
            "/api/articles": {"post": {
                "summary": "Add articles (one JSON article, or NDJSON lines); returns once "
                           "the accepted ones are searchable",
                "operationId": "ingest", "security": [{"bearer": []}],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}},
                                            "application/x-ndjson": {"schema": _STR}}},
                "responses": {"200": _json("Ingested", "Every article accepted"),
                              "207": _json("Ingested", "Some lines rejected"),
                              "400": _problem("Nothing accepted"),
                              "413": _problem("Body over the size limit"),
                              "503": _UNAVAILABLE, **_ADMIN}}},
            "/api/articles/{id}": {
                "get": {"summary": "One article", "operationId": "getArticle",
                        "parameters": [article_id],
                        "responses": {"200": _json("Article", "The article"),
                                      "404": _NOT_FOUND, "503": _UNAVAILABLE}},
                "delete": {"summary": "Remove an article that was added over HTTP",
                           "operationId": "deleteArticle", "parameters": [article_id],
                           "security": [{"bearer": []}],
                           "responses": {"204": {"description": "Removed, searchable no more"},
                                         "409": _problem("The article comes from a source "
                                                         "file"),
                                         **_ADMIN}}},
            "/api/articles/{id}/related": {"get": {
                "summary": "Other versions of its story, then similar articles",
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
            "/api/timeline": {"get": {
                "summary": "Coverage over time of up to five queries (count and share)",
                "operationId": "timeline",
                "parameters": [_param("q", {"type": "array", "items": _STR, "maxItems": 5},
                                      "A query, optionally label:query (repeatable).",
                                      explode=True, required=True),
                               *search_params[1:3], *search_params[6:12],
                               _param("format", {"enum": ["json", "csv"]}, "csv: a table")],
                "responses": {"200": {"description": "The series",
                                      "content": {"application/json": {
                                          "schema": _ref("Timeline")}, **text}},
                              "400": _BAD, "503": _UNAVAILABLE}}},
            "/api/export": {"get": {
                "summary": "Every match, streamed (no result window)",
                "description": "Every search parameter but page and per_page, which are "
                               "ignored: an export is every match, never one page of them, "
                               "and is not held to the 10,000-hit result window.",
                "operationId": "export",
                "parameters": [*search_params[:4], *search_params[6:],
                               _param("page", {}, "Ignored: an export streams every match."),
                               _param("per_page", {}, "Ignored: an export streams every "
                                                      "match."),
                               _param("format", {"enum": ["ndjson", "csv"]}, "Default ndjson."),
                               _param("fields", _STR, "Columns, comma-separated; +body or all "
                                                      "to add the body.")],
                "responses": {"200": {"description": "The articles; X-Index-Generation names "
                                                     "the generation",
                                      "content": {"application/x-ndjson": {"schema": _STR},
                                                  **text}},
                              "400": _BAD, "503": _UNAVAILABLE}}},
            "/api/feed.atom": {"get": {
                "summary": "The newest 50 matches as an Atom 1.0 feed",
                "operationId": "feed", "parameters": search_params,
                "responses": {"200": {"description": "Atom feed", "content": {
                    "application/atom+xml": {"schema": _STR}}},
                    "400": _BAD, "503": _UNAVAILABLE}}},
            "/api/terms": {"get": {
                "summary": "The words that set the result set apart (JLH)",
                "operationId": "terms",
                "parameters": [*search_params,
                               _param("size", {"type": "integer", "minimum": 1,
                                               "maximum": 100}, "Terms (default 20).")],
                "responses": {"200": _json("Terms", "Distinctive terms"), "400": _BAD,
                              "503": _UNAVAILABLE}}},
            "/api/stats": {"get": {
                "summary": "Index statistics and the last build", "operationId": "stats",
                "responses": {"200": _json("Stats", "Statistics"), "503": _UNAVAILABLE}}},
            "/api/health": {"get": {
                "summary": "Liveness and index availability", "operationId": "health",
                "responses": {"200": _json("Health", "Serving"), "503": _UNAVAILABLE}}},
            "/api/reindex": {"post": {
                "summary": "Rebuild from the configured source in the background",
                "operationId": "reindex", "security": [{"bearer": []}],
                "responses": {"202": _json("Accepted", "Build started; Location names it"),
                              "409": _problem("A build is already running"), **_ADMIN}}},
            "/api/builds/last": {"get": {
                "summary": "The newest build's record", "operationId": "lastBuild",
                "responses": {"200": _json("Build", "Its state, summary and problems"),
                              "404": _NOT_FOUND}}},
            "/api/builds/{build}": {"get": {
                "summary": "One build's record", "operationId": "build",
                "parameters": [_param("build", _STR, "Build id.", required=True, where="path")],
                "responses": {"200": _json("Build", "Its state, summary and problems"),
                              "404": _NOT_FOUND}}},
            "/api/openapi.json": {"get": {
                "summary": "This document", "operationId": "openapi",
                "responses": {"200": {"description": "OpenAPI document",
                                      "content": {"application/json": {}}}}}},
            "/metrics": {"get": {
                "summary": "Prometheus metrics (text format)", "operationId": "metrics",
                "responses": {"200": {"description": "Metrics", "content": {
                    "text/plain": {"schema": _STR}}},
                    "401": _problem("A metrics token is configured and none was given"),
                    "403": _problem("Wrong metrics token")}}},
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
