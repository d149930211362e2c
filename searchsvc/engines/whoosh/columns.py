"""Per-document columns of an opened generation: dates, facets, stories, field lengths, in numpy.

Everything that depends on *which* documents match, rather than on how well, runs as array
operations on boolean masks over all documents: a date filter is a comparison on the date
column, a facet filter ORs the documents of the selected values, a facet's counts are a
``bincount`` of its (document, value) pairs inside the mask or, when many match, of the
matches' combinations of facet values (exact either way), the day counts of the histogram a
``bincount`` of the date column, collapse an
operation on the story keys (a 63-bit hash of each story id, so stories compare across
segments without a dictionary of every id).

Columns come from each segment's array pack (``segments.ColumnsWriter``), mapped into memory
and remembered by segment id (:func:`segment_data`): segments never change once written, so a
generation made by an update opens only its new segment, and the rest is concatenated from
memory. Strings (ids, story ids, origins) stay packed and are decoded one at a time.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from searchsvc.engine import FACETS, TEXT_FIELDS
from searchsvc.engines.whoosh.packs import Lexicon, Strings, read_pack, story_key
from searchsvc.engines.whoosh.segments import PACK, STORIES_PACK

NO_DATE = -1
SEGMENT_CACHE = 512


@dataclass
class SegmentData:
    """What one segment's documents hold, by document number within the segment."""

    n: int
    date: np.ndarray                     # int32 ordinals, NO_DATE for undated
    lengths: dict[str, np.ndarray]       # exact token counts per text field
    facets: dict[str, tuple[list[str], np.ndarray, np.ndarray]]  # values, CSR offsets, vals
    story_key: np.ndarray
    stories: Strings
    ids: Strings
    hashes: Strings
    origins: Strings
    lexicons: dict[str, Lexicon] | None  # None: written before segments kept their terms
    _story_order: np.ndarray | None = None

    @property
    def story_order(self) -> np.ndarray:
        """The segment's documents sorted by story key (computed once per process: segments
        never change, and every generation that has the segment reuses it)."""
        if self._story_order is None:
            self._story_order = np.argsort(self.story_key, kind="stable")
        return self._story_order


_CACHE: OrderedDict[str, SegmentData] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def segment_data(segment_reader) -> SegmentData:
    """The columns of one Whoosh segment, mapped once per process."""
    seg = segment_reader.segment()
    folder = Path(segment_reader._storage.folder)
    pack = folder / seg.make_filename(PACK)
    # Keyed by the pack file itself (device, inode): generations share a segment's files by
    # hard links, while two indexes may hold segments of the same (random) name.
    stat = os.stat(pack)
    key = f"{stat.st_dev}:{stat.st_ino}"
    stories = folder / seg.make_filename(STORIES_PACK)
    if stories.exists():
        key += ":" + str(stories.stat().st_ino)  # written after the segment (a full build)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    data = read_segment(pack, stories, seg.doc_count_all())
    with _CACHE_LOCK:
        _CACHE[key] = data
        while len(_CACHE) > SEGMENT_CACHE:
            _CACHE.popitem(last=False)
    return data


def read_segment(path: Path, stories_path: Path | None, n: int) -> SegmentData:
    meta, a = read_pack(path)
    if stories_path is not None and stories_path.exists():
        _, s = read_pack(stories_path)
        a = {**a, **s}
    return SegmentData(
        n=n, date=a["date"],
        lengths={"title": a["len_title"], "body": a["len_body"]},
        facets={f: (meta["facets"][f], a[f"f:{f}:off"], a[f"f:{f}:val"]) for f in FACETS},
        story_key=a["story_key"], stories=Strings(a["story:blob"], a["story:off"]),
        ids=Strings(a["id:blob"], a["id:off"]), hashes=Strings(a["hash:blob"], a["hash:off"]),
        origins=Strings(a["origin:blob"], a["origin:off"]),
        lexicons={f: Lexicon(a[f"lex:{f}:keys"], a[f"lex:{f}:blob"], a[f"lex:{f}:off"])
                  for f in TEXT_FIELDS} if f"lex:{TEXT_FIELDS[0]}:keys" in a else None)


# Below this share of the archive matching, facet counts gather the matches' values (cost
# grows with the matches); above it, one pass over every (document, value) entry is cheaper.
GATHER_SHARE = 0.125
# Facet signatures (FacetSignatures) serve counts of more than this many matches, if the
# archive has at most SIGNATURE_SHARE as many value combinations as documents.
SIGNATURE_MIN_DOCS = 2048
SIGNATURE_SHARE = 0.25
SIGNATURE_SEED = 20261202


