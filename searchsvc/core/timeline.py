"""Coverage over time: how much of the archive several queries take up, bucket by bucket.

``GET /api/timeline`` takes up to :data:`MAX_SERIES` ``q`` parameters (each may start with a
label: ``opec:oil prices`` is the query "oil prices" labelled "opec" — unless the word before
the colon is a field name, so ``title:oil`` stays a query), the search's filters and an
interval. For each query, every bucket has ``count`` (matching articles) and ``share`` (that
count divided by all the articles of the bucket under the same filters — Media Cloud's
"attention"); ``all`` is the all-articles count of each bucket. Every series has the same
buckets: those of the all-articles span under the filters, empty ones included, so they line
up in a chart and in the CSV (``format=csv``: one row per bucket, a count and a share column
per series).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from searchsvc.core import histogram, querytext
from searchsvc.core.params import SearchQuery
from searchsvc.core.search import filters_of
from searchsvc.engine import EngineRequest, Snapshot
from searchsvc.errors import InvalidParameter

MAX_SERIES = 5


@dataclass(frozen=True)
class Series:
    q: str
    label: str


def series_of(values: list[str]) -> list[Series]:
    """The ``q`` parameters as (query, label) pairs."""
    values = [v.strip() for v in values if v and v.strip()]
    if not values:
        raise InvalidParameter("timeline needs at least one q")
    if len(values) > MAX_SERIES:
        raise InvalidParameter(f"at most {MAX_SERIES} q for a timeline")
    out = []
    for raw in values:
        head, sep, rest = raw.partition(":")
        if sep and head.strip() and rest.strip() and head.strip().lower() not in \
                querytext.FIELDS and " " not in head.strip():
            out.append(Series(rest.strip(), head.strip()))
        else:
            out.append(Series(raw, raw))
    return out


def timeline(snapshot: Snapshot, sq: SearchQuery, queries: list[Series]) -> dict:
    filters = filters_of(sq)
    everything = snapshot.search(EngineRequest(query=None, filters=filters, limit=0,
                                               collapse=False, fields=False, days=True)).days
    interval = histogram.resolve(sq.interval, everything)
    base = histogram.buckets(everything, interval)
    totals = {b["value"]: b["count"] for b in base}
    series = []
    for s in queries:
        parsed = querytext.parse(s.q)
        days = snapshot.search(EngineRequest(query=parsed.match, filters=filters, limit=0,
                                             collapse=False, fields=False, days=True)).days
        counts = {b["value"]: b["count"] for b in histogram.buckets(days, interval)}
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
    writer.writerow(header)
    for i, b in enumerate(doc["all"]):
        row = [b["value"], b["from"], b["to"], b["count"]]
        for s in doc["series"]:
            row += [s["buckets"][i]["count"], s["buckets"][i]["share"]]
        writer.writerow(row)
    return out.getvalue()
