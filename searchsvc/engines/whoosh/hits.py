"""The documents a query node matches, with their scores: sparse or dense, whichever is cheap.

A term's postings are a few documents or most of the archive. Held as arrays over *every*
document (a mask and a float score each), a rare term costs as much as a common one, and at a
million articles every node is megabytes of memory traffic. A :class:`Hits` is therefore
either

* **sparse**: the sorted document numbers and their scores, aligned (what postings give), or
* **dense**: a mask over every document and scores over every document (zero outside it),

and the combinations below pick the cheap form: an intersection walks the smallest operand
and looks the others up; a union of few documents sorts them, of many adds them into dense
arrays. Filters (dates, facet values) are usually dense masks. ``scores=None`` means every
score is zero (filters, ``*``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Unions that would hold more than this share of the archive are built dense.
SPARSE_SHARE = 1 / 16

_NO_IDS = np.zeros(0, np.int64)


@dataclass(frozen=True)
class Hits:
    ids: np.ndarray | None = None      # sparse: sorted, distinct document numbers
    mask: np.ndarray | None = None     # dense: a boolean per document
    scores: np.ndarray | None = None   # aligned with ids (sparse) or per document (dense)

    @property
    def dense(self) -> bool:
        return self.mask is not None

    def size(self) -> int:
        if self.mask is not None:
            return int(np.count_nonzero(self.mask))
        assert self.ids is not None
        return len(self.ids)

    def doc_ids(self) -> np.ndarray:
        """The matching documents, ascending."""
        if self.mask is not None:
            return np.flatnonzero(self.mask)
        assert self.ids is not None
        return self.ids

    def contains(self, docs: np.ndarray) -> np.ndarray:
        """For each of ``docs``: is it a match?"""
        if self.mask is not None:
            return self.mask[docs]
        assert self.ids is not None
        if len(docs) > 4 * len(self.ids) and _ascending(docs):
            # A tier of thousands among half a million matches: placing the few among the
            # many is a fraction of looking each of the many up among the few.
            out = np.zeros(len(docs), bool)
            found, pos = lookup(docs, self.ids)
            out[pos[found]] = True
            return out
        return lookup(self.ids, docs)[0]

    def scores_at(self, docs: np.ndarray) -> np.ndarray:
        """The scores of ``docs`` (zero for a document that is not a match)."""
        if self.scores is None or not len(docs):
            return np.zeros(len(docs), np.float32)
        if self.mask is not None:
            return self.scores[docs].astype(np.float32)
        assert self.ids is not None
        found, pos = lookup(self.ids, docs)
        out = np.zeros(len(docs), np.float32)
        out[found] = self.scores[pos[found]]
        return out

    def to_dense(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(mask, scores) over all ``n`` documents."""
        if self.mask is not None:
            scores = self.scores if self.scores is not None else np.zeros(n, np.float32)
            return self.mask, scores
        assert self.ids is not None
        mask = np.zeros(n, bool)
        mask[self.ids] = True
        scores = np.zeros(n, np.float32)
        if self.scores is not None:
            scores[self.ids] = self.scores
        return mask, scores


def sparse(ids: np.ndarray, scores: np.ndarray | None = None) -> Hits:
    return Hits(ids=ids.astype(np.int64, copy=False), scores=scores)


def dense(mask: np.ndarray, scores: np.ndarray | None = None) -> Hits:
    return Hits(mask=mask, scores=scores)


NOTHING = Hits(ids=_NO_IDS)


def lookup(sorted_ids: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is each of ``docs`` in ``sorted_ids``, its position there when it is)."""
    if not len(sorted_ids):
        return np.zeros(len(docs), bool), np.zeros(len(docs), np.int64)
    pos = np.searchsorted(sorted_ids, docs)
    np.minimum(pos, len(sorted_ids) - 1, out=pos)
    return sorted_ids[pos] == docs, pos


def _ascending(docs: np.ndarray) -> bool:
    """Are ``docs`` strictly ascending (sorted and distinct)?"""
    return bool(len(docs) < 2 or (docs[1:] > docs[:-1]).all())


def added(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
          ) -> tuple[np.ndarray, np.ndarray]:
    """Two postings-like lists (ascending distinct ids, their values) as one: the union of
    the ids, values added where both have one. A word's title postings are a fraction of its
    body postings: they are looked up in the longer list and the few ids it lacks inserted,
    in place of sorting both lists together (:func:`summed`). The values are float32 and
    each sum is the same as :func:`summed` gives (the float32 rounding of the exact sum)."""
    if len(a[0]) < len(b[0]):
        a, b = b, a
    ids, values = a[0], a[1].astype(np.float32)  # a copy, to add into
    if not len(b[0]):
        return ids, values
    found, pos = lookup(ids, b[0])
    values[pos[found]] += b[1][found]
    if found.all():
        return ids, values
    new = ~found
    at = np.searchsorted(ids, b[0][new])
    return np.insert(ids, at, b[0][new]), np.insert(values, at, b[1][new].astype(np.float32))


def summed(ids: np.ndarray, weights: np.ndarray | None = None,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the distinct ``ids`` ascending, the sum of their ``weights`` (or their count), how
    many times each occurs). ``ids`` are usually sorted runs laid end to end (each posting
    list of a union, a term's postings): a stable sort merges such runs in linear time,
    where ``np.unique`` sorts from scratch (12 ms against 4 ms for a common word's title and
    body postings at a million articles)."""
    if not len(ids):
        return ids, np.zeros(0, np.float64), np.zeros(0, np.int64)
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    group = np.cumsum(first) - 1
    counts = np.bincount(group)
    sums = np.bincount(group, weights=weights[order]) if weights is not None \
        else counts.astype(np.float64)
    return ordered[first], sums, counts


