"""The OpenSearch index: settings, mapping, and how an article becomes a document.

Text is analysed once, by ``searchsvc.analysis``, for both engines: an article's title and
body are sent as their index terms joined by spaces (``title_terms``, ``body_terms``) and
OpenSearch only splits them on whitespace, so stemming, folding, acronyms and stop words are
exactly the embedded engine's. The title and body are also sent as one combined field (the
title ``TITLE_WEIGHT`` times, then the body), which is what a clause without a field is scored
on — the shared ranking of bench/RANKING.md. The original text is kept in ``_source`` (for
snippets and pages); the term fields are not (a document is always written whole, never
partially updated, so nothing needs them there). Scoring is Lucene's BM25 with the shared
parameters (``engine.BM25_K1``/``BM25_B``) on both term fields.

The ``<alias>-meta`` index holds what is not a document: each generation's build record,
source manifest, spelling vocabulary and headline phrases, as JSON in chunks that are stored
but not indexed.
"""

from __future__ import annotations

from searchsvc.engine import BM25_B, BM25_K1, FACETS, TITLE_WEIGHT, IndexedArticle

# The article's text as one field (title TITLE_WEIGHT times, then the body), what a clause
# without a field is matched and scored on; and each field alone, for title: and body:.
TEXT_FIELD = "text_terms"
TERM_FIELDS = {"title": "title_terms", "body": "body_terms"}
KEYWORD_FIELDS = (*FACETS, "id", "story")


def settings(shards: int, replicas: int) -> dict:
    return {
        "index": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "max_result_window": 10_000,
            "similarity": {"searchsvc": {"type": "BM25", "k1": BM25_K1, "b": BM25_B}},
            "analysis": {"analyzer": {"terms": {"type": "custom", "tokenizer": "whitespace"}}},
        },
    }


def mappings() -> dict:
    text_terms = {"type": "text", "analyzer": "terms", "similarity": "searchsvc",
                  "index_options": "positions"}
    stored_text = {"type": "text", "index": False}
    keyword = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "_source": {"excludes": [TEXT_FIELD, *TERM_FIELDS.values()]},
        "properties": {
            "id": keyword,
            "title": stored_text,
            "body": stored_text,
            "title_terms": text_terms,
            "body_terms": text_terms,
            # An array: positions jump by 100 between its values, so no phrase crosses from
            # one copy of the title to the next.
            TEXT_FIELD: {**text_terms, "position_increment_gap": 100},
            "date": {"type": "date", "format": "strict_date"},
            "url": {"type": "keyword", "index": False, "doc_values": False},
            **{name: keyword for name in FACETS},
            "story": keyword,
            "hash": {"type": "keyword", "index": False, "doc_values": False},
            "origin": {"type": "keyword", "index": False, "doc_values": False},
        },
    }


META_MAPPINGS = {"dynamic": False, "properties": {"kind": {"type": "keyword"},
                                                   "index": {"type": "keyword"}}}


def term_text(terms: list[str]) -> str:
    """A text field's index terms as one string, one space between tokens."""
    return " ".join(t for t in terms if t)


def document(article: IndexedArticle) -> dict:
    title = term_text(article.analysis.get("title", []))
    body = term_text(article.analysis.get("body", []))
    doc = {
        "id": article.id,
        "title": article.title,
        "body": article.body,
        "title_terms": title,
        "body_terms": body,
        TEXT_FIELD: [title] * TITLE_WEIGHT + [body],
        "date": article.date.isoformat() if article.date else None,
        "url": article.url,
        "story": article.story,
        "hash": article.content_hash,
        "origin": article.origin,
    }
    for name in FACETS:
        doc[name] = list(article.facets.get(name, []))
    return doc
