"""The search page and the article page (contract §4), rendered on the server.

The page is rendered once, on the server, and is usable without JavaScript: ``GET /?…``
renders the search the URL states, and every control is a link or a form field. Every part of
the page that changes with the search is a *region*: an element with an ``id`` and
``data-region``, rendered by one macro of ``templates/_search_parts.html``.
``GET /fragments/search?…`` renders the same regions for the same URL (``search_fragment.html``),
and ``static/app.js`` swaps them into the page as the person types or clicks, keeping the state
in the URL (``history.pushState``) — so the markup of results, facets, histogram, pagination,
timeline and the rest exists once, here and in the templates. ``GET /fragments/terms?…`` renders
the "What stands out" panel, which the script loads after the results (it reads 200 matches,
too slow to hold up every keystroke).

The URL is the state: ``q``, ``from``, ``to``, the facet filters, ``sort`` (only when chosen),
``page`` (only when > 1), ``per_page``, ``interval``, ``collapse``, ``recency`` (only when
given), and the page's own ``view=timeline``, ``compare`` (repeatable: the timeline's comparison
queries, each ``label:query`` or a query) and ``measure=share``. :class:`PageState` reads it from
the raw query string — even when it does not validate, so an invalid date is shown as a
removable filter next to the error message rather than as a bare error page.

The date histogram zooms: with a date range and ``interval=auto`` the page asks the search for
day counts (or months, when the archive is too long for days) and draws two charts from them —
the whole span (the bars that set a range; the range itself drawn under them, also when it is
narrower than a bar) and the range by the interval ``auto`` picks for it (days for a month).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import numpy as np
from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from searchsvc.core import documents, highlight, histogram, querytext, terms, timeline
from searchsvc.core import search as core
from searchsvc.core.params import FACETS, MAX_RESULT_WINDOW, SearchQuery, parse_search_args
from searchsvc.engine import DayCounts
from searchsvc.errors import NotFound, ServiceError
from searchsvc.web.app import engine

web = Blueprint("web", __name__)

FACET_LABELS = {"topics": "Topics", "places": "Places", "people": "People",
                "orgs": "Organisations", "source": "Source"}
TAG_NAMES = {"topics": "topic", "places": "place"}  # the facets shown as tags on a hit
EXTRA_PARAMS = ("interval", "collapse", "recency")
SORT_LABELS = {"relevance": "Relevance", "newest": "Newest", "oldest": "Oldest"}
VIEW_LABELS = {"": "Results", "timeline": "Timeline"}
MEASURE_LABELS = {"": "Articles", "share": "Share of all articles"}
PER_PAGE_CHOICES = ("10", "20", "50", "100")  # "10" is the default: the URL leaves it out
RECENCY_CHOICES = (("", "Off"), ("7d", "Half-life 7 days"), ("30d", "Half-life 30 days"),
                   ("6m", "Half-life 6 months"), ("1y", "Half-life 1 year"))
_FALSE = ("false", "0", "no", "off")
_HALF_LIFE = re.compile(r"\d{1,5}[dwmy]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
HISTOGRAM_LEVELS = 20  # bar heights are CSS classes h0…h20 (the CSP forbids inline styles)
RAIL_STEPS = 20  # the drawn date range starts and ends on twentieths of a bar (rs0…, re1…)
TERMS_SHOWN = 12
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class PageState:
    """The search as the URL states it (raw strings; validation is ``parse_search_args``)."""

    q: str = ""
    date_from: str = ""
    date_to: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sort: str = ""
    page: int = 1
    per_page: str = ""
    extra: tuple[tuple[str, str], ...] = ()  # interval, collapse, recency: kept as given
    view: str = ""  # "" (the results) or "timeline"
    compare: tuple[str, ...] = ()  # the timeline's comparison queries
    measure: str = ""  # the timeline's y axis: "" (articles) or "share"

    @classmethod
    def from_args(cls, args) -> PageState:
        def one(name: str) -> str:
            values = args.getlist(name)
            return values[-1].strip() if values else ""

        filters = {}
        for name in FACETS:
            values = [v.strip() for v in args.getlist(name) if v.strip()]
            if values:
                filters[name] = tuple(dict.fromkeys(values))
        try:
            page = max(1, int(one("page") or 1))
        except ValueError:
            page = 1
        extra = tuple((name, one(name)) for name in EXTRA_PARAMS if one(name))
        compare = tuple(dict.fromkeys(v.strip() for v in args.getlist("compare") if v.strip()))
        return cls(q=one("q"), date_from=one("from"), date_to=one("to"), filters=filters,
                   sort=one("sort"), page=page, per_page=one("per_page"), extra=extra,
                   view="timeline" if one("view") == "timeline" else "", compare=compare,
                   measure="share" if one("measure") == "share" else "")

    def params(self) -> list[tuple[str, str]]:
        """Query parameters in a fixed order (``app.js`` builds URLs in the same order)."""
        out = []
        if self.q:
            out.append(("q", self.q))
        if self.date_from:
            out.append(("from", self.date_from))
        if self.date_to:
            out.append(("to", self.date_to))
        for name in FACETS:
            out.extend((name, value) for value in self.filters.get(name, ()))
        if self.sort:
            out.append(("sort", self.sort))
        if self.page > 1:
            out.append(("page", str(self.page)))
        if self.per_page:
            out.append(("per_page", self.per_page))
        out.extend(self.extra)
        if self.view:
            out.append(("view", self.view))
        out.extend(("compare", c) for c in self.compare)
        if self.measure:
            out.append(("measure", self.measure))
        return out

    def url(self, **changes) -> str:
        """The page URL of this state with ``changes``; any change but ``page`` resets it."""
        if changes and "page" not in changes:
            changes["page"] = 1
        state = replace(self, **changes) if changes else self
        params = state.params()
        return "/?" + urlencode(params) if params else "/"

    def option(self, name: str) -> str:
        return dict(self.extra).get(name, "")

    def with_option(self, name: str, value: str) -> tuple[tuple[str, str], ...]:
        """``extra`` with one option set (or removed when ``value`` is empty)."""
        given = {**dict(self.extra), name: value}
        return tuple((n, given[n]) for n in EXTRA_PARAMS if given.get(n))

    def toggled(self, facet: str, value: str) -> dict[str, tuple[str, ...]]:
        filters = dict(self.filters)
        values = filters.get(facet, ())
        values = tuple(v for v in values if v != value) if value in values else (*values, value)
        if values:
            filters[facet] = values
        else:
            filters.pop(facet, None)
        return filters

    def search_args(self, *, sort: bool = True) -> list[tuple[str, str]]:
        """The parameters of the search itself (no paging, no page options), for the API
        links: export, feed, terms."""
        out = [(k, v) for k, v in self.params()
               if k in ("q", "from", "to", *FACETS) or (sort and k == "sort")]
        if sort and self.option("recency"):
            out.append(("recency", self.option("recency")))
        return out

    @property
    def has_filters(self) -> bool:
        return bool(self.filters or self.date_from or self.date_to)


def article_link(url: str, q: str) -> str:
    """The article page's URL, passing the query on so the page can mark the searched words."""
    return f"{url}?{urlencode({'q': q})}" if q else url


