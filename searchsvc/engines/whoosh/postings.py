"""Posting lists as arrays, read block by block from Whoosh's segments.

Whoosh's matchers hand out one posting per Python call; a W3 posting block already holds its
document numbers and weights as arrays, so they are taken whole. Positions are decoded only
for the documents a phrase or proximity clause needs. Both are cached per opened generation
(an as-you-type search asks for the same terms again at every keystroke).
"""

from __future__ import annotations

import itertools
import pickle
from collections import OrderedDict

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher

CACHE_ENTRIES = 4096
_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.float32))


class Postings:
    def __init__(self, reader):
        self.reader = reader
        self.leaves = list(reader.leaf_readers())
        self._cache: OrderedDict = OrderedDict()

    def remember(self, key, value):
        self._cache[key] = value
        if len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return value

    def cached(self, key):
        return self._cache.get(key)

    def get(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(docnums, term frequencies) of one term over every segment, docnums ascending."""
        key = (fieldname, text)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        for segment, base in self.leaves:
            try:
                if (fieldname, text) not in segment:
                    continue
            except Exception:  # a value the field cannot hold matches nothing
                break
            m = segment.postings(fieldname, text)
            if isinstance(m, W3LeafMatcher):
                while m.is_active():
                    m._read_ids()
                    m._read_weights()
                    id_parts.append(np.asarray(m._ids, dtype=np.int64) + base)
                    tf_parts.append(np.asarray(m._weights, dtype=np.float32))
                    m._next_block()
            else:
                ids, tfs = [], []
                while m.is_active():
                    ids.append(m.id())
                    tfs.append(m.weight())
                    m.next()
                id_parts.append(np.asarray(ids, dtype=np.int64) + base)
                tf_parts.append(np.asarray(tfs, dtype=np.float32))
        result = ((np.concatenate(id_parts), np.concatenate(tf_parts)) if id_parts
                  else _EMPTY)
        return self.remember(key, result)

    def positions(self, fieldname: str, text: str) -> tuple[np.ndarray, list[bytes]]:
        """(docnums, encoded position lists) of one term; decode with :func:`decode`."""
        key = ("positions", fieldname, text)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ids: list[np.ndarray] = []
        values: list[bytes] = []
        for segment, base in self.leaves:
            if (fieldname, text) not in segment:
                continue
            m = segment.postings(fieldname, text)
            while m.is_active():
                if isinstance(m, W3LeafMatcher):
                    m._read_ids()
                    m._read_values()
                    ids.append(np.asarray(m._ids, dtype=np.int64) + base)
                    values.extend(m._values)
                    m._next_block()
                else:
                    ids.append(np.asarray([m.id() + base], dtype=np.int64))
                    values.append(m.value())
                    m.next()
        result = (np.concatenate(ids) if ids else np.zeros(0, np.int64), values)
        return self.remember(key, result)

    def terms_matching(self, fieldname: str, accept, limit: int) -> list[str]:
        """Index terms of a field for which ``accept(term)`` holds (at most ``limit`` + 1)."""
        found: set[str] = set()
        for segment, _base in self.leaves:
            for raw in segment.lexicon(fieldname):
                term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                if accept(term):
                    found.add(term)
                    if len(found) > limit:
                        return sorted(found)
        return sorted(found)

    def prefixed(self, fieldname: str, prefix: str, limit: int) -> list[str]:
        """Index terms starting with ``prefix`` (one sequential range read per segment)."""
        found: set[str] = set()
        for segment, _base in self.leaves:
            for raw in itertools.islice(segment.expand_prefix(fieldname, prefix), limit + 1):
                found.add(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
            if len(found) > limit:
                break
        return sorted(found)[: limit + 1]

    def lexicon(self, fieldname: str) -> list[str]:
        """Every term of a field, sorted and distinct (read once, on first use)."""
        key = ("lexicon", fieldname)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        terms: set[str] = set()
        for segment, _base in self.leaves:
            terms.update(t.decode("utf-8") if isinstance(t, bytes) else t
                         for t in segment.lexicon(fieldname))
        return self.remember(key, sorted(terms))

    def doc_frequency(self, fieldname: str, text: str) -> int:
        return sum(segment.doc_frequency(fieldname, text) for segment, _ in self.leaves)


def decode(value: bytes) -> list[int]:
    """A W3 position list (Whoosh's ``Positions.decode_positions``, without its checks)."""
    position = 0
    out = []
    for code in pickle.loads(value[4:] if value.endswith(b".") else value[4:] + b"."):
        position += code
        out.append(position)
    return out
