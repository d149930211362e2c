"""Exports: every article a search matches, as CSV or NDJSON, streamed in a stable order.

``GET /api/export`` takes every search parameter and ``format=csv|ndjson``; it is not held to
the 10,000-hit result window (``page`` and ``per_page`` are ignored: an export is every
match, not a page of them), and its memory does not grow with the result set: the engine
hands out matches in batches (``Snapshot.scan``). The order is the search's (relevance, or
newest/oldest), ties broken by date then document, so the same search on the same generation
gives the same file; the generation is named in the ``X-Index-Generation`` header so a result
set can be cited and reproduced. Columns: id, date, title, url, source, topics, places, people,
orgs, story — and body when ``fields`` names it (``fields=id,title,body``, ``fields=+body``
for every default column and the body, ``fields=all``; default: all but body). In CSV, a
facet's values are joined with ``; ``.

A CSV is opened in a spreadsheet, and a spreadsheet runs a cell that starts with ``=``, ``+``,
``-`` or ``@`` (or a tab or carriage return before one) as a formula: an article titled
``=HYPERLINK("http://…")`` would become a live link, or worse. So, like Kibana's CSV export and
OWASP's advice, such a text cell is written with a leading ``'`` (:func:`cell`), which
spreadsheets show as text; a plain number (``-3.5``) cannot be a formula and is left alone.
NDJSON carries every value exactly as indexed, for tools that need the raw text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

from searchsvc.core import querytext
from searchsvc.core.params import SearchQuery
from searchsvc.core.search import article_url, filters_of
from searchsvc.engine import EngineRequest, Snapshot
from searchsvc.errors import InvalidParameter

COLUMNS = ("id", "date", "title", "url", "source", "topics", "places", "people", "orgs",
           "story", "body")
DEFAULT = tuple(c for c in COLUMNS if c != "body")
FORMATS = ("csv", "ndjson")
LISTS = ("topics", "places", "people", "orgs")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def cell(value: object) -> object:
    """``value`` as a CSV cell a spreadsheet will show, not run (see the module docstring)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) \
            and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def columns_of(raw: str | None) -> tuple[str, ...]:
    """``fields``: the columns in order (``id,title,body``); ``all``, or a list starting with
    ``+`` (``+body``), is every default column and then those."""
    if not raw or not raw.strip():
        return DEFAULT
    text = raw.strip()
    if text == "all":
        return COLUMNS
    # "+body" arrives as " body" when the + was not percent-encoded in the URL.
    extra = raw.startswith(("+", " "))
    wanted = [c.strip() for c in text.lstrip("+").split(",") if c.strip()]
    unknown = [c for c in wanted if c not in COLUMNS]
    if unknown:
        raise InvalidParameter(f"fields: unknown {', '.join(unknown)}; choose from "
                               f"{', '.join(COLUMNS)}")
    return tuple(dict.fromkeys([*DEFAULT, *wanted] if extra else wanted))


def rows(snapshot: Snapshot, sq: SearchQuery, columns: tuple[str, ...]) -> Iterator[dict]:
    parsed = querytext.parse(sq.q)
    sort = "newest" if parsed.match_all and sq.sort == "relevance" else sq.sort
    request = EngineRequest(query=parsed.match, first=parsed.first, filters=filters_of(sq),
                            sort=sort, recency_days=sq.recency_days,  # type: ignore[arg-type]
                            collapse=False, rescore=parsed.proximity)
    for hit in snapshot.scan(request):
        a = hit.article
        if a is None:
            continue
        record = {"id": a.id, "date": a.date.isoformat() if a.date else None, "title": a.title,
                  "url": a.url or article_url(a.id), "source": a.source, "topics": a.topics,
                  "places": a.places, "people": a.people, "orgs": a.orgs,
                  "story": hit.story.id, "body": a.body}
        yield {c: record[c] for c in columns}


def ndjson(records: Iterator[dict]) -> Iterator[str]:
    for r in records:
        yield json.dumps(r, ensure_ascii=False) + "\n"


def csv_lines(records: Iterator[dict], columns: tuple[str, ...]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    yield buffer.getvalue()
    for r in records:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell("; ".join(r[c]) if c in LISTS else ("" if r[c] is None else r[c]))
                         for c in columns])
        yield buffer.getvalue()
