"""The Whoosh schema: the only place the embedded engine's fields are declared.

Fields
  ``id``       unique article id (also a column, so docnum → id needs no stored-field reads)
  ``title``    full text with positions, stored (snippets, pages)
  ``body``     full text with positions, stored
  ``date``     DATETIME, so Whoosh's own ``date:[… TO …]`` queries work on the segments
  ``url``      stored only
  ``topics`` … ``source``  exact-value facet fields
The per-document columns that filters, facets, collapse and BM25 run on (date, exact field
lengths, facet values, story, content hash, origin) are not Whoosh fields: they are written
beside each segment as an array pack (``segments.ColumnsWriter``, ``packs``) and mapped into
memory when a generation is opened.

The text fields' analyzer is ``searchsvc.analysis`` wrapped for Whoosh, so a Whoosh searcher
opened on these segments tokenises queries as the index was written. The writer does not call
it: the shared ingest analysed each article once and hands over term → positions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from whoosh import analysis as wa
from whoosh import fields
from whoosh.analysis.acore import Token

from searchsvc import analysis
from searchsvc.engine import FACETS, TEXT_FIELDS, IndexedArticle

__all__ = ["FACETS", "TEXT_FIELDS", "build_schema", "document"]


class SharedAnalyzer(wa.Analyzer):
    """``searchsvc.analysis`` as a Whoosh analyzer (tokens, folding, stemming, stop words
    kept)."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, tok in enumerate(analysis.tokens(value)):
            t.original = tok.text
            t.text = tok.term
            t.stopped = False
            t.boost = 1.0
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + tok.start
                t.endchar = start_char + tok.end
            yield t

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SharedAnalyzer)

    def __hash__(self) -> int:
        return hash(SharedAnalyzer)


def _text_field() -> fields.TEXT:
    return fields.TEXT(analyzer=SharedAnalyzer(), stored=True)


def _facet_field() -> fields.KEYWORD:
    # Values are indexed as given (a list), so ``places:"united states"`` matches exactly.
    return fields.KEYWORD(stored=False, analyzer=wa.IDTokenizer())


def build_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=_text_field(),
        body=_text_field(),
        date=fields.DATETIME(stored=False),
        url=fields.STORED(),
        topics=_facet_field(),
        places=_facet_field(),
        people=_facet_field(),
        orgs=_facet_field(),
        source=_facet_field(),
    )


def document(article: IndexedArticle) -> dict:
    """The Whoosh document for one article (text fields as text; the writer takes their
    postings from ``article.analysis``)."""
    doc: dict = {"id": article.id, "title": article.title, "body": article.body}
    for name in FACETS:
        doc[name] = list(article.facets.get(name, []))
    if article.url:
        doc["url"] = article.url
    if article.date:
        doc["date"] = dt.datetime.combine(article.date, dt.time())
    return doc
