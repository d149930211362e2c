"""Articles and the readers that turn article files into them.

Two input formats (see the contract, section 1):

* seed text files (``*.txt``): optional leading whitespace, the word ``date``, a date that
  python-dateutil reads, then the article text;
* JSON Lines (``*.jsonl``, ``*.jsonl.gz``): one object per line with ``id`` and ``body`` and
  optional metadata.

Readers never raise on bad input. They yield :class:`Article` for everything usable and
:class:`Problem` for everything else (with path, line for JSONL, and reason); a problem is either
``skipped`` (nothing was indexed from it) or a warning (the article was still indexed). The caller
decides what to do with problems (report them, or fail under ``--strict``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import itertools
import json
import re
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from searchsvc.dates import DateError, parse_date

FACETS = ("topics", "places", "people", "orgs")
MAX_TITLE = 200
COUNT_BYTES = 8 * 2**20  # read at a time when counting lines
SHORT_TITLE = 120


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    date: dt.date | None = None
    url: str | None = None
    source: str | None = None
    topics: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    path: str = field(default="", compare=False)
    # No places metadata came with the article: the indexer finds them in the text.
    derive_places: bool = field(default=False, compare=False)

    @property
    def content_hash(self) -> str:
        """Hash of everything that is indexed, so ``--update`` can tell changed articles."""
        payload = json.dumps(
            [self.id, self.title, self.body, self.date.isoformat() if self.date else None,
             self.url, self.source, self.topics, self.places, self.people, self.orgs],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str
    line: int | None = None
    skipped: bool = True

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


# -- the date header ---------------------------------------------------------------------

# "date 2020-01-24", "Date: 2020-01-24", "DATE:2020-01-24"
_HEADER = re.compile(r"\A\s*date(?:\s*:\s*|\s+)", re.IGNORECASE)
_MAX_DATE_TOKENS = 6


def split_date_header(text: str) -> tuple[dt.date, str]:
    """Split ``date <date> <text>`` into the date and the rest.

    The date may contain spaces (``24 Jan 2020``, ``January 24, 2020``), so the header is the
    *shortest* run of words that is a complete date. Shortest, not longest: in ``2020-01-24 10
    people died`` the ``10`` must not become an hour.
    """
    m = _HEADER.match(text)
    if not m:
        raise DateError("no date header (expected the word 'date' or 'date:' followed by a "
                        "date)")
    rest = text[m.end():]
    words = list(itertools.islice(re.finditer(r"\S+", rest[:400]), _MAX_DATE_TOKENS))
    first_error: DateError | None = None
    for n in range(1, min(len(words), _MAX_DATE_TOKENS) + 1):
        candidate = rest[: words[n - 1].end()]
        try:
            date = parse_date(candidate)
        except DateError as exc:
            first_error = first_error or exc
            continue
        last = words[n - 1].group(0).rstrip(",.")
        if n > 1 and last.isdigit() and _ambiguous_completion(last, rest[: words[n - 2].end()]):
            # "January 2020 3 dead", "Jan 24 3 dead": the number is text, not part of the date.
            raise first_error or DateError(f"incomplete date {candidate!r}")
        return date, rest[words[n - 1].end():]
    if first_error is None:
        raise DateError("no date after the word 'date'")
    raise first_error


def _ambiguous_completion(token: str, before: str) -> bool:
    """A bare number that completes a date is part of it only as a year (4 digits, or 2 digits
    when no year was given yet), never as a day after a year or a one-digit year."""
    if len(token) == 4:
        return False
    has_year = re.search(r"\b\d{4}\b", before) is not None
    return has_year or len(token) == 1


# -- titles ------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"([.!?][\"'”’)]*)\s+(?=[\"'“‘(]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr gen col lt sgt capt cmdr adm rep sen gov pres prof rev inc co corp "
    "ltd bros no nos vs etc jan feb mar apr jun jul aug sep sept oct nov dec approx est dept "
    "fig mt ft".split())


def title_and_body(text: str) -> tuple[str, str]:
    """Derive the title (contract §1) and the body from an article's text.

    A short first line followed by a blank line is a headline: it becomes the title and the body
    is what follows. Otherwise the title is the start of the first sentence and the body is the
    whole text.
    """
    text = text.strip()
    first, sep, rest = text.partition("\n")
    if sep and len(first.strip()) <= MAX_TITLE and re.match(r"[ \t\r]*\n", rest):
        return first.strip(), rest.strip()
    return first_sentence_title(text), text


def first_sentence_title(text: str) -> str:
    flat = " ".join(text.split())
    sentence = flat
    for m in _SENTENCE_END.finditer(flat):
        before = flat[: m.start()].rsplit(" ", 1)[-1].lower()
        # "U.S. troops", "Mr. Sadr": a period after an abbreviation or initial ends no sentence.
        if m.group(1)[0] == "." and (before.strip("(\"'“‘") in _ABBREVIATIONS
                                     or re.fullmatch(r"(?:\W*\w\.)*\W*\w", before)):
            continue
        sentence = flat[: m.end(1)]
        break
    if len(sentence) <= SHORT_TITLE:
        return sentence
    cut = sentence[: SHORT_TITLE + 1]
    space = cut.rfind(" ")
    if space > SHORT_TITLE // 2:
        cut = cut[:space]
    else:
        cut = cut[:SHORT_TITLE]
    return cut.rstrip(" ,;:-") + "…"


# -- decoding ----------------------------------------------------------------------------------


def decode(data: bytes, path: str, line: int | None = None) -> tuple[str | None, list[Problem]]:
    """Decode UTF-8 (BOM tolerated); fall back to cp1252 only when that is lossless."""
    if b"\x00" in data:
        return None, [Problem(path, "binary content (NUL bytes)", line)]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        where = f"invalid UTF-8 at byte {exc.start}"
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("cp1252")
    except UnicodeDecodeError:
        return None, [Problem(path, f"{where}, and not valid cp1252 either", line)]
    return text, [Problem(path, f"{where}; decoded as cp1252", line, skipped=False)]


# -- readers -----------------------------------------------------------------------------------


def read_text_file(path: Path, article_id: str, max_bytes: int) -> Iterator[Article | Problem]:
    spath = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            yield Problem(spath, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
            return
        data = path.read_bytes()
    except OSError as exc:
        yield Problem(spath, f"cannot read: {exc.strerror or exc}")
        return
    text, problems = decode(data, spath)
    yield from problems
    if text is None:
        return
    if not text.strip():
        yield Problem(spath, "empty file")
        return
    try:
        date, rest = split_date_header(text)
    except DateError as exc:
        yield Problem(spath, str(exc))
        return
    if not rest.strip():
        yield Problem(spath, "empty text after the date header")
        return
    title, body = title_and_body(rest)
    yield Article(id=article_id, title=title, body=body, date=date, path=spath,
                  derive_places=True)


def _string_list(value: object, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} must be a list of strings")
    seen: dict[str, None] = {}
    for v in value:
        v = " ".join(v.split())
        if v:
            seen.setdefault(v)
    return tuple(seen)


def _optional_str(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string")
    return value.strip() or None


def article_from_json(obj: object, path: str, line: int) -> Article:
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    raw_id = obj.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("missing or empty 'id'")
    body = obj.get("body")
    if not isinstance(body, str):
        raise ValueError("missing 'body' (must be a string)")
    title = _optional_str(obj, "title")
    if not body.strip() and title is None:
        # A headline-only wire item (common in Reuters) is still an article; nothing at all is not.
        raise ValueError("empty 'body' and no 'title'")
    date = None
    raw_date = obj.get("date")
    if raw_date not in (None, ""):
        if not isinstance(raw_date, str):
            raise ValueError("'date' must be a string")
        date = parse_date(raw_date)
    body = body.strip()
    if title is None:
        title, body = title_and_body(body)
    article = Article(
        id=raw_id.strip(), title=title, body=body, date=date,
        url=_optional_str(obj, "url"), source=_optional_str(obj, "source"),
        topics=_string_list(obj.get("topics"), "topics"),
        places=_string_list(obj.get("places"), "places"),
        people=_string_list(obj.get("people"), "people"),
        orgs=_string_list(obj.get("orgs"), "orgs"),
        path=f"{path}:{line}",
        derive_places="places" not in obj,
    )
    try:  # every text field must be encodable (JSON allows lone surrogates)
        "".join([article.id, article.title, article.body, article.url or "",
                 article.source or "", *article.topics, *article.places, *article.people,
                 *article.orgs]).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains an invalid \\u escape (a lone surrogate)") from None
    return article


def read_jsonl_file(path: Path, max_bytes: int, lines: Container[int] | None = None,
                    span: tuple[int, int] | None = None) -> Iterator[Article | Problem]:
    """Every article of a JSON Lines file (only the given line numbers, when ``lines``; only
    the lines starting in the byte range [start, stop) of an uncompressed file, when
    ``span``: ``start`` must be where a line starts)."""
    spath = str(path)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    start, stop = span if span is not None else (0, None)
    try:
        with opener(path, "rb") as fh:
            first = 1 + (count_lines(fh, start) if start else 0)
            at = start
            for lineno, raw in enumerate(fh, start=first):
                if stop is not None:
                    if at >= stop:
                        break
                    at += len(raw)
                if lines is not None and lineno not in lines:
                    continue
                if not raw.strip():
                    continue
                if len(raw) > max_bytes:
                    yield Problem(spath, f"line is over the {max_bytes:,}-byte limit", lineno)
                    continue
                text, problems = decode(raw, spath, lineno)
                yield from problems
                if text is None:
                    continue
                try:
                    yield article_from_json(json.loads(text), spath, lineno)
                except json.JSONDecodeError as exc:
                    yield Problem(spath, f"malformed JSON: {exc.msg} at column {exc.colno}",
                                  lineno)
                except ValueError as exc:
                    yield Problem(spath, str(exc), lineno)
    except (OSError, EOFError) as exc:
        yield Problem(spath, f"cannot read: {getattr(exc, 'strerror', None) or exc}")


def count_lines(fh: io.BufferedIOBase, end: int) -> int:
    """How many line ends the file has before byte ``end``; ``fh`` is left at ``end``."""
    fh.seek(0)
    counted = 0
    while fh.tell() < end:
        chunk = fh.read(min(COUNT_BYTES, end - fh.tell()))
        if not chunk:
            break
        counted += chunk.count(b"\n")
    return counted


def line_spans(path: Path, parts: int) -> list[tuple[int, int]]:
    """``parts`` byte ranges of an uncompressed file, each starting where a line starts (fewer
    when lines are long): pieces of one file that processes can read at once."""
    size = path.stat().st_size
    starts = [0]
    with open(path, "rb") as fh:
        for k in range(1, parts):
            fh.seek(max(size * k // parts - 1, starts[-1]))
            fh.readline()  # to the end of the line this byte is in
            if fh.tell() >= size:
                break
            if fh.tell() > starts[-1]:
                starts.append(fh.tell())
    return list(zip(starts, starts[1:] + [size], strict=True))
