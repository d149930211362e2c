"""The search page and the article page (contract §4), rendered on the server.

The page is usable without JavaScript: ``GET /?q=…`` renders the same results the API returns,
and every control is a link or a form field. ``static/app.js`` then takes over in the browser:
it fetches ``/api/search`` as the person types and re-renders the same parts of the page from
the JSON, keeping the whole state in the URL (``history.pushState``).

The URL is the state: ``q``, ``from``, ``to``, the facet filters, ``sort`` (only when chosen),
``page`` (only when > 1), and ``per_page``, ``interval``, ``collapse``, ``recency`` (only when
given). :class:`PageState` reads it from
the raw query string — even when it does not validate, so an invalid date is shown as a
removable filter next to the error message rather than as a bare error page.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from searchsvc.core import documents, highlight, querytext
from searchsvc.core import search as core
from searchsvc.core.params import FACETS, MAX_RESULT_WINDOW, parse_search_args
from searchsvc.errors import NotFound, ServiceError
from searchsvc.web.app import engine

web = Blueprint("web", __name__)

FACET_LABELS = {"topics": "Topics", "places": "Places", "people": "People",
                "orgs": "Organisations", "source": "Source"}
EXTRA_PARAMS = ("interval", "collapse", "recency")
SORT_LABELS = {"relevance": "Relevance", "newest": "Newest", "oldest": "Oldest"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
HISTOGRAM_LEVELS = 20  # bar heights are CSS classes h0…h20 (the CSP forbids inline styles)
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
        return cls(q=one("q"), date_from=one("from"), date_to=one("to"), filters=filters,
                   sort=one("sort"), page=page, per_page=one("per_page"), extra=extra)

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
        return out

    def url(self, **changes) -> str:
        """The page URL of this state with ``changes``; any change but ``page`` resets it."""
        if changes and "page" not in changes:
            changes["page"] = 1
        state = replace(self, **changes) if changes else self
        params = state.params()
        return "/?" + urlencode(params) if params else "/"

    def toggled(self, facet: str, value: str) -> dict[str, tuple[str, ...]]:
        filters = dict(self.filters)
        values = filters.get(facet, ())
        values = tuple(v for v in values if v != value) if value in values else (*values, value)
        if values:
            filters[facet] = values
        else:
            filters.pop(facet, None)
        return filters

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


def pagination(state: PageState, total: int, page: int, per_page: int) -> dict | None:
    """Numbered pages: first, last, and two either side of the current one, with gaps."""
    last = min(math.ceil(total / per_page), MAX_RESULT_WINDOW // per_page)
    if last <= 1:
        return None
    numbers = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    items: list[dict] = []
    previous = 0
    for n in numbers:
        if n - previous > 1:
            items.append({"gap": True})
        items.append({"number": n, "url": state.url(page=n), "current": n == page})
        previous = n
    return {
        "items": items,
        "prev": state.url(page=page - 1) if page > 1 else None,
        "next": state.url(page=page + 1) if page < last else None,
    }


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
    start = dt.date.fromisoformat(bucket["from"])
    return f"{start.day} {_MONTHS[start.month - 1]} {start.year}"


def histogram(state: PageState, date_facet: dict) -> dict | None:
    buckets = date_facet.get("buckets") or []
    if not buckets:
        return None
    interval = date_facet.get("interval", "day")
    peak = max(b["count"] for b in buckets) or 1
    bars = []
    for b in buckets:
        level = 0 if not b["count"] else max(1, round(HISTOGRAM_LEVELS * b["count"] / peak))
        label = bucket_label(b, interval)
        # Choosing the bar that is the whole date filter again clears the filter.
        chosen = (state.date_from, state.date_to) == (b["from"], b["to"])
        bars.append({
            "label": label, "count": b["count"], "level": level, "selected": b["selected"],
            "from": b["from"], "to": b["to"], "chosen": chosen,
            "url": (state.url(date_from="", date_to="") if chosen
                    else state.url(date_from=b["from"], date_to=b["to"])) if b["count"] else None,
        })
    return {"interval": interval, "bars": bars, "first": axis_label(buckets[0], interval),
            "last": axis_label(buckets[-1], interval)}


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


@web.get("/")
def index():
    state = PageState.from_args(request.args)
    error = None
    status = 200
    result = None
    try:
        sq = parse_search_args(request.args, current_app.config["MAX_QUERY_CHARS"])
        result = core.search(engine().snapshot(), sq)
    except ServiceError as exc:
        if exc.status >= 500:
            raise
        error, status = exc.detail, exc.status
    context: dict = {"state": state, "q": state.q, "error": error, "result": result,
                     "chips": chips(state), "clear_url": state.url(date_from="", date_to="",
                                                                   filters={}),
                     "sort_labels": SORT_LABELS,
                     # A date input only holds ISO dates; other spellings stay in the chips.
                     "date_from_value": _iso_or_empty(state.date_from),
                     "date_to_value": _iso_or_empty(state.date_to)}
    if result is not None:
        query = result.query
        context.update(
            sort=query["sort"],
            sort_links={s: state.url(sort=s) for s in SORT_LABELS},
            summary=summary_text(result.total, state.q, listed(result)),
            offset=(query["page"] - 1) * query["per_page"],
            pages=pagination(state, listed(result), query["page"], query["per_page"]),
            histogram=histogram(state, result.facets.get("date", {})),
            facets=facet_groups(state, result.facets),
            hit_links=[article_link(h.url, state.q) for h in result.hits],
            dym_url=state.url(q=result.did_you_mean["q"]) if result.did_you_mean else None,
        )
    return render_template("search.html", **context), status


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
