"""Coverage over time: how much of the archive several queries take up, bucket by bucket.

``GET /api/timeline`` takes up to :data:`MAX_SERIES` ``q`` parameters (each may start with a
label: ``opec:oil prices`` is the query "oil prices" labelled "opec" — unless the word before
the colon is a field name, so ``title:oil`` stays a query), the search's filters and an
interval. For each query, every bucket has ``count`` (matching articles) and ``share`` (that
count divided by all the articles of the bucket under the same filters — Media Cloud's
"attention"); ``all`` is the all-articles count of each bucket. Every series has the same
buckets: those of the all-articles span under the filters, empty ones included, so they line
up in a chart and in the CSV (``format=csv``: one row per bucket, a count and a share column
per series; a label that a spreadsheet would run as a formula is written as text, as in
``export``).

Unlike the search's date histogram, which charts every date and marks those within
``from``/``to``, a timeline counts only within them: its buckets run from ``from`` to ``to``
(an open end: the first or last article under the filters; never beyond the archive's dates),
``interval=auto`` is chosen for that span, and a bucket cut by the range says so in its
``from``/``to``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from searchsvc.core import export, histogram, querytext
from searchsvc.core.params import SearchQuery
from searchsvc.core.search import filters_of
from searchsvc.engine import DayCounts, EngineRequest, Snapshot
from searchsvc.errors import InvalidParameter

MAX_SERIES = 5
WITHIN = "within"  # the name of the from/to filter here: not "date", see timeline()


@dataclass(frozen=True)
class Series:
    q: str
    label: str


def series_of(values: list[str], max_query_chars: int = 2000) -> list[Series]:
    """The ``q`` parameters as (query, label) pairs, each checked as a search's ``q`` is."""
    values = [v.strip() for v in values if v and v.strip()]
    if not values:
        raise InvalidParameter("timeline needs at least one q")
    if len(values) > MAX_SERIES:
        raise InvalidParameter(f"at most {MAX_SERIES} q for a timeline")
    for n, raw in enumerate(values, start=1):
        if len(raw) > max_query_chars:
            raise InvalidParameter(f"q number {n} is longer than {max_query_chars} characters",
                                   code="query_too_long")
    out = []
    for raw in values:
        head, sep, rest = raw.partition(":")
        if sep and head.strip() and rest.strip() and head.strip().lower() not in \
                querytext.FIELDS and " " not in head.strip():
            out.append(Series(rest.strip(), head.strip()))
        else:
            out.append(Series(raw, raw))
    return out


def _span(snapshot: Snapshot, sq: SearchQuery, everything: DayCounts,
          ) -> tuple[dt.date, dt.date] | None:
    """The days the buckets cover: ``from``/``to`` where given (within the archive's dates, so
    ``from=1900`` does not chart a century of nothing), else the first/last day with articles
    under the filters. None when there is nothing to chart."""
    if sq.date_from is None and sq.date_to is None:
        return (everything.first, everything.last) if len(everything) else None
    info = snapshot.info()
    if info.date_min is None or info.date_max is None:
        return None
    first = max(sq.date_from, info.date_min) if sq.date_from else (
        everything.first if len(everything) else info.date_min)
    last = min(sq.date_to, info.date_max) if sq.date_to else (
        everything.last if len(everything) else info.date_max)
    return (first, last) if first <= last else None


def timeline(snapshot: Snapshot, sq: SearchQuery, queries: list[Series]) -> dict:
    filters = filters_of(sq)
    if "date" in filters:
        # The engine's day counts leave out the filter named "date" (the search histogram
        # charts every date and marks the selected ones); a timeline counts only within
        # from/to, so the range is handed over under a name no count leaves out.
        filters[WITHIN] = filters.pop("date")
    everything = snapshot.search(EngineRequest(query=None, filters=filters, limit=0,
                                               collapse=False, fields=False, days=True)).days
    span = _span(snapshot, sq, everything)
    interval = (histogram.resolve_span(sq.interval, *span) if span
                else "day" if sq.interval == "auto" else sq.interval)
    base = histogram.buckets(everything, interval, span=span) if span else []
    for b in base:  # a range that starts or ends within a bucket counts only its part of it
        if sq.date_from and b["from"] < sq.date_from.isoformat():
            b["from"] = sq.date_from.isoformat()
        if sq.date_to and b["to"] > sq.date_to.isoformat():
            b["to"] = sq.date_to.isoformat()
    totals = {b["value"]: b["count"] for b in base}
    series = []
    for s in queries:
        parsed = querytext.parse(s.q)
        days = snapshot.search(EngineRequest(query=parsed.match, filters=filters, limit=0,
                                             collapse=False, fields=False, days=True)).days
        counts = {b["value"]: b["count"] for b in histogram.buckets(days, interval, span=span)}
        series.append({"q": s.q, "label": s.label, "buckets": [
            {"value": b["value"], "from": b["from"], "to": b["to"],
             "count": counts.get(b["value"], 0),
             "share": round(counts.get(b["value"], 0) / totals[b["value"]], 6)
             if totals[b["value"]] else 0.0}
            for b in base]})
    return {"interval": interval, "query": sq.echo(), "series": series,
            "all": [{"value": b["value"], "from": b["from"], "to": b["to"], "count": b["count"]}
                    for b in base]}


def to_csv(doc: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["bucket", "from", "to", "all"]
    for s in doc["series"]:
        header += [f"{s['label']} count", f"{s['label']} share"]
    writer.writerow(map(export.cell, header))  # a label is whatever the user typed
    for i, b in enumerate(doc["all"]):
        row = [b["value"], b["from"], b["to"], b["count"]]
        for s in doc["series"]:
            row += [s["buckets"][i]["count"], s["buckets"][i]["share"]]
        writer.writerow(row)
    return out.getvalue()