def all_of(parts: Sequence[Hits], n: int) -> Hits:
    """Documents in every part, scores added: the smallest part, looked up in the others."""
    if not parts:
        return NOTHING
    if len(parts) == 1:  # a search without filters: its matches as they are, not a copy
        return parts[0]
    ordered = sorted(parts, key=lambda h: (h.dense, h.size()))
    first = ordered[0]
    if not first.dense:
        assert first.ids is not None
        ids = first.ids
        scores = first.scores.astype(np.float32) if first.scores is not None else None
        for h in ordered[1:]:
            keep = h.contains(ids)
            ids = ids[keep]
            scores = scores[keep] if scores is not None else None
            if h.scores is not None:
                extra = h.scores_at(ids)
                scores = extra if scores is None else scores + extra
            if not len(ids):
                break
        return sparse(ids, scores)
    mask = first.mask.copy()  # type: ignore[union-attr]
    for h in ordered[1:]:
        mask &= h.mask
    total = _dense_scores(ordered, n)
    return dense(mask, None if total is None else np.where(mask, total, 0).astype(np.float32))


def any_of(parts: Sequence[Hits], n: int, at_least: int = 1) -> Hits:
    """Documents in at least ``at_least`` of the parts (one by default), scores added."""
    parts = [h for h in parts if h.dense or len(h.ids)]  # type: ignore[arg-type]
    if len(parts) < max(at_least, 1):
        return NOTHING
    if len(parts) == 1:
        return parts[0]
    if not any(h.dense for h in parts) and \
            sum(h.size() for h in parts) <= SPARSE_SHARE * n:
        if len(parts) == 2 and at_least <= 1:
            a, b = parts
            scored = a.scores is not None or b.scores is not None
            ids, values = added(*((h.ids, h.scores if h.scores is not None
                                   else np.zeros(len(h.ids), np.float32))  # type: ignore[arg-type]
                                  for h in parts))
            return sparse(ids, values if scored else None)
        ids = np.concatenate([h.ids for h in parts])
        weights = np.concatenate([h.scores if h.scores is not None
                                  else np.zeros(len(h.ids), np.float32)  # type: ignore[arg-type]
                                  for h in parts])
        uniq, sums, counts = summed(ids, weights)
        scores = sums.astype(np.float32)
        if at_least > 1:
            keep = counts >= at_least
            return sparse(uniq[keep], scores[keep])
        return sparse(uniq, scores)
    total = _dense_scores(parts, n)
    if at_least <= 1:
        # Any part will do: the mask is their union, and the summed scores are already zero
        # outside it (every part's are outside its own documents), with no pass to clear.
        mask = np.zeros(n, bool)
        for h in parts:
            if h.dense:
                mask |= h.mask
            else:
                mask[h.ids] = True
        return dense(mask, total)
    counts = np.zeros(n, np.int32)
    for h in parts:
        if h.dense:
            counts += h.mask
        else:
            counts[h.ids] += 1
    mask = counts >= at_least
    return dense(mask, None if total is None
                 else np.where(mask, total, 0).astype(np.float32, copy=False))


def plus_scores(base: Hits, extra: Hits) -> Hits:
    """``base``'s documents, with the scores ``extra`` gives them added."""
    if extra.scores is None:
        return base
    if base.dense:
        _, more = extra.to_dense(len(base.mask))  # type: ignore[arg-type]
        scores = more if base.scores is None else base.scores + more
        return dense(base.mask, np.where(base.mask, scores, 0).astype(np.float32))  # type: ignore[arg-type]
    assert base.ids is not None
    more = extra.scores_at(base.ids)
    return sparse(base.ids, more if base.scores is None else base.scores + more)


def without(base: Hits, excluded: Hits) -> Hits:
    """``base``'s documents that are not in ``excluded``."""
    if base.dense:
        mask = base.mask.copy()  # type: ignore[union-attr]
        if excluded.dense:
            mask &= ~excluded.mask  # type: ignore[operator]
        else:
            mask[excluded.ids] = False
        scores = np.where(mask, base.scores, 0).astype(np.float32) \
            if base.scores is not None else None
        return dense(mask, scores)
    assert base.ids is not None
    keep = ~excluded.contains(base.ids)
    return sparse(base.ids[keep], base.scores[keep] if base.scores is not None else None)


def _dense_scores(parts: Sequence[Hits], n: int) -> np.ndarray | None:
    total: np.ndarray | None = None
    for h in parts:
        if h.scores is None:
            continue
        if total is None:
            total = np.zeros(n, np.float32)
        if h.dense:
            total += h.scores
        else:
            total[h.ids] += h.scores
    return total