class Selection:
    """Sorted live documents some facets count (the matches, or the matches under every
    filter but one facet's), with their mask and the live documents outside them, each
    made once for all the facets that count the same documents."""

    def __init__(self, docs: np.ndarray, live: np.ndarray) -> None:
        self.docs = docs
        self.live = live
        self.n = len(live)
        self._mask: np.ndarray | None = None
        self._rest: np.ndarray | None = None

    @property
    def mask(self) -> np.ndarray:
        if self._mask is None:
            self._mask = np.zeros(self.n, bool)
            self._mask[self.docs] = True
        return self._mask

    @property
    def rest(self) -> np.ndarray:
        """The live documents not selected, ascending."""
        if self._rest is None:
            self._rest = np.flatnonzero(self.live & ~self.mask)
        return self._rest


@dataclass
class FacetColumn:
    """Multi-valued facet: every document's values, by document (CSR: ``doc_off[d]`` to
    ``doc_off[d + 1]`` in ``entry_val``); the documents of each value are indexed on first
    use of a filter."""

    name: str
    values: list[str]
    index: dict[str, int]
    doc_off: np.ndarray    # n + 1 offsets into entry_val
    entry_val: np.ndarray
    _by_value: tuple[np.ndarray, np.ndarray] | None = None  # (docs by value, value offsets)
    _live: np.ndarray | None = None  # counts over every live document
    _entry_doc: np.ndarray | None = None

    def mask_for(self, selected: Iterable[str], n: int) -> np.ndarray:
        """Documents having any of ``selected`` (values are OR-ed within a facet)."""
        ids = [self.index[v] for v in selected if v in self.index]
        mask = np.zeros(n, dtype=bool)
        if ids:
            docs, off = self._value_index()
            for v in ids:
                mask[docs[off[v]: off[v + 1]]] = True
        return mask

    def docs_for(self, value: str) -> np.ndarray:
        """The documents having ``value``, ascending."""
        vid = self.index.get(value)
        if vid is None:
            return np.zeros(0, np.int64)
        docs, off = self._value_index()
        return docs[off[vid]: off[vid + 1]]  # a view: a filter on "usa" copies nothing

    def _value_index(self) -> tuple[np.ndarray, np.ndarray]:
        """Every value's documents, ascending and each once, built on the first filter. The
        stable sort by value keeps each value's documents in document order, so a document
        listing a value twice is a neighbour of itself and is dropped here, once, rather
        than by a ``unique`` over half the archive on every request."""
        if self._by_value is None:
            order = np.argsort(self.entry_val, kind="stable")
            entry_doc = self.entry_doc[order].astype(np.int64)
            entry_val = self.entry_val[order]
            first = np.ones(len(order), dtype=bool)
            first[1:] = (entry_doc[1:] != entry_doc[:-1]) | (entry_val[1:] != entry_val[:-1])
            off = np.zeros(len(self.values) + 1, dtype=np.int64)
            np.cumsum(np.bincount(entry_val[first], minlength=len(self.values)), out=off[1:])
            docs = entry_doc[first]
            docs.flags.writeable = False  # handed out as views: no caller may change them
            self._by_value = (docs, off)
        return self._by_value

    def counts_of(self, selection: Selection) -> np.ndarray:
        """Documents per value among the selected ones. Few: their values are gathered;
        nearly all: the live counts minus the rest's; otherwise one pass over every
        entry."""
        n = selection.n
        if len(selection.docs) <= GATHER_SHARE * n:
            return self._gathered(selection.docs)
        if len(selection.rest) <= GATHER_SHARE * n:
            return self._live_counts(selection.live) - self._gathered(selection.rest)
        return np.bincount(self.entry_val[selection.mask[self.entry_doc]],
                           minlength=len(self.values))

    @property
    def entry_doc(self) -> np.ndarray:
        """The document of every entry (a gather through it is about twice as fast as
        repeating a mask by the documents' value counts)."""
        if self._entry_doc is None:
            self._entry_doc = np.repeat(np.arange(len(self.doc_off) - 1, dtype=np.int32),
                                        np.diff(self.doc_off))
        return self._entry_doc

    def _gathered(self, docs: np.ndarray) -> np.ndarray:
        return _gathered(self.doc_off, self.entry_val, docs, len(self.values))

    def _live_counts(self, live: np.ndarray) -> np.ndarray:
        if self._live is None:  # one snapshot's columns: ``live`` never changes
            self._live = np.bincount(self.entry_val[live[self.entry_doc]],
                                     minlength=len(self.values))
        return self._live

    def top(self, counts: np.ndarray, size: int, selected: Sequence[str] = (),
            ) -> list[tuple[str, int]]:
        """The ``size`` most frequent values by ``counts`` (ties in value order, so the list
        is stable between requests), then every selected value not among them."""
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
        lo, hi = int(self.doc_off[docnum]), int(self.doc_off[docnum + 1])
        return [self.values[v] for v in self.entry_val[lo:hi].tolist()]


