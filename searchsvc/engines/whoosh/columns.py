"""Per-document columns of an opened generation: dates, facets, stories, field lengths, in numpy.

Everything that depends on *which* documents match, rather than on how well, runs as array
operations on boolean masks over all documents: a date filter is a comparison on the date
column, a facet filter ORs the documents of the selected values, a facet's counts are a
``bincount`` of its (document, value) pairs inside the mask (exact, whatever the number of
matches), the day counts of the histogram a ``bincount`` of the date column, collapse an
operation on the story column.

Columns are read per **segment** from the compact ``meta`` column and remembered by segment id
(:func:`segment_data`): segments never change once written, so a new generation made by an
update opens only its new segment, and the rest is concatenated from memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from searchsvc.engine import FACETS, TEXT_FIELDS
from searchsvc.engines.whoosh.schema import decode_meta

NO_DATE = -1
SEGMENT_CACHE = 256


@dataclass
class SegmentData:
    """What one segment's documents hold, by document number within the segment."""

    n: int
    ids: list[str]
    date: np.ndarray                     # int64 ordinals, NO_DATE for undated
    facets: dict[str, tuple[list[str], np.ndarray, np.ndarray]]  # values, entry docs, vals
    story: list[str]
    hashes: list[str]
    origins: list[str]
    lengths: dict[str, np.ndarray]       # exact token counts per text field (float32)


_CACHE: OrderedDict[str, SegmentData] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def segment_data(segment_reader) -> SegmentData:
    """The columns of one Whoosh segment, read once per process."""
    segid = segment_reader.segment().segment_id()
    with _CACHE_LOCK:
        found = _CACHE.get(segid)
        if found is not None:
            _CACHE.move_to_end(segid)
            return found
    data = _read_segment(segment_reader)
    with _CACHE_LOCK:
        _CACHE[segid] = data
        while len(_CACHE) > SEGMENT_CACHE:
            _CACHE.popitem(last=False)
    return data


def _read_segment(reader) -> SegmentData:
    n = reader.doc_count_all()
    ids = list(reader.column_reader("id")) if n else []
    metas = [decode_meta(raw) if raw else None for raw in reader.column_reader("meta")] \
        if n else []
    date = np.fromiter(((m["d"] if m and m["d"] is not None else NO_DATE) for m in metas),
                       dtype=np.int64, count=n)
    facets = {}
    for i, name in enumerate(FACETS):
        index: dict[str, int] = {}
        docs: list[int] = []
        vals: list[int] = []
        for d, m in enumerate(metas):
            if m:
                for value in m["f"][i]:
                    docs.append(d)
                    vals.append(index.setdefault(value, len(index)))
        facets[name] = (list(index), np.asarray(docs, dtype=np.int32),
                        np.asarray(vals, dtype=np.int32))
    lengths = {}
    for i, name in enumerate(TEXT_FIELDS):
        lengths[name] = np.fromiter(
            ((m["l"][i] if m and "l" in m else reader.doc_field_length(d, name, 0))
             for d, m in enumerate(metas)), dtype=np.float32, count=n)
    return SegmentData(
        n=n, ids=ids, date=date, facets=facets,
        story=[(m.get("s") or ids[d]) if m else ids[d] for d, m in enumerate(metas)],
        hashes=[m["h"] if m else "" for m in metas],
        origins=[m.get("o", "") if m else "" for m in metas],
        lengths=lengths,
    )


