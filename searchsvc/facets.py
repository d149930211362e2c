"""Per-document columns: filters, exact facet counts and the date histogram, in numpy.

When a searcher opens a generation, every document's date and facet values are read once (from
one compact Whoosh column) into arrays indexed by document number. Everything that depends on
*which* documents match, rather than on how well, then runs as vectorised array operations on
boolean masks over all documents:

* a date filter is a comparison on the date column; a facet filter ORs the posting lists of
  the selected values;
* a facet's counts are a ``bincount`` of its (document, value) pairs whose document is in the
  mask — exact, whatever the number of matches;
* the date histogram is a ``bincount`` of precomputed day/week/month/year bucket keys.

This replaces Whoosh's ``groupedby=`` faceting, which keeps every match and costs ~80 ms per
query for a ``DateRangeFacet`` on Reuters, and it sidesteps Whoosh's undercounted totals when a
date range is part of the scored query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

NO_DATE = -1
INTERVALS = ("day", "week", "month", "year")
MAX_BUCKETS = 5000


@dataclass
class FacetColumn:
    """Multi-valued facet: the (document, value) pairs of every live document."""

    name: str
    values: list[str]
    index: dict[str, int]
    entry_doc: np.ndarray
    entry_val: np.ndarray

    @classmethod
    def build(cls, name: str, per_doc: Sequence[Sequence[str]]) -> FacetColumn:
        index: dict[str, int] = {}
        docs: list[int] = []
        vals: list[int] = []
        for docnum, doc_values in enumerate(per_doc):
            for value in doc_values:
                vid = index.setdefault(value, len(index))
                docs.append(docnum)
                vals.append(vid)
        return cls(name, list(index), index, np.asarray(docs, dtype=np.int32),
                   np.asarray(vals, dtype=np.int32))

    def mask_for(self, selected: Iterable[str], n: int) -> np.ndarray:
        """Documents having any of ``selected`` (values are OR-ed within a facet)."""
        ids = [self.index[v] for v in selected if v in self.index]
        mask = np.zeros(n, dtype=bool)
        if ids:
            mask[self.entry_doc[np.isin(self.entry_val, ids)]] = True
        return mask

    def counts(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.entry_val[mask[self.entry_doc]], minlength=len(self.values))

    def top(self, mask: np.ndarray, size: int, selected: Sequence[str] = ()) -> list[dict]:
        """The ``size`` most frequent values in ``mask`` plus every selected value."""
        counts = self.counts(mask)
        nonzero = np.flatnonzero(counts)
        # Most frequent first; ties in value order, so the list is stable between requests.
        order = sorted(nonzero.tolist(), key=lambda v: (-int(counts[v]), self.values[v]))[:size]
        chosen = set(selected)
        out = [{"value": self.values[v], "count": int(counts[v]),
                "selected": self.values[v] in chosen} for v in order]
        shown = {item["value"] for item in out}
        for value in selected:
            if value not in shown:
                vid = self.index.get(value)
                out.append({"value": value, "count": int(counts[vid]) if vid is not None else 0,
                            "selected": True})
        return out


def _month_start(key: int) -> dt.date:
    return dt.date(key // 12, key % 12 + 1, 1)


@dataclass
class Columns:
    n: int
    live: np.ndarray
    date: np.ndarray
    facets: dict[str, FacetColumn]
    keys: dict[str, np.ndarray]

    @classmethod
    def build(cls, live: np.ndarray, dates: Sequence[int | None],
              facet_values: dict[str, Sequence[Sequence[str]]]) -> Columns:
        n = len(live)
        date = np.fromiter((NO_DATE if d is None else d for d in dates), dtype=np.int64, count=n)
        has = date != NO_DATE
        keys = {"day": date.copy()}
        week = date.copy()
        month = np.full(n, NO_DATE, dtype=np.int64)
        year = np.full(n, NO_DATE, dtype=np.int64)
        for i in np.flatnonzero(has).tolist():
            day = dt.date.fromordinal(int(date[i]))
            week[i] = date[i] - day.weekday()
            month[i] = day.year * 12 + day.month - 1
            year[i] = day.year
        keys.update(week=week, month=month, year=year)
        facets = {name: FacetColumn.build(name, values) for name, values in facet_values.items()}
        return cls(n, live, date, facets, keys)

    @property
    def has_date(self) -> np.ndarray:
        return self.date != NO_DATE

    def date_mask(self, date_from: dt.date | None, date_to: dt.date | None) -> np.ndarray:
        """Documents dated within [from, to]; undated documents match no date filter."""
        mask = self.date != NO_DATE
        if date_from:
            mask &= self.date >= date_from.toordinal()
        if date_to:
            mask &= self.date <= date_to.toordinal()
        return mask

    def date_range(self, mask: np.ndarray) -> tuple[dt.date, dt.date] | None:
        dates = self.date[mask & self.has_date]
        if not len(dates):
            return None
        return dt.date.fromordinal(int(dates.min())), dt.date.fromordinal(int(dates.max()))

    def auto_interval(self, mask: np.ndarray) -> str:
        span = self.date_range(mask)
        if span is None:
            return "day"
        days = (span[1] - span[0]).days
        if days <= 45:
            return "day"
        if days <= 26 * 7:
            return "week"
        if days <= 5 * 366:
            return "month"
        return "year"

    def histogram(self, mask: np.ndarray, interval: str,
                  selected: tuple[dt.date | None, dt.date | None] = (None, None),
                  ) -> list[dict]:
        """Buckets from the first to the last matching date, empty ones included."""
        keys = self.keys[interval][mask & self.has_date]
        if not len(keys):
            return []
        low, high = int(keys.min()), int(keys.max())
        counts = np.bincount(keys - low, minlength=high - low + 1)
        buckets = []
        key = low
        while key <= high:
            start, end, following = self._bucket(interval, key)
            count = int(counts[key - low])
            buckets.append({
                "value": start.isoformat(), "from": start.isoformat(), "to": end.isoformat(),
                "count": count, "selected": _within(start, end, selected),
            })
            key = following
        return buckets

    @staticmethod
    def _bucket(interval: str, key: int) -> tuple[dt.date, dt.date, int]:
        """(first day, last day, next key) of the bucket ``key``."""
        if interval == "day":
            day = dt.date.fromordinal(key)
            return day, day, key + 1
        if interval == "week":
            day = dt.date.fromordinal(key)
            return day, day + dt.timedelta(days=6), key + 7
        if interval == "month":
            start = _month_start(key)
            return start, _month_start(key + 1) - dt.timedelta(days=1), key + 1
        return dt.date(key, 1, 1), dt.date(key, 12, 31), key + 1

    def bucket_count(self, mask: np.ndarray, interval: str) -> int:
        keys = self.keys[interval][mask & self.has_date]
        if not len(keys):
            return 0
        span = int(keys.max()) - int(keys.min())
        return span // 7 + 1 if interval == "week" else span + 1


def _within(start: dt.date, end: dt.date, selected: tuple[dt.date | None, dt.date | None]) -> bool:
    low, high = selected
    if low is None and high is None:
        return False
    return (low is None or start >= low) and (high is None or end <= high)
