"""The date histogram's calendar: day counts from the engine → buckets of a day, week, month or
year, with the empty ones between the first and the last included.

Engines count matches per day (a ``bincount`` in Whoosh, a daily ``date_histogram`` in
OpenSearch); everything about calendars lives here, once: ``auto`` picks day (span ≤ 45
days), week (≤ 26 weeks, weeks start on Monday), month (≤ 5 years) or year; an explicit
interval that would make more than :data:`MAX_BUCKETS` buckets is refused; a bucket is
``selected`` when it lies within the search's from/to.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from searchsvc.engine import DayCounts
from searchsvc.errors import InvalidParameter

INTERVALS = ("day", "week", "month", "year")
MAX_BUCKETS = 5000
_EPOCH = dt.date(1970, 1, 1).toordinal()  # datetime64[D] counts days from here


def auto_interval(first: dt.date, last: dt.date) -> str:
    days = (last - first).days
    if days <= 45:
        return "day"
    if days <= 26 * 7:
        return "week"
    if days <= 5 * 366:
        return "month"
    return "year"


def bucket_start(day: dt.date, interval: str) -> dt.date:
    if interval == "day":
        return day
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return dt.date(day.year, 1, 1)


def bucket_end(start: dt.date, interval: str) -> dt.date:
    return next_start(start, interval) - dt.timedelta(days=1)


def next_start(start: dt.date, interval: str) -> dt.date:
    if interval == "day":
        return start + dt.timedelta(days=1)
    if interval == "week":
        return start + dt.timedelta(days=7)
    if interval == "month":
        return dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return dt.date(start.year + 1, 1, 1)


def bucket_count(first: dt.date, last: dt.date, interval: str) -> int:
    a, b = bucket_start(first, interval), bucket_start(last, interval)
    if interval == "day":
        return (b - a).days + 1
    if interval == "week":
        return (b - a).days // 7 + 1
    if interval == "month":
        return (b.year - a.year) * 12 + b.month - a.month + 1
    return b.year - a.year + 1


def resolve(interval: str, days: DayCounts) -> str:
    """The interval to use: ``auto`` chosen from the span; an explicit one checked."""
    if not len(days):
        return "day" if interval == "auto" else interval
    return resolve_span(interval, days.first, days.last)


def resolve_span(interval: str, first: dt.date, last: dt.date) -> str:
    """The interval for buckets from ``first`` to ``last``: ``auto`` chosen from the span; an
    explicit one checked against :data:`MAX_BUCKETS`."""
    if interval == "auto":
        return auto_interval(first, last)
    if bucket_count(first, last, interval) > MAX_BUCKETS:
        raise InvalidParameter(f"interval={interval} would make more than {MAX_BUCKETS} "
                               "buckets for these matches; use a coarser interval",
                               code="too_many_buckets")
    return interval


def start_ordinals(ordinals: np.ndarray, interval: str) -> np.ndarray:
    """Each day's bucket start, as ordinals — whole arrays at once, since a query over a
    decades-long archive counts thousands of days."""
    if interval == "day":
        return ordinals
    if interval == "week":
        return ordinals - (ordinals - 1) % 7  # ordinal 1 (0001-01-01) is a Monday
    unit = "M" if interval == "month" else "Y"
    days = (ordinals - _EPOCH).astype("datetime64[D]")
    return days.astype(f"datetime64[{unit}]").astype("datetime64[D]").astype(np.int64) + _EPOCH


def buckets(days: DayCounts, interval: str,
            selected: tuple[dt.date | None, dt.date | None] = (None, None),
            span: tuple[dt.date, dt.date] | None = None) -> list[dict]:
    """Buckets from the first to the last day with matches (``days`` ascending), or — with
    ``span`` (first day, last day) — from the bucket of the one to the bucket of the other,
    whether or not those have matches."""
    counts: dict[int, int] = {}
    if len(days):
        keys, where = np.unique(start_ordinals(days.ordinals, interval), return_index=True)
        sums = np.add.reduceat(days.counts, where)
        counts = dict(zip(keys.tolist(), sums.tolist(), strict=True))
    if span is not None:
        start, last = bucket_start(span[0], interval), bucket_start(span[1], interval)
    elif counts:
        start = dt.date.fromordinal(min(counts))
        last = dt.date.fromordinal(max(counts))
    else:
        return []
    out = []
    while start <= last:
        end = bucket_end(start, interval)
        out.append({"value": start.isoformat(), "from": start.isoformat(),
                    "to": end.isoformat(), "count": counts.get(start.toordinal(), 0),
                    "selected": _within(start, end, selected)})
        start = next_start(start, interval)
    return out


def _within(start: dt.date, end: dt.date, selected: tuple[dt.date | None, dt.date | None],
            ) -> bool:
    low, high = selected
    if low is None and high is None:
        return False
    return (low is None or start >= low) and (high is None or end <= high)