def chips(state: PageState) -> list[dict]:
    out = []
    if state.date_from:
        out.append({"label": f"From {state.date_from}", "url": state.url(date_from="")})
    if state.date_to:
        out.append({"label": f"To {state.date_to}", "url": state.url(date_to="")})
    for name in FACETS:
        for value in state.filters.get(name, ()):
            out.append({"label": f"{FACET_LABELS[name]}: {value}",
                        "url": state.url(filters=_without(state.filters, name, value))})
    return out


def _without(filters: dict, facet: str, value: str) -> dict:
    out = dict(filters)
    rest = tuple(v for v in out.get(facet, ()) if v != value)
    if rest:
        out[facet] = rest
    else:
        out.pop(facet, None)
    return out


def last_page(total: int, per_page: int) -> int:
    return min(math.ceil(total / per_page), MAX_RESULT_WINDOW // per_page)


def pagination(state: PageState, total: int, page: int, per_page: int) -> dict | None:
    """Numbered pages: first, last, and two either side of the current one, with gaps. Past
    the end, the numbers are those around the last page, and "Previous" is the last page."""
    last = last_page(total, per_page)
    if last < 1 or (last == 1 and page <= 1):
        return None
    around = min(page, last)
    numbers = sorted({1, last, *range(max(1, around - 2), min(last, around + 2) + 1)})
    items: list[dict] = []
    previous = 0
    for n in numbers:
        if n - previous > 1:
            items.append({"gap": True})
        items.append({"number": n, "url": state.url(page=n), "current": n == page})
        previous = n
    return {
        "items": items,
        "prev": state.url(page=min(page - 1, last)) if page > 1 else None,
        "next": state.url(page=page + 1) if page < last else None,
    }


def fmt_day(day: dt.date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def span_label(first: dt.date, last: dt.date) -> str:
    return fmt_day(first) if first == last else f"{fmt_day(first)} – {fmt_day(last)}"


def bucket_label(bucket: dict, interval: str) -> str:
    start = dt.date.fromisoformat(bucket["from"])
    if interval == "year":
        return str(start.year)
    if interval == "month":
        return f"{_MONTHS[start.month - 1]} {start.year}"
    if interval == "week":
        return f"Week of {start.isoformat()}"
    return start.isoformat()


def axis_label(bucket: dict, interval: str) -> str:
    """The short label under the histogram's first and last bars: a day is spelled out, a
    month or year is labelled as in the bar's title."""
    if interval in ("year", "month"):
        return bucket_label(bucket, interval)
    return fmt_day(dt.date.fromisoformat(bucket["from"]))


def _level(count: int, peak: int) -> int:
    return 0 if not count else max(1, round(HISTOGRAM_LEVELS * count / peak))


def _bar_text(label: str, count: int, chosen: bool) -> str:
    return (f"{label}: {count:,} {'article' if count == 1 else 'articles'}"
            + (" (selected; choose again to clear)" if chosen else ""))


def _coverage(start: dt.date, end: dt.date, low: dt.date | None, high: dt.date | None,
              ) -> str | None:
    """The part of the bar [start, end] the date range covers, as the CSS classes that draw
    it (``rs`` where it starts, ``re`` where it ends, in twentieths of the bar); None when the
    range misses the bar."""
    a = max(start, low) if low else start
    z = min(end, high) if high else end
    if a > z:
        return None
    days = (end - start).days + 1
    first = min(RAIL_STEPS - 1, math.floor(RAIL_STEPS * (a - start).days / days))
    last = max(first + 1, math.ceil(RAIL_STEPS * ((z - start).days + 1) / days))
    return f"rs{first} re{last}"


def histogram_view(state: PageState, sq: SearchQuery | None, buckets: list[dict],
                   interval: str) -> dict | None:
    """The whole span's bars. Each sets the date filter to its range (the one that is the
    whole filter clears it); the filter's range is drawn on a rail under the bars."""
    if not buckets:
        return None
    low, high = (sq.date_from, sq.date_to) if sq else (None, None)
    peak = max(b["count"] for b in buckets) or 1
    bars = []
    for b in buckets:
        label = bucket_label(b, interval)
        # Choosing the bar that is the whole date filter again clears the filter.
        chosen = (state.date_from, state.date_to) == (b["from"], b["to"])
        mark = (_coverage(dt.date.fromisoformat(b["from"]), dt.date.fromisoformat(b["to"]),
                          low, high) if (low or high) else None)
        bars.append({
            "label": label, "count": b["count"], "level": _level(b["count"], peak),
            "selected": b["selected"], "partial": bool(mark) and not b["selected"],
            "mark": mark, "from": b["from"], "to": b["to"], "chosen": chosen,
            "text": _bar_text(label, b["count"], chosen),
            "url": (state.url(date_from="", date_to="") if chosen
                    else state.url(date_from=b["from"], date_to=b["to"])) if b["count"] else None,
        })
    return {"interval": interval, "bars": bars, "first": axis_label(buckets[0], interval),
            "last": axis_label(buckets[-1], interval), "rail": bool(low or high)}


def _regrouped(fine: list[dict], interval: str, selected) -> list[dict]:
    """Buckets of a finer interval (days, or months) counted into ``interval``, exactly as
    the search counts them (empty buckets between the first and last included)."""
    nonzero = [b for b in fine if b["count"]]
    if not nonzero:
        return []
    days = DayCounts(np.array([dt.date.fromisoformat(b["from"]).toordinal() for b in nonzero],
                              dtype=np.int64),
                     np.array([b["count"] for b in nonzero], dtype=np.int64))
    return histogram.buckets(days, interval, selected)


def fine_interval(first: dt.date | None, last: dt.date | None) -> str:
    """The finest interval the zoom can be counted in over the archive's span: days, else
    months (weeks do not add up to months), else years — within the histogram's bucket cap."""
    for interval in ("day", "month"):
        if first is None or last is None or \
                histogram.bucket_count(first, last, interval) <= histogram.MAX_BUCKETS:
            return interval
    return "year"


def zooming(sq: SearchQuery) -> bool:
    """The histogram zooms into a date range unless the URL fixes the interval."""
    return sq.interval == "auto" and (sq.date_from is not None or sq.date_to is not None)


def zoom_view(state: PageState, sq: SearchQuery, fine: list[dict], fine_iv: str,
              overview: list[dict]) -> dict | None:
    """The date range by the interval ``auto`` picks for it (days for a month), each bar
    narrowing the range to itself; None without a range."""
    low, high = sq.date_from, sq.date_to
    if low is None and high is None:
        return None
    view: dict = {"caption": _range_caption(low, high), "clear_url": state.url(date_from="",
                                                                          date_to=""),
                  "bars": None}
    if not overview or not zooming(sq):
        return view
    first = dt.date.fromisoformat(overview[0]["from"])
    last = dt.date.fromisoformat(overview[-1]["to"])
    start, end = max(low or first, first), min(high or last, last)
    if start > end or (start, end) == (first, last):
        return view
    interval = histogram.auto_interval(start, end)
    order = histogram.INTERVALS
    if order.index(interval) < order.index(fine_iv):  # no finer than what was counted
        interval = fine_iv
    counts: dict[dt.date, int] = {}
    for b in fine:
        b_from, b_to = dt.date.fromisoformat(b["from"]), dt.date.fromisoformat(b["to"])
        if b["count"] and b_to >= start and b_from <= end:
            key = histogram.bucket_start(max(b_from, start), interval)
            counts[key] = counts.get(key, 0) + b["count"]
    spans = []
    at = histogram.bucket_start(start, interval)
    while at <= end:
        whole = histogram.bucket_end(at, interval)
        spans.append((at, max(at, start), min(whole, end), whole))
        at = histogram.next_start(at, interval)
    peak = max((counts.get(s[0], 0) for s in spans), default=0) or 1
    bars = []
    for at, a, z, whole in spans:
        count = counts.get(at, 0)
        named = interval in ("month", "year") and (a, z) == (at, whole)
        label = bucket_label({"from": a.isoformat()}, interval) if named else span_label(a, z)
        chosen = (state.date_from, state.date_to) == (a.isoformat(), z.isoformat())
        bars.append({
            "from": a.isoformat(), "to": z.isoformat(), "count": count, "label": label,
            "chosen": chosen, "level": _level(count, peak),
            "text": _bar_text(label, count, chosen),
            "url": (state.url(date_from="", date_to="") if chosen else
                    state.url(date_from=a.isoformat(), date_to=z.isoformat())) if count else None,
        })
    view.update(bars=bars, interval=interval, first=fmt_day(start), last=fmt_day(end),
                single=len(bars) == 1,
                span=span_label(start, end))
    return view


def _range_caption(low: dt.date | None, high: dt.date | None) -> str:
    if low and high:
        return span_label(low, high)
    if low:
        return f"From {fmt_day(low)}"
    return f"Until {fmt_day(high)}" if high else ""


def facet_groups(state: PageState, facets: dict) -> list[dict]:
    groups = []
    for name in FACETS:
        values = facets.get(name) or []
        if values:
            groups.append({
                "name": name, "label": FACET_LABELS[name],
                "values": [{**v, "url": state.url(filters=state.toggled(name, v["value"]))}
                           for v in values],
            })
    return groups


def hit_tags(state: PageState, hit) -> list[dict]:
    """A hit's topics and places as links that toggle that facet filter (as its checkbox
    does)."""
    out = []
    for name, noun in TAG_NAMES.items():
        chosen = state.filters.get(name, ())
        for value in getattr(hit, name):
            selected = value in chosen
            out.append({
                "facet": name, "value": value, "selected": selected,
                "url": state.url(filters=state.toggled(name, value)),
                "prefix": f"Stop filtering by {noun} " if selected else f"Filter by {noun} ",
            })
    return out


def summary_text(total: int, q: str, stories: int | None = None) -> str:
    """"12 results for “oil”", plus "in 9 stories" when versions of a story are collapsed."""
    if total == 0:
        return f"No results for “{q}”" if q else "No articles"
    if q:
        text = f"{total:,} {'result' if total == 1 else 'results'} for “{q}”"
    else:
        text = f"{total:,} {'article' if total == 1 else 'articles'}"
    if stories is not None and stories < total:
        text += f" in {stories:,} {'story' if stories == 1 else 'stories'}"
    return text


def listed(result) -> int:
    """How many hits the pages list: stories when collapsed, else articles."""
    stories = getattr(result, "total_stories", None)
    if result.query.get("collapse", True) and stories is not None:
        return stories
    return result.total


def _iso_or_empty(raw: str) -> str:
    return raw if _ISO_DATE.fullmatch(raw) else ""


def options_view(state: PageState) -> dict:
    """The result options (collapse, per page, recency) as the selects show them; a value
    the URL gives that is not among the choices is shown as given."""
    per_page = [(("" if v == "10" else v), v) for v in PER_PAGE_CHOICES]
    chosen_per_page = "" if state.per_page in ("", "10") else state.per_page
    if state.per_page.isdigit() and chosen_per_page not in dict(per_page):
        per_page = sorted([*per_page, (state.per_page, state.per_page)],
                          key=lambda c: int(c[1]))
    recency = list(RECENCY_CHOICES)
    chosen_recency = state.option("recency").lower()
    if chosen_recency and chosen_recency not in dict(recency):
        if _HALF_LIFE.fullmatch(chosen_recency):
            recency.append((chosen_recency, f"Half-life {chosen_recency}"))
        else:
            chosen_recency = ""
    return {
        "collapse": "false" if state.option("collapse").lower() in _FALSE else "",
        "per_page": per_page, "chosen_per_page": chosen_per_page,
        "recency": recency, "chosen_recency": chosen_recency,
    }


def interpreted_view(state: PageState, result) -> dict | None:
    found = getattr(result, "interpreted_as", None) if result is not None else None
    if not found:
        return None
    plain = found["plain"]
    return {"query": found["query"], "plain_q": plain["q"], "plain_total": plain["total"],
            "url": state.url(q=plain["q"])}


def past_end(state: PageState, result) -> dict | None:
    """A page past the last one (``page=50`` of 13): what there is, and the way back."""
    query = result.query
    if result.hits or not result.total or query["page"] <= 1:
        return None
    last = last_page(listed(result), query["per_page"])
    if query["page"] <= last:
        return None
    return {"page": query["page"], "last": last, "last_url": state.url(page=last),
            "first_url": state.url(page=1)}


# -- the timeline view ---------------------------------------------------------------------

CHART_W, CHART_H = 720, 260
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 64, 16, 14, 34
POINTS_UP_TO = 60  # buckets; more and the points (with their tooltips) are left out


def _nice_top(peak: float, share: bool) -> float:
    if peak <= 0:
        return 0.01 if share else 1.0
    scale = 10 ** math.floor(math.log10(peak))
    for m in (1, 2, 4, 5, 6, 8, 10):
        if m * scale >= peak - 1e-12:
            top = m * scale
            break
    return top if share else float(max(1, math.ceil(top)))


def _percent(value: float) -> str:
    pct = value * 100
    text = f"{pct:.2f}" if pct < 1 else f"{pct:.1f}"
    return text.rstrip("0").rstrip(".") + "%"


def _tick(value: float, share: bool) -> str:
    return _percent(value) if share else f"{value:,.0f}" if value == int(value) else f"{value:g}"


def timeline_interval(sq: SearchQuery, low: dt.date | None, high: dt.date | None,
                      span: tuple[dt.date | None, dt.date | None]) -> str:
    """With a date range, an explicit interval coarsened until the range (within the
    archive's ``span``) fits the bucket cap, so a zoomed-out range is a chart rather than an
    error. ``auto`` is left to the timeline, which picks it for the range."""
    interval = sq.interval
    if (low is None and high is None) or interval == "auto":
        return interval
    start = max(low, span[0]) if low and span[0] else low or span[0]
    end = min(high, span[1]) if high and span[1] else high or span[1]
    order = histogram.INTERVALS
    for candidate in order[order.index(interval):]:
        if start is None or end is None or start > end or \
                histogram.bucket_count(start, end, candidate) <= histogram.MAX_BUCKETS:
            return candidate
    return "year"


def timeline_view(state: PageState, sq: SearchQuery, snapshot) -> dict:
    """The timeline of the search's query and its comparisons: the chart (SVG drawn here),
    its legend, the numbers as a table, the form that adds a comparison and the CSV."""
    main = [state.q] if state.q else []
    values = [*main, *state.compare]
    limit = timeline.MAX_SERIES
    view: dict = {"error": None, "dropped": max(0, len(values) - limit),
                  "can_add": len(values) < limit, "limit": limit,
                  "measure": state.measure, "measures": [
                      {"label": label, "url": state.url(measure=m), "current": m == state.measure}
                      for m, label in MEASURE_LABELS.items()],
                  "hidden": [p for p in replace(state, page=1, view="timeline").params()]}
    values = values[:limit]
    info = snapshot.info()
    low, high = sq.date_from, sq.date_to
    interval = timeline_interval(sq, low, high, (info.date_min, info.date_max))
    try:
        series = (timeline.series_of(values, current_app.config["MAX_QUERY_CHARS"]) if values
                  else [timeline.Series("", "All articles")])
        doc = timeline.timeline(snapshot, replace(sq, interval=interval), series)
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        view["error"] = exc.detail
        return view
    buckets, lines = doc["all"], doc["series"]  # the timeline keeps to the date range itself
    interval = doc["interval"]
    share = state.measure == "share"
    key = "share" if share else "count"
    legend = []
    for n, s in enumerate(lines):
        compare_index = n - len(main)
        legend.append({
            "n": n, "label": s["label"], "q": s["q"],
            "total": sum(b["count"] for b in s["buckets"]),
            "remove": (state.url(compare=tuple(c for j, c in enumerate(state.compare)
                                               if j != compare_index))
                       if compare_index >= 0 else None),
        })
    csv_args = [("q", v) for v in values] or [("q", "*")]
    csv_args += [(k, v) for k, v in state.search_args(sort=False) if k != "q"]
    if interval != "auto":
        csv_args.append(("interval", interval))
    csv_args.append(("format", "csv"))
    view.update(interval=interval, legend=legend, csv_url="/api/timeline?" + urlencode(csv_args),
                rows=[{"label": bucket_label(b, interval), "all": b["count"],
                       "cells": [(s["buckets"][i]["count"], _percent(s["buckets"][i]["share"]))
                                 for s in lines]}
                      for i, b in enumerate(buckets)],
                chart=_chart(buckets, lines, interval, key, share) if buckets else None)
    return view


def _chart(buckets: list[dict], lines: list[dict], interval: str, key: str, share: bool,
           ) -> dict:
    n = len(buckets)
    peak = max((b[key] for s in lines for b in s["buckets"]), default=0)
    top = _nice_top(peak, share)
    inner_w = CHART_W - CHART_LEFT - CHART_RIGHT
    inner_h = CHART_H - CHART_TOP - CHART_BOTTOM

    def x(i: int) -> float:
        return CHART_LEFT + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return CHART_TOP + inner_h * (1 - v / top)

    halves = share or (top / 2).is_integer()
    ticks = [{"y": round(y(v), 1), "label": _tick(v, share)}
             for v in ((0.0, top / 2, top) if halves else (0.0, top))]
    drawn = []
    for n_line, s in enumerate(lines):
        pts = [(round(x(i), 1), round(y(b[key]), 1)) for i, b in enumerate(s["buckets"])]
        drawn.append({
            "n": n_line, "label": s["label"],
            "points": " ".join(f"{a},{b}" for a, b in pts),
            "dots": [{"x": a, "y": b, "title": (
                f"{s['label']}, {bucket_label(bk, interval)}: {bk['count']:,} "
                f"{'article' if bk['count'] == 1 else 'articles'} "
                f"({_percent(bk['share'])} of {buckets[i]['count']:,})")}
                for i, ((a, b), bk) in enumerate(zip(pts, s["buckets"], strict=True))]
            if n <= POINTS_UP_TO else [],
        })
    labels = [(0, "start")]
    if n >= 5:
        labels.append((n // 2, "middle"))
    if n > 1:
        labels.append((n - 1, "end"))
    return {"w": CHART_W, "h": CHART_H, "left": CHART_LEFT, "right": CHART_W - CHART_RIGHT,
            "bottom": CHART_H - CHART_BOTTOM, "ticks": ticks, "lines": drawn,
            "xlabels": [{"x": round(x(i), 1), "anchor": anchor,
                         "label": axis_label(buckets[i], interval)} for i, anchor in labels],
            "description": (f"{'Share of all articles' if share else 'Articles'} per "
                            f"{interval} from {axis_label(buckets[0], interval)} to "
                            f"{axis_label(buckets[-1], interval)}, one line per query")}


# -- the search page -------------------------------------------------------------------------


def search_context() -> tuple[dict, int]:
    """Everything the search page's regions show for the request's URL, and its status."""
    state = PageState.from_args(request.args)
    error = None
    status = 200
    result = None
    sq = None
    snapshot = None
    fine = "auto"
    try:
        sq = parse_search_args(request.args, current_app.config["MAX_QUERY_CHARS"])
        snapshot = engine().snapshot()
        run = sq
        if zooming(sq):
            info = snapshot.info()
            fine = fine_interval(info.date_min, info.date_max)
            run = replace(sq, interval=fine)
        result = core.search(snapshot, run)
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        error, status = exc.detail, exc.status
    context: dict = {"state": state, "q": state.q, "error": error, "result": result,
                     "chips": chips(state), "clear_url": state.url(date_from="", date_to="",
                                                                   filters={}),
                     "sort_labels": SORT_LABELS,
                     "views": [{"label": label, "url": state.url(view=v),
                                "current": v == state.view} for v, label in VIEW_LABELS.items()],
                     "options": options_view(state),
                     "feed_url": "/api/feed.atom?" + urlencode(state.search_args(sort=False)),
                     "export_urls": {fmt: "/api/export?" + urlencode(
                         [*state.search_args(), ("format", fmt)]) for fmt in ("csv", "ndjson")},
                     "terms_src": "/fragments/terms?" + urlencode(state.search_args()),
                     "feed_title": f"searchsvc: {state.q}" if state.q else "searchsvc: newest",
                     # A date input only holds ISO dates; other spellings stay in the chips.
                     "date_from_value": _iso_or_empty(state.date_from),
                     "date_to_value": _iso_or_empty(state.date_to)}
    if result is not None and sq is not None and snapshot is not None:
        query = result.query
        date_facet = result.facets.get("date", {})
        buckets = date_facet.get("buckets") or []
        if zooming(sq) and buckets:
            # The search counted days (or months); the whole span is drawn by the interval
            # auto picks for it, as the search would have counted it.
            overview_iv = histogram.auto_interval(dt.date.fromisoformat(buckets[0]["from"]),
                                                  dt.date.fromisoformat(buckets[-1]["from"]))
            order = histogram.INTERVALS
            overview_iv = order[max(order.index(overview_iv), order.index(fine))]
            overview = _regrouped(buckets, overview_iv, (sq.date_from, sq.date_to))
        else:
            overview, overview_iv = buckets, date_facet.get("interval", "day")
        context.update(
            sort=query["sort"],
            sort_links={s: state.url(sort=s) for s in SORT_LABELS},
            summary=summary_text(result.total, state.q, listed(result)),
            offset=(query["page"] - 1) * query["per_page"],
            pages=pagination(state, listed(result), query["page"], query["per_page"]),
            past_end=past_end(state, result),
            histogram=histogram_view(state, sq, overview, overview_iv),
            zoom=zoom_view(state, sq, buckets, fine, overview),
            facets=facet_groups(state, result.facets),
            hit_links=[article_link(h.url, state.q) for h in result.hits],
            hit_tags=[hit_tags(state, h) for h in result.hits],
            dym_url=state.url(q=result.did_you_mean["q"]) if result.did_you_mean else None,
            interpreted=interpreted_view(state, result),
            timeline=timeline_view(state, sq, snapshot) if state.view == "timeline" else None,
        )
    return context, status


@web.get("/")
def index():
    context, status = search_context()
    return render_template("search.html", **context), status


@web.get("/fragments/search")
def search_fragment():
    """The search page's regions for this URL state: what ``app.js`` swaps into the page."""
    context, status = search_context()
    return render_template("search_fragment.html", **context), status


@web.get("/fragments/terms")
def terms_fragment():
    """The "What stands out" panel: the words most over-represented in the results (the
    core of ``/api/terms``), each a link that adds it to the query."""
    state = PageState.from_args(request.args)
    try:
        sq = parse_search_args(request.args, current_app.config["MAX_QUERY_CHARS"])
        found = terms.distinctive(engine().snapshot(), sq, TERMS_SHOWN)
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        return render_template("_terms.html", words=None, error=exc.detail), exc.status
    words = [{"term": t["term"], "count": t["count"], "background": t["background"],
              "url": state.url(q=f"{state.q} {t['term']}".strip())} for t in found["terms"]]
    return render_template("_terms.html", words=words, sample=found["sample"], error=None)


@web.get("/articles/<path:article_id>")
def article(article_id: str):
    if not article_id or len(article_id) > 1000 or "\x00" in article_id:
        raise NotFound("no such article")
    q = request.args.get("q", "").strip()[: current_app.config["MAX_QUERY_CHARS"]]
    snap = engine().snapshot()
    art = documents.get_article(snap, article_id)
    marks = highlight.matchers(querytext.parse(q).text_clauses()) if q else {}
    paragraphs = [p for p in art.body.split("\n\n") if p.strip()]
    # Every other version of this article's story (what "N more versions" counts), then
    # articles that are merely similar.
    versions = documents.versions(snap, article_id)
    similar = documents.similar(snap, article_id, 5, {h.id for h in versions})
    related = versions + similar
    external = art.url if art.url.startswith(("https://", "http://")) else None
    facets = [{"name": name, "label": FACET_LABELS[name],
               "values": [{"value": v, "url": PageState(filters={name: (v,)}).url()}
                          for v in getattr(art, name)]}
              for name in ("topics", "places", "people", "orgs") if getattr(art, name)]
    if art.source:
        facets.append({"name": "source", "label": FACET_LABELS["source"],
                       "values": [{"value": art.source,
                                   "url": PageState(filters={"source": (art.source,)}).url()}]})
    marked = [Markup(highlight.highlight_all(p, marks.get("body"))) for p in paragraphs]
    return render_template(
        "article.html", article=art, q=q, external=external, facets=facets,
        title_html=Markup(highlight.highlight_all(art.title, marks.get("title"))),
        paragraphs=marked, matches=sum(p.count("<mark>") for p in marked),
        related=related, versions=versions, similar=similar,
        related_links={h.id: article_link(h.url, q) for h in related},
        back_url=PageState(q=q).url(),
    )