@dataclass
class FacetColumn:
    """Multi-valued facet: the (document, value) pairs of every document."""

    name: str
    values: list[str]
    index: dict[str, int]
    entry_doc: np.ndarray
    entry_val: np.ndarray

    def mask_for(self, selected: Iterable[str], n: int) -> np.ndarray:
        """Documents having any of ``selected`` (values are OR-ed within a facet)."""
        ids = [self.index[v] for v in selected if v in self.index]
        mask = np.zeros(n, dtype=bool)
        if ids:
            mask[self.entry_doc[np.isin(self.entry_val, ids)]] = True
        return mask

    def counts(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.entry_val[mask[self.entry_doc]], minlength=len(self.values))

    def top(self, mask: np.ndarray, size: int, selected: Sequence[str] = (),
            ) -> list[tuple[str, int]]:
        """The ``size`` most frequent values in ``mask`` (ties in value order, so the list is
        stable between requests), then every selected value not among them."""
        counts = self.counts(mask)
        nonzero = np.flatnonzero(counts)
        if len(nonzero) > size:
            # Only the candidates that can make the cut are sorted in Python.
            cut = np.partition(counts[nonzero], len(nonzero) - size)[len(nonzero) - size]
            nonzero = nonzero[counts[nonzero] >= cut]
        order = sorted(nonzero.tolist(), key=lambda v: (-int(counts[v]), self.values[v]))[:size]
        out = [(self.values[v], int(counts[v])) for v in order]
        shown = {value for value, _ in out}
        for value in selected:
            if value not in shown:
                vid = self.index.get(value)
                out.append((value, int(counts[vid]) if vid is not None else 0))
        return out

    def values_of(self, docnum: int) -> list[str]:
        lo, hi = np.searchsorted(self.entry_doc, [docnum, docnum + 1])
        return [self.values[v] for v in self.entry_val[lo:hi].tolist()]


@dataclass
class Columns:
    n: int
    live: np.ndarray
    ids: list[str]
    docnum: dict[str, int]               # live documents only
    date: np.ndarray
    facets: dict[str, FacetColumn]
    story_key: np.ndarray                # one number per story (the docnum of its first doc)
    story_id: list[str]                  # story id of each document
    hashes: list[str]
    origins: list[str]
    lengths: dict[str, np.ndarray]

    @classmethod
    def assemble(cls, parts: Sequence[tuple[SegmentData, int]], live: np.ndarray,
                 overrides: dict[str, str]) -> Columns:
        n = len(live)
        ids: list[str] = []
        story: list[str] = []
        hashes: list[str] = []
        origins: list[str] = []
        for data, _base in parts:
            ids.extend(data.ids)
            story.extend(data.story)
            hashes.extend(data.hashes)
            origins.extend(data.origins)
        date = (np.concatenate([d.date for d, _ in parts]) if parts
                else np.zeros(0, np.int64)).copy()
        date[~live] = NO_DATE
        facets = {name: _merge_facet(name, parts) for name in FACETS}
        lengths = {f: (np.concatenate([d.lengths[f] for d, _ in parts]) if parts
                       else np.zeros(0, np.float32)) for f in TEXT_FIELDS}
        docnum = {ids[d]: d for d in np.flatnonzero(live).tolist()}
        if overrides:
            for article_id, story_id in overrides.items():
                d = docnum.get(article_id)
                if d is not None:
                    story[d] = story_id
        keys: dict[str, int] = {}
        story_key = np.fromiter((keys.setdefault(s, d) for d, s in enumerate(story)),
                                dtype=np.int64, count=n)
        return cls(n, live, ids, docnum, date, facets, story_key, story, hashes, origins,
                   lengths)

    @property
    def has_date(self) -> np.ndarray:
        return self.date != NO_DATE

    def date_mask(self, low_ordinal: int | None, high_ordinal: int | None) -> np.ndarray:
        """Documents dated within [low, high]; undated documents match no date filter."""
        mask = self.date != NO_DATE
        if low_ordinal is not None:
            mask &= self.date >= low_ordinal
        if high_ordinal is not None:
            mask &= self.date <= high_ordinal
        return mask

    def day_counts(self, mask: np.ndarray) -> list[tuple[int, int]]:
        """(ordinal, count) of every day with matches, ascending."""
        dates = self.date[mask & self.has_date]
        if not len(dates):
            return []
        low = int(dates.min())
        counts = np.bincount(dates - low)
        days = np.flatnonzero(counts)
        return list(zip((days + low).tolist(), counts[days].tolist(), strict=True))


def _merge_facet(name: str, parts: Sequence[tuple[SegmentData, int]]) -> FacetColumn:
    index: dict[str, int] = {}
    docs, vals = [], []
    for data, base in parts:
        local_values, entry_doc, entry_val = data.facets[name]
        remap = np.fromiter((index.setdefault(v, len(index)) for v in local_values),
                            dtype=np.int32, count=len(local_values))
        if len(entry_doc):
            docs.append(entry_doc.astype(np.int64) + base)
            vals.append(remap[entry_val])
    return FacetColumn(
        name, list(index), index,
        np.concatenate(docs) if docs else np.zeros(0, np.int64),
        np.concatenate(vals) if vals else np.zeros(0, np.int32))
