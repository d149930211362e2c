"""Request parameters → a typed, validated :class:`SearchQuery`.

The HTTP API, the search page and the CLI all describe a search with the same parameters
(contract §3). This module is the single place that reads them from a multi-valued mapping
(``request.args`` or a dict of lists) and rejects bad values with :class:`InvalidParameter`,
so the search core only ever sees valid queries. No Flask, no engine here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from searchsvc.dates import DateError, parse_period
from searchsvc.engine import FACETS
from searchsvc.errors import InvalidParameter

__all__ = ["FACETS", "SearchQuery", "parse_search_args"]
SORTS = ("relevance", "newest", "oldest")
INTERVALS = ("auto", "day", "week", "month", "year")
MAX_PER_PAGE = 100
MAX_RESULT_WINDOW = 10_000
MAX_FILTER_VALUES = 100
FACET_SIZE = 20
MAX_FACET_SIZE = 1000
_HALF_LIFE = re.compile(r"(\d{1,5})([dwmy])")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = "newest"
    page: int = 1
    per_page: int = 10
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    interval: str = "auto"
    collapse: bool = True
    recency_days: float | None = None
    recency: str | None = None
    facet_size: int = FACET_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def echo(self) -> dict:
        """The ``query`` object of the response: the request as understood."""
        return {
            "q": self.q,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "sort": self.sort,
            "page": self.page,
            "per_page": self.per_page,
            "filters": {k: list(v) for k, v in self.filters.items()},
            "interval": self.interval,
            "collapse": self.collapse,
            "recency": self.recency,
        }


def _values(args: Mapping, name: str) -> list[str]:
    getlist = getattr(args, "getlist", None)
    if getlist is not None:
        return list(getlist(name))
    value = args.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _one(args: Mapping, name: str) -> str | None:
    values = _values(args, name)
    if not values:
        return None
    return values[-1]


def _int(args: Mapping, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = _one(args, name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidParameter(f"{name} must be an integer, not {raw[:40]!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidParameter(f"{name} must be {bound}")
    return value


def _date(args: Mapping, name: str, end: bool) -> dt.date | None:
    """A date bound; a month or year means its first day (``from``) or its last (``to``)."""
    raw = _one(args, name)
    if raw is None or raw.strip() == "":
        return None
    try:
        first, last = parse_period(raw)
    except DateError as exc:
        raise InvalidParameter(f"{name}: {exc}") from None
    return last if end else first


def _choice(args: Mapping, name: str, choices: Sequence[str], default: str) -> str:
    raw = _one(args, name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise InvalidParameter(f"{name} must be one of {', '.join(choices)}")
    return value


def _bool(args: Mapping, name: str, default: bool) -> bool:
    raw = _one(args, name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise InvalidParameter(f"{name} must be true or false")


def parse_half_life(raw: str) -> float | None:
    """Days of a half-life such as ``7d``; a zero half-life (``0d``) means no recency."""
    m = _HALF_LIFE.fullmatch(raw.strip().lower())
    if not m:
        raise InvalidParameter("recency must be a half-life such as 7d, 4w, 6m or 1y")
    return int(m.group(1)) * _UNIT_DAYS[m.group(2)] or None


def parse_search_args(args: Mapping, max_query_chars: int = 2000) -> SearchQuery:
    """Validate search parameters (contract §3). Unknown parameters are ignored."""
    q = (_one(args, "q") or "").strip()
    if len(q) > max_query_chars:
        raise InvalidParameter(f"q is longer than {max_query_chars} characters",
                               code="query_too_long")
    if "\x00" in q:
        raise InvalidParameter("q must not contain NUL characters")
    try:
        q.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. undecodable bytes from a terminal
        raise InvalidParameter("q is not valid text (invalid UTF-8 or lone surrogates)") from None
    date_from, date_to = _date(args, "from", end=False), _date(args, "to", end=True)
    if date_from and date_to and date_from > date_to:
        raise InvalidParameter("from must not be after to")
    sort = _choice(args, "sort", SORTS, "relevance" if q else "newest")
    per_page = _int(args, "per_page", 10, 1, MAX_PER_PAGE)
    page = _int(args, "page", 1, 1)
    if page * per_page > MAX_RESULT_WINDOW:
        raise InvalidParameter(
            f"page × per_page must not exceed {MAX_RESULT_WINDOW:,}; narrow the search instead",
            code="result_window_too_large")
    filters = {}
    for name in FACETS:
        values = [v.strip() for v in _values(args, name) if v and v.strip()]
        if len(values) > MAX_FILTER_VALUES:
            raise InvalidParameter(f"at most {MAX_FILTER_VALUES} values for {name}")
        if values:
            filters[name] = tuple(dict.fromkeys(values))
    raw_recency = _one(args, "recency")
    recency = raw_recency.strip().lower() if raw_recency and raw_recency.strip() else None
    return SearchQuery(
        q=q, date_from=date_from, date_to=date_to, sort=sort, page=page, per_page=per_page,
        filters=filters, interval=_choice(args, "interval", INTERVALS, "auto"),
        collapse=_bool(args, "collapse", True),
        recency_days=parse_half_life(recency) if recency else None, recency=recency,
        facet_size=_int(args, "facet_size", FACET_SIZE, 1, MAX_FACET_SIZE),
    )