class FacetSignatures:
    """Documents grouped by their whole combination of facet values (their *signature*): a
    million articles have a few tens of thousands of combinations (topics, places, people,
    orgs, source). A search's facet counts are then the matches per signature, one
    ``bincount`` over the matches, spread to the signatures' values: no pass over the three
    million (document, value) entries of every facet.

    Signatures are found by two independent 64-bit random sums of each document's values
    (Zobrist-style): documents with equal first sums are one signature, and a differing
    second sum inside a group (odds about 2^-64) means the grouping is not used at all."""

    def __init__(self, columns: Sequence[FacetColumn], n: int) -> None:
        self.names = [c.name for c in columns]
        rng = np.random.default_rng(SIGNATURE_SEED)
        first_sum, second_sum = np.zeros(n, np.uint64), np.zeros(n, np.uint64)
        for c in columns:
            for out in (first_sum, second_sum):
                keys = rng.integers(1, np.iinfo(np.int64).max, size=max(len(c.values), 1),
                                    dtype=np.int64).astype(np.uint64)
                out += _row_sums(c.doc_off, keys[c.entry_val])
        _, first, sig = np.unique(first_sum, return_index=True, return_inverse=True)
        self.count = len(first)
        self.usable = bool(np.array_equal(second_sum, second_sum[first][sig]))
        self.sig = sig.astype(np.int32)
        # Each signature's values, per facet: those of its first document.
        self.values: list[tuple[np.ndarray, np.ndarray, int]] = []
        for c in columns:
            starts = c.doc_off[first]
            lengths = c.doc_off[first + 1] - starts
            rows = np.repeat(np.arange(len(first)), lengths)
            at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + \
                np.arange(int(lengths.sum()))
            self.values.append((rows, c.entry_val[at], len(c.values)))

    def counts_of(self, docs: np.ndarray) -> dict[str, np.ndarray]:
        """Each facet's documents per value among ``docs``."""
        per_signature = np.bincount(self.sig[docs], minlength=self.count)
        return {name: np.bincount(vals, weights=per_signature[rows],
                                  minlength=size).astype(np.int64)
                for name, (rows, vals, size) in zip(self.names, self.values, strict=True)}


