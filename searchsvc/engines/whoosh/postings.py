"""Posting lists as arrays: views of memory-mapped segment files for the text fields.

A text term's postings in a segment are one ``codec.ArrayCodec`` record: document numbers,
term frequencies and positions as arrays, read by slicing the segment's postings file, mapped
into memory once per process and shared by every generation that has the segment (segments
never change). Other fields (keywords, ids, dates) are read from Whoosh's W3 blocks, taking
each block's arrays whole. Results are cached per opened generation (an as-you-type search
asks for the same terms again at every keystroke, and one search reads a word's postings more
than once), up to ``SEARCHSVC_POSTINGS_CACHE_MB`` of arrays (:data:`CACHE_BYTES` by default):
at a million articles one common word's postings with positions are tens of MB, and a cache
of a few thousand of them made a worker grow past 2 GB. At a million articles 128 MB cost
a worker about 90 MB more than 64 MB and bought no latency that the 528-query scale set could
tell from noise (first runs read other words than the last search's), hence 64.
"""

from __future__ import annotations

import bisect
import mmap
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import TermNotFound

from searchsvc.engines.whoosh.codec import TEXT_FIELDS, read_record
from searchsvc.engines.whoosh.packs import Lexicon

CACHE_ENTRIES = 4096
CACHE_BYTES = 64 * 1024 * 1024  # per opened generation (one per worker)
_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.float32))
_MAPS: dict[tuple[int, int], mmap.mmap] = {}
_MAPS_LOCK = threading.Lock()


def _mapped(path: Path) -> mmap.mmap:
    """The segment's postings file, mapped once per process. Keyed by the file itself (device
    and inode): generations share a segment's files by hard links, while two indexes may hold
    segments of the same name."""
    stat = os.stat(path)
    key = (stat.st_dev, stat.st_ino)
    with _MAPS_LOCK:
        found = _MAPS.get(key)
        if found is None:
            with open(path, "rb") as fh:
                found = _MAPS[key] = mmap.mmap(fh.fileno(), stat.st_size,
                                               access=mmap.ACCESS_READ) \
                    if stat.st_size else mmap.mmap(-1, 1)
            if len(_MAPS) > 1024:  # segments long merged away
                _MAPS.pop(next(iter(_MAPS)))
        return found


class TermList:
    """A sorted list of terms with :class:`~searchsvc.engines.whoosh.packs.Lexicon`'s
    interface: the lexicon of a segment written before segments kept their terms."""

    def __init__(self, terms: list[str]):
        self.terms = terms

    def __len__(self) -> int:
        return len(self.terms)

    def __getitem__(self, i: int) -> str:
        return self.terms[i]

    def find(self, term: str) -> int:
        return bisect.bisect_left(self.terms, term)

    def span(self, prefix: str) -> tuple[int, int]:
        if not prefix:
            return 0, len(self.terms)
        return self.find(prefix), self.find(prefix + "\U0010ffff")


class Positions:
    """A text term's postings with their positions, over every segment: per segment the
    mapped record's arrays as they are (``docs``, ``tfs``, flat ``pos``: views, not copies),
    and where each document's positions start. Only the positions of the documents asked
    for are read: a proximity bonus on the best thousand matches touches their pages, not a
    common word's tens of megabytes."""

    def __init__(self, parts: Sequence[tuple[int, np.ndarray, np.ndarray, np.ndarray]]):
        self.parts = [(base, docs, tfs, pos, np.concatenate([[0], np.cumsum(tfs, dtype=np.int64)]))
                      for base, docs, tfs, pos in parts]

    @property
    def nbytes(self) -> int:
        """Memory of its own (the starts; the rest is the mapped file)."""
        return sum(starts.nbytes for *_, starts in self.parts)

    def keys_at(self, at: np.ndarray) -> np.ndarray:
        """:meth:`keys` of the documents at places ``at`` (ascending) of the term's postings
        (``Postings.get``: the segments' records in the same order). A phrase's candidates
        were found by looking them up in each word's postings: their places are known, and
        looking the documents up again in each segment was a third of reading positions."""
        out = []
        offset = 0
        for base, local, tfs, pos, starts in self.parts:
            lo, hi = np.searchsorted(at, [offset, offset + len(local)])
            sel = at[lo:hi] - offset
            offset += len(local)
            if len(sel):
                out.append(self._keys_of(base, local, tfs, pos, starts, sel))
        if not out:
            return np.zeros(0, np.int64)
        return out[0] if len(out) == 1 else np.concatenate(out)

    @staticmethod
    def _keys_of(base: int, local: np.ndarray, tfs: np.ndarray, pos: np.ndarray,
                 starts: np.ndarray, sel: np.ndarray) -> np.ndarray:
        counts = tfs[sel].astype(np.int64)
        offsets = np.cumsum(counts) - counts
        take = np.repeat(starts[sel] - offsets, counts) + np.arange(int(counts.sum()))
        return (np.repeat(local[sel].astype(np.int64) + base, counts) << 32) \
            | pos[take].astype(np.int64)

    def keys(self, docs: np.ndarray) -> np.ndarray:
        """``doc << 32 | position`` of every position in the given documents (sorted)."""
        docs = np.asarray(docs, dtype=np.int64)
        if len(docs) > 1 and bool(np.any(docs[1:] < docs[:-1])):
            docs = np.sort(docs)
        out = []
        for base, local, tfs, pos, starts in self.parts:
            if not len(local):
                continue
            lo, hi = np.searchsorted(docs, [base + int(local[0]), base + int(local[-1]) + 1])
            if lo == hi:
                continue
            wanted = docs[lo:hi] - base
            at = np.searchsorted(local, wanted)
            sel = at[local[at] == wanted]  # wanted ≤ local[-1]: ``at`` is in range
            if len(sel):
                out.append(self._keys_of(base, local, tfs, pos, starts, sel))
        if not out:
            return np.zeros(0, np.int64)
        return out[0] if len(out) == 1 else np.concatenate(out)


