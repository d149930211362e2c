"""The Whoosh schema and the text analysis: the only place index fields are declared.

Fields
  ``id``       unique article id (also a column, so docnum → id needs no stored-field reads)
  ``title``    stemmed full text with positions (boosted at query time, see ``search``)
  ``body``     stemmed full text with positions; stored, for snippets and the article page
  ``date``     DATETIME, so ``date:[2020-01-01 TO 2020-01-31]`` works in query syntax
  ``topics`` … ``source``  exact-value facet fields, filterable in query syntax (``topics:crude``)
  ``meta``     one compact per-document column (date, content hash, facet values): read once
               when a searcher opens, it becomes the numpy columns that filters, facet counts,
               the date histogram and date sorting run on.

The spelling source (distinct *unstemmed* words with their document frequencies, so
did-you-mean and suggestions never offer a stem such as "protest" for "protesters") is not a
Whoosh field: per-document postings of every word doubled the build time for a list that only
needs one count per word. The indexer writes it beside the segments (see ``indexer``).

Analysis is a single-pass analyzer rather than Whoosh's generator chain (tokenizer → lowercase →
stop → stem): it makes the same tokens, with an unbounded C-level stem cache instead of Whoosh's
pure-Python LFU cache, and the position format asks it for a word → positions map directly. That
is where most of the build time went.
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from collections.abc import Iterator

from whoosh import analysis, fields, formats
from whoosh.analysis.acore import Token
from whoosh.lang.porter import stem as porter_stem

from searchsvc.articles import Article
from searchsvc.places import places_for

TOKEN_PATTERN = re.compile(r"\w+(?:\.?\w+)*")
STOP_WORDS = analysis.STOP_WORDS
FACET_FIELDS = ("topics", "places", "people", "orgs", "source")
TEXT_FIELDS = ("title", "body")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return porter_stem(word)


def is_stop(word: str) -> bool:
    return len(word) < 2 or word in STOP_WORDS


def _kept_words(text: str) -> list[str]:
    """The lower-cased words of ``text`` without stop words and one-letter words."""
    return [w for w in TOKEN_PATTERN.findall(text.lower()) if w not in STOP_WORDS and len(w) > 1]


def index_terms(text: str) -> dict[str, list[int]]:
    """term → positions of the stemmed, stop-filtered words of ``text`` (the index-time path).
    Positions count the kept words, as Whoosh's StopFilter renumbers them."""
    poses: dict[str, list[int]] = defaultdict(list)
    for pos, term in enumerate(map(stem, _kept_words(text))):
        poses[term].append(pos)
    return poses


def analyze(text: str) -> tuple[dict[str, list[int]], set[str]]:
    """One pass over ``text``: stemmed term → positions (what the index holds) and the distinct
    unstemmed words (what the spelling vocabulary holds)."""
    kept = _kept_words(text)
    poses: dict[str, list[int]] = defaultdict(list)
    for pos, term in enumerate(map(stem, kept)):
        poses[term].append(pos)
    return poses, {w for w in set(kept) if w.isalpha()}


def words(text: str) -> set[str]:
    """Distinct unstemmed, lower-cased, non-stop words: what the spelling vocabulary holds."""
    found = set(TOKEN_PATTERN.findall(text.lower())) - STOP_WORDS
    return {w for w in found if len(w) > 1 and w.isalpha()}


class NewsAnalyzer(analysis.Analyzer):
    """Whoosh's StemmingAnalyzer (same pattern, stop list, minimum size and Porter stemmer) in one
    pass. ``no_morph=True`` (Whoosh's spelling mode) skips stemming."""

    is_morph = True

    def has_morph(self) -> bool:
        return True

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 no_morph: bool = False, **kwargs) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            matches = [(value, 0, len(value))]
        else:
            matches = ((m.group(0), m.start(), m.end()) for m in TOKEN_PATTERN.finditer(value))
        pos = -1
        for text, start, end in matches:
            word = text.lower()
            stopped = is_stop(word)
            if stopped and removestops:
                continue
            # Positions count kept words only (Whoosh's StopFilter renumbers the same way),
            # so "bank of america" is the phrase bank·america.
            pos += 1
            t.original = text
            t.text = word if no_morph else stem(word)
            t.stopped = stopped
            t.boost = 1.0
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + start
                t.endchar = start_char + end
            yield t

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NewsAnalyzer)

    def __hash__(self) -> int:
        return hash(NewsAnalyzer)


class FastPositions(formats.Positions):
    """Positions format that asks :func:`index_terms` for the whole word → positions map instead
    of pulling Token objects through a generator chain."""

    def word_values(self, value, analyzer, **kwargs):
        if not isinstance(analyzer, NewsAnalyzer) or not isinstance(value, str):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        fb = self.field_boost
        for w, poslist in index_terms(value).items():
            yield (w, len(poslist), len(poslist) * fb, self.encode(poslist))


def _text_field(stored: bool) -> fields.TEXT:
    field = fields.TEXT(analyzer=NewsAnalyzer(), stored=stored)
    field.format = FastPositions()
    return field


def _facet_field() -> fields.KEYWORD:
    # Values are indexed as given (a list), and a query value is one whole token, so
    # ``places:"united states"`` and ``topics:crude`` both match exactly.
    return fields.KEYWORD(stored=False, analyzer=analysis.IDTokenizer())


def build_schema() -> fields.Schema:
    return fields.Schema(
        id=fields.ID(stored=True, unique=True, sortable=True),
        title=_text_field(stored=True),
        body=_text_field(stored=True),
        date=fields.DATETIME(stored=False),
        url=fields.STORED(),
        topics=_facet_field(),
        places=_facet_field(),
        people=_facet_field(),
        orgs=_facet_field(),
        source=_facet_field(),
        meta=fields.COLUMN(),
    )


def facet_values(article: Article) -> dict[str, list[str]]:
    """The facet values indexed for an article (places found in the text when it came
    without places metadata)."""
    places = article.places
    if not places and article.derive_places:
        places = places_for(article.title, article.body)
    return {"topics": list(article.topics), "places": list(places),
            "people": list(article.people), "orgs": list(article.orgs),
            "source": [article.source] if article.source else []}


def encode_meta(article: Article, facets: dict[str, list[str]]) -> bytes:
    return json.dumps({
        "d": article.date.toordinal() if article.date else None,
        "h": article.content_hash,
        "f": [facets[f] for f in FACET_FIELDS],
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_meta(raw: bytes) -> dict:
    return json.loads(raw)


def document(article: Article) -> dict:
    """The Whoosh document for one article."""
    import datetime as dt

    facets = facet_values(article)
    doc = {"id": article.id, "title": article.title, "body": article.body, **facets,
           "meta": encode_meta(article, facets)}
    if article.url:
        doc["url"] = article.url
    if article.date:
        doc["date"] = dt.datetime.combine(article.date, dt.time())
    return doc