def _row_sums(doc_off: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The sum of each CSR row's ``values`` (unsigned: wrapping, as a hash may)."""
    running = np.zeros(len(values) + 1, np.uint64)
    np.cumsum(values, out=running[1:])
    return running[doc_off[1:]] - running[doc_off[:-1]]


def _gathered(doc_off: np.ndarray, entry_val: np.ndarray, docs: np.ndarray,
              values: int) -> np.ndarray:
    """Entries per value of the given documents (a CSR's rows gathered)."""
    starts = doc_off[docs]
    lengths = doc_off[docs + 1] - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(values, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.bincount(entry_val[shift + np.arange(total)], minlength=values)


@dataclass
class Columns:
    n: int
    live: np.ndarray
    date: np.ndarray                     # int64 ordinals, NO_DATE for undated or deleted
    facets: dict[str, FacetColumn]
    story_key: np.ndarray
    lengths: dict[str, np.ndarray]
    parts: list[tuple[SegmentData, int]]
    overrides: dict[int, str]            # docnum → story id set by an update
    _by_date: tuple[np.ndarray, np.ndarray] | None = None  # (docs in date order, their dates)
    _bases: list[int] = field(default_factory=list)      # each part's first docnum
    _signatures: FacetSignatures | None = None
    _days: tuple[np.ndarray, int, int] | None = None  # (day numbers, first ordinal, days)
    _all_days: tuple[np.ndarray, np.ndarray] | None = None
    _live_count: int | None = None

    def __post_init__(self) -> None:
        self._bases = [base for _, base in self.parts]

    @classmethod
    def assemble(cls, parts: Sequence[tuple[SegmentData, int]], live: np.ndarray,
                 overrides: dict[str, str],
                 docnum_of: Callable[[str], int | None]) -> Columns:
        n = len(live)

        def cat(get, dtype) -> np.ndarray:
            return (np.concatenate([get(d) for d, _ in parts]).astype(dtype) if parts
                    else np.zeros(0, dtype))

        date = cat(lambda d: d.date, np.int64)
        date[~live] = NO_DATE
        story = cat(lambda d: d.story_key, np.int64)
        by_doc: dict[int, str] = {}
        for article_id, story_id in overrides.items():
            d = docnum_of(article_id)
            if d is not None:
                story[d] = story_key(story_id)
                by_doc[d] = story_id
        lengths = {f: cat(lambda d, f=f: d.lengths[f], np.float32) for f in TEXT_FIELDS}
        facets = {name: _merge_facet(name, parts) for name in FACETS}
        return cls(n, live, date, facets, story, lengths, list(parts), by_doc)

    def facet_counts(self, selection: Selection, names: Sequence[str],
                     ) -> dict[str, np.ndarray]:
        """Documents per value of each named facet among the selected ones: by signature
        (:class:`FacetSignatures`) when they are more than a few, else by gathering their
        values facet by facet."""
        if not names:
            return {}
        if len(selection.docs) > SIGNATURE_MIN_DOCS:
            if self._signatures is None:  # once per snapshot, on the first large count
                self._signatures = FacetSignatures([self.facets[f] for f in FACETS], self.n)
            found = self._signatures
            if found.usable and found.count <= SIGNATURE_SHARE * self.n and \
                    len(selection.docs) > found.count // 4:
                counts = found.counts_of(selection.docs)
                return {name: counts[name] for name in names}
        return {name: self.facets[name].counts_of(selection) for name in names}

    def _part(self, d: int) -> tuple[SegmentData, int]:
        i = bisect.bisect_right(self._bases, d) - 1
        data, base = self.parts[i]
        return data, d - base

    def id_of(self, d: int) -> str:
        data, local = self._part(d)
        return data.ids[local]

    def story_of(self, d: int) -> str:
        if d in self.overrides:
            return self.overrides[d]
        data, local = self._part(d)
        return data.stories[local]

    def hash_of(self, d: int) -> str:
        data, local = self._part(d)
        return data.hashes[local]

    def origin_of(self, d: int) -> str:
        data, local = self._part(d)
        return data.origins[local]

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

    def dated_within(self, low_ordinal: int | None, high_ordinal: int | None,
                     most: int) -> np.ndarray | None:
        """The documents dated within [low, high], ascending, if at most ``most`` are; else
        None (the caller builds :meth:`date_mask`). A date filter of a week or a quarter is
        a slice of the documents in date order, so it costs its matches, not three passes
        over a million dates."""
        if self._by_date is None:  # once per snapshot, on the first date filter
            order = np.argsort(self.date, kind="stable").astype(np.int32)
            self._by_date = (order, self.date[order].astype(np.int32))  # ordinals fit
        order, dates = self._by_date
        low = max(low_ordinal, 0) if low_ordinal is not None else 0  # undated sort first
        # The bounds as int32 like the dates: a Python int would have numpy convert all the
        # million dates to int64 for each lookup (0.6 ms instead of microseconds).
        lo = int(dates.searchsorted(_ordinal(low), "left"))
        hi = int(dates.searchsorted(_ordinal(high_ordinal), "right")) \
            if high_ordinal is not None else len(dates)
        if hi - lo > most:
            return None
        return np.sort(order[lo:hi]).astype(np.int64) if hi > lo else np.zeros(0, np.int64)

    def day_counts_of(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ordinals, counts) of every day with matches (``docs``: distinct live documents),
        ascending. One count of the matches' day numbers (days since the archive's first;
        the undated in a bin after the last), made once per snapshot, in place of taking
        out the undated, finding the earliest and counting from it on every search."""
        if self._days is None:
            dated = self.date != NO_DATE
            first = int(self.date[dated].min()) if dated.any() else 0
            span = int(self.date[dated].max()) - first + 1 if dated.any() else 0
            self._days = (np.where(dated, self.date - first, span).astype(np.intp), first, span)
        numbers, first, span = self._days
        if len(docs) == self.live_count and self._all_days is not None:
            # every article (a page opened on no query, a date filter alone): counted once
            return self._all_days[0].copy(), self._all_days[1].copy()
        counts = np.bincount(numbers[docs])[:span]  # without the undated bin
        days = np.flatnonzero(counts)
        found = (days + first).astype(np.int64), counts[days].astype(np.int64)
        if len(docs) == self.live_count:
            self._all_days = found
        return found

    @property
    def live_count(self) -> int:
        if self._live_count is None:
            self._live_count = int(np.count_nonzero(self.live))
        return self._live_count


def _ordinal(value: int) -> np.int32:
    """A date bound in the date column's type (clamped: a bound past any date is still one)."""
    limit = np.iinfo(np.int32)
    return np.int32(min(max(value, limit.min), limit.max))


def _merge_facet(name: str, parts: Sequence[tuple[SegmentData, int]]) -> FacetColumn:
    index: dict[str, int] = {}
    offsets, vals = [np.zeros(1, np.int64)], []
    total = 0
    for data, _base in parts:
        local_values, local_off, entry_val = data.facets[name]
        remap = np.fromiter((index.setdefault(v, len(index)) for v in local_values),
                            dtype=np.int32, count=len(local_values))
        local = np.asarray(local_off, dtype=np.int64)
        offsets.append(local[1:] + total)
        total += int(local[-1]) if len(local) else 0
        if len(entry_val):
            vals.append(remap[entry_val])
    return FacetColumn(name, list(index), index, np.concatenate(offsets),
                       np.concatenate(vals) if vals else np.zeros(0, np.int32))