def _nbytes(value) -> int:
    """What a cached value holds in arrays (a term list: about a word's size per term)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, Positions):
        return value.nbytes
    if isinstance(value, TermList):
        return 64 * len(value)
    return 64


class Postings:
    def __init__(self, reader, lexicons: Sequence[dict[str, Lexicon] | None] = (),
                 cache_bytes: int = CACHE_BYTES):
        self.reader = reader
        self.cache_bytes = cache_bytes
        self.leaves = list(reader.leaf_readers()) if reader.doc_count_all() else []
        self._lexicons = list(lexicons) or [None] * len(self.leaves)
        # Mapped now, not at the first search: a request still running on this generation
        # after newer builds pruned it keeps reading the (unlinked) files.
        self._maps = [_mapped(Path(segment._storage.folder)
                              / segment.segment().make_filename(".pst"))
                      for segment, _base in self.leaves]
        self._cache: OrderedDict = OrderedDict()  # key → (value, bytes), least recent first
        self._cached_bytes = 0

    def remember(self, key, value):
        size = _nbytes(value)
        old = self._cache.pop(key, None)
        if old is not None:
            self._cached_bytes -= old[1]
        if size > self.cache_bytes // 4:
            return value  # one huge list would evict everything else, for one request
        self._cache[key] = (value, size)
        self._cached_bytes += size
        while self._cache and (len(self._cache) > CACHE_ENTRIES
                               or self._cached_bytes > self.cache_bytes):
            self._cached_bytes -= self._cache.popitem(last=False)[1][1]
        return value

    def cached(self, key):
        found = self._cache.get(key)
        if found is None:
            return None
        self._cache.move_to_end(key)
        return found[0]

    def _records(self, fieldname: str, text: str):
        """(base, docs, tfs, pos) of the term's record in each segment that has it."""
        for i, (segment, base) in enumerate(self.leaves):
            try:
                info = segment.term_info(fieldname, text)
            except (TermNotFound, KeyError, ValueError):
                continue
            docs, tfs, pos = read_record(self._maps[i], info.extent()[0])
            yield base, docs, tfs, pos

    def get(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(docnums, term frequencies) of one term over every segment, docnums ascending."""
        key = (fieldname, text)
        cached = self.cached(key)
        if cached is not None:
            return cached
        if fieldname in TEXT_FIELDS:
            parts = [(docs.astype(np.int64) + base, tfs.astype(np.float32))
                     for base, docs, tfs, _ in self._records(fieldname, text)]
        else:
            parts = list(self._blocks(fieldname, text))
        result = ((np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
                  if parts else _EMPTY)
        return self.remember(key, result)

    def _blocks(self, fieldname: str, text: str):
        """W3 blocks of a keyword field, each block's arrays taken whole."""
        for segment, base in self.leaves:
            try:
                if (fieldname, text) not in segment:
                    continue
            except Exception:  # a value the field cannot hold matches nothing
                return
            m = segment.postings(fieldname, text)
            if isinstance(m, W3LeafMatcher):
                while m.is_active():
                    m._read_ids()
                    m._read_weights()
                    yield (np.asarray(m._ids, dtype=np.int64) + base,
                           np.asarray(m._weights, dtype=np.float32))
                    m._next_block()
            else:
                ids, tfs = [], []
                while m.is_active():
                    ids.append(m.id())
                    tfs.append(m.weight())
                    m.next()
                yield np.asarray(ids, dtype=np.int64) + base, np.asarray(tfs, dtype=np.float32)

    def positions(self, fieldname: str, text: str) -> Positions:
        """A text term's postings with positions, over every segment."""
        key = ("positions", fieldname, text)
        cached = self.cached(key)
        if cached is not None:
            return cached
        found = Positions(list(self._records(fieldname, text)))
        return self.remember(key, found)

    def prefixed(self, fieldname: str, prefix: str, limit: int) -> list[str]:
        """Index terms starting with ``prefix`` (a range of each segment's lexicon)."""
        found: set[str] = set()
        for lexicon in self.lexicons(fieldname):
            lo, hi = lexicon.span(prefix)
            found.update(lexicon[i] for i in range(lo, min(hi, lo + limit + 1)))
            if len(found) > limit:
                break
        return sorted(found)[: limit + 1]

    def lexicons(self, fieldname: str) -> list[Lexicon | TermList]:
        """Each segment's sorted terms of a field (a term may be in several)."""
        out: list[Lexicon | TermList] = []
        for i, (segment, _base) in enumerate(self.leaves):
            packed = self._lexicons[i]
            if packed is not None and fieldname in packed:
                out.append(packed[fieldname])
                continue
            key = ("lexicon", fieldname, i)
            cached = self.cached(key)
            if cached is None:
                cached = self.remember(key, TermList(sorted(
                    t.decode("utf-8") if isinstance(t, bytes) else t
                    for t in segment.lexicon(fieldname))))
            out.append(cached)
        return out

    def doc_frequency(self, fieldname: str, text: str) -> int:
        return sum(segment.doc_frequency(fieldname, text) for segment, _ in self.leaves)
