"""The neutral query tree evaluated over one generation: document masks and BM25 scores.

Every node becomes ``(mask, scores)``: a boolean array over all documents and a float array
that is zero outside the mask. Leaves read posting lists (``postings``); booleans combine
arrays; filters come from the columns. Scores follow Lucene's BM25 (so both engines rank
alike; OpenSearch's "BM25" keeps the ``k1 + 1`` factor, so scores are equal too): per text
field, ``idf · (k1 + 1) · tf / (tf + k1·(1 − b + b·dl/avgdl))`` with
``idf = ln(1 + (N − df + 0.5)/(df + 0.5))`` and ``dl`` rounded as Lucene stores field lengths
(exact below 24, then four significant bits); a clause on the article's text sums its title
and body scores. A phrase is scored as one term whose frequency is its number of occurrences
and whose idf is the sum of its words'; prefix, wildcard and fuzzy clauses sum the scores of
the index terms they expand to (at most ``max_terms`` in all, or the query is refused).
"""

from __future__ import annotations

import bisect
import fnmatch
import itertools
import math
import re
from collections.abc import Iterable

import numpy as np
from whoosh.codec.base import Automata

from searchsvc.engine import (
    BM25_B,
    BM25_K1,
    TEXT_FIELDS,
    Bool,
    DateRange,
    Every,
    Fuzzy,
    Near,
    Phrase,
    Prefix,
    Query,
    Term,
    Value,
    Wildcard,
)
from searchsvc.engines.whoosh.columns import Columns
from searchsvc.engines.whoosh.postings import Postings, decode
from searchsvc.errors import QueryTooExpensive

K1 = BM25_K1
B = BM25_B
MAX_EDIT_DISTANCE = 2
_FREE = 24  # Lucene SmallFloat.intToByte4: lengths below this are stored exactly


def lucene_length(lengths: np.ndarray) -> np.ndarray:
    """Field lengths as Lucene's norms keep them (``SmallFloat.byte4ToInt(intToByte4(n))``:
    exact below 24, then the four most significant bits of ``n - 24``)."""
    n = lengths.astype(np.int64)
    rest = np.maximum(n - _FREE, 0)
    bits = np.zeros_like(rest)
    positive = rest > 0
    bits[positive] = np.floor(np.log2(rest[positive])).astype(np.int64) + 1
    shift = np.maximum(bits - 4, 0)
    kept = (rest >> shift) << shift
    return np.where(n >= _FREE, _FREE + kept, n).astype(np.float32)


def idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class _ListCursor:
    """The term-cursor interface Whoosh's Levenshtein automaton walks, over a sorted list."""

    def __init__(self, words: list[str]):
        self.words = words
        self.i = 0

    def text(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def find(self, term: str) -> None:
        self.i = bisect.bisect_left(self.words, term)


class Evaluator:
    def __init__(self, columns: Columns, postings: Postings, max_terms: int = 1024):
        self.columns = columns
        self.postings = postings
        self.max_terms = max_terms
        self.n = columns.n
        self.norm_lengths = {f: lucene_length(columns.lengths[f]) for f in TEXT_FIELDS}
        self.field_docs = {}
        self.avg_length = {}
        for f in TEXT_FIELDS:
            lengths = columns.lengths[f]
            present = int(np.count_nonzero(lengths))
            self.field_docs[f] = max(present, 1)
            self.avg_length[f] = float(lengths.sum()) / present if present else 1.0
        self._expansions: dict[tuple, list[str]] = {}
        self._budget = max_terms

    # -- entry points -----------------------------------------------------------------------

    def evaluate(self, q: Query | None) -> tuple[np.ndarray, np.ndarray]:
        """(mask, scores) over live documents; None matches every live document."""
        self._budget = self.max_terms
        live = self.columns.live
        if q is None:
            return live.copy(), np.zeros(self.n, np.float32)
        mask, scores = self._eval(q)
        mask &= live
        return mask, np.where(mask, scores, 0).astype(np.float32)

    def mask(self, q: Query | None) -> np.ndarray:
        return self.evaluate(q)[0]

    # -- nodes -------------------------------------------------------------------------------

    def _empty(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.n, bool), np.zeros(self.n, np.float32)

    def _eval(self, q: Query) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(q, Term):
            return self._sum_fields(q.field, lambda f: self._term(f, q.text, q.boost))
        if isinstance(q, Phrase):
            return self._sum_fields(q.field, lambda f: self._phrase(f, q.terms, q.slop,
                                                                    q.boost))
        if isinstance(q, Near):
            return self._sum_fields(q.left.field, lambda f: self._near(f, q))
        if isinstance(q, (Prefix, Wildcard, Fuzzy)):
            return self._sum_fields(q.field, lambda f: self._expanded(f, q))
        if isinstance(q, Value):
            return self._value(q), np.zeros(self.n, np.float32)
        if isinstance(q, DateRange):
            low = q.low.toordinal() if q.low else None
            high = q.high.toordinal() if q.high else None
            return self.columns.date_mask(low, high), np.zeros(self.n, np.float32)
        if isinstance(q, Every):
            return self.columns.live.copy(), np.zeros(self.n, np.float32)
        if isinstance(q, Bool):
            return self._bool(q)
        raise TypeError(f"not a query node: {q!r}")

    def _sum_fields(self, fld: str | None, one) -> tuple[np.ndarray, np.ndarray]:
        if fld is not None:
            return one(fld)
        mask, scores = one(TEXT_FIELDS[0])
        for f in TEXT_FIELDS[1:]:
            m, s = one(f)
            mask = mask | m
            scores = scores + s
        return mask, scores

    def _bm25(self, fld: str, ids: np.ndarray, freq: np.ndarray, weight: float,
              ) -> np.ndarray:
        norm = K1 * (1 - B + B * self.norm_lengths[fld][ids] / self.avg_length[fld])
        return (weight * (K1 + 1) * freq / (freq + norm)).astype(np.float32)

    def _term(self, fld: str, text: str, boost: float) -> tuple[np.ndarray, np.ndarray]:
        mask, scores = self._empty()
        ids, tf = self.postings.get(fld, text)
        if not len(ids):
            return mask, scores
        mask[ids] = True
        if fld in TEXT_FIELDS:
            weight = boost * idf(len(ids), self.field_docs[fld])
            scores[ids] = self._bm25(fld, ids, tf, weight)
        return mask, scores

    def _value(self, q: Value) -> np.ndarray:
        cols = self.columns
        if q.field == "id":
            mask = np.zeros(self.n, bool)
            d = cols.docnum.get(q.value)
            if d is not None:
                mask[d] = True
            return mask
        if q.field == "story":
            d = cols.docnum.get(q.value)
            keys = {cols.story_key[d]} if d is not None else set()
            # A story's id is normally its first article's; after that article is deleted the
            # story keeps its id, so look it up by id as well.
            try:
                first = cols.story_id.index(q.value)
                keys.add(cols.story_key[first])
            except ValueError:
                pass
            return np.isin(cols.story_key, list(keys)) if keys else np.zeros(self.n, bool)
        column = cols.facets.get(q.field)
        if column is None:
            return np.zeros(self.n, bool)
        return column.mask_for([q.value], self.n)

    def _bool(self, q: Bool) -> tuple[np.ndarray, np.ndarray]:
        mask = None
        scores = np.zeros(self.n, np.float32)
        for child in q.must:
            m, s = self._eval(child)
            mask = m if mask is None else mask & m
            scores += s
        if q.should:
            hits = np.zeros(self.n, np.int32)
            for child in q.should:
                m, s = self._eval(child)
                hits += m
                scores += s
            need = q.min_should if (q.must or q.min_should) else 1
            enough = hits >= need if need else np.ones(self.n, bool)
            mask = enough if mask is None else mask & enough
        if mask is None:
            mask = self.columns.live.copy() if q.must_not else np.zeros(self.n, bool)
        for child in q.must_not:
            mask &= ~self._eval(child)[0]
        return mask, np.where(mask, scores, 0).astype(np.float32)

    # -- positions ---------------------------------------------------------------------------

    def _positions(self, fld: str, terms: Iterable[str], docs: np.ndarray,
                   ) -> list[list[list[int]]]:
        """For each term, its position list in each of ``docs`` (which all contain it)."""
        out = []
        for t in terms:
            ids, values = self.postings.positions(fld, t)
            where = np.searchsorted(ids, docs)
            out.append([decode(values[i]) for i in where.tolist()])
        return out

    def _phrase_hits(self, fld: str, terms: tuple[str, ...], slop: int, docs: np.ndarray,
                     ) -> tuple[np.ndarray, list[list[tuple[int, int]]]]:
        """Occurrences (first, last position) of the phrase in each of ``docs``."""
        per_term = self._positions(fld, terms, docs)
        spans: list[list[tuple[int, int]]] = []
        counts = np.zeros(len(docs), np.float32)
        for i in range(len(docs)):
            reach = {p: p for p in per_term[0][i]}  # current end position → start
            for positions in per_term[1:]:
                here = positions[i]
                nxt = {}
                for p in here:
                    for end, start in reach.items():
                        if 1 <= p - end <= slop + 1:
                            nxt.setdefault(p, start)
                            break
                reach = nxt
                if not reach:
                    break
            found = sorted((start, end) for end, start in reach.items())
            spans.append(found)
            counts[i] = len(found)
        return counts, spans

    def _phrase(self, fld: str, terms: tuple[str, ...], slop: int, boost: float,
                ) -> tuple[np.ndarray, np.ndarray]:
        if len(terms) == 1:
            return self._term(fld, terms[0], boost)
        mask, scores = self._empty()
        lists = [self.postings.get(fld, t) for t in terms]
        if any(not len(ids) for ids, _ in lists):
            return mask, scores
        docs = lists[0][0]
        for ids, _ in lists[1:]:
            docs = np.intersect1d(docs, ids, assume_unique=True)
        docs = docs[self.columns.live[docs]]
        if not len(docs):
            return mask, scores
        counts, _ = self._phrase_hits(fld, terms, slop, docs)
        keep = counts > 0
        docs, counts = docs[keep], counts[keep]
        mask[docs] = True
        weight = boost * sum(idf(len(ids), self.field_docs[fld]) for ids, _ in lists)
        scores[docs] = self._bm25(fld, docs, counts, weight)
        return mask, scores

    def _near(self, fld: str, q: Near) -> tuple[np.ndarray, np.ndarray]:
        """Both clauses in either order with at most ``distance`` words between them
        (Lucene's unordered ``span_near`` with that slop)."""
        sides = [s.terms if isinstance(s, Phrase) else (s.text,) for s in (q.left, q.right)]
        mask, scores = self._empty()
        lists = [self.postings.get(fld, t) for t in (*sides[0], *sides[1])]
        if any(not len(ids) for ids, _ in lists):
            return mask, scores
        docs = lists[0][0]
        for ids, _ in lists[1:]:
            docs = np.intersect1d(docs, ids, assume_unique=True)
        docs = docs[self.columns.live[docs]]
        if not len(docs):
            return mask, scores
        spans = [self._phrase_hits(fld, terms, 0, docs)[1] if len(terms) > 1 else
                 [[(p, p) for p in ps] for ps in self._positions(fld, terms, docs)[0]]
                 for terms in sides]
        counts = np.zeros(len(docs), np.float32)
        for i in range(len(docs)):
            hits = 0
            for a0, a1 in spans[0][i]:
                for b0, b1 in spans[1][i]:
                    gap = b0 - a1 - 1 if b0 > a1 else a0 - b1 - 1
                    if (b0 > a1 or a0 > b1) and gap <= q.distance:
                        hits += 1
            counts[i] = hits
        keep = counts > 0
        docs, counts = docs[keep], counts[keep]
        mask[docs] = True
        weight = q.boost * sum(idf(len(ids), self.field_docs[fld]) for ids, _ in lists)
        scores[docs] = self._bm25(fld, docs, counts, weight)
        return mask, scores

    # -- expansions --------------------------------------------------------------------------

    def expand(self, fld: str, q: Prefix | Wildcard | Fuzzy) -> list[str]:
        """The index terms a prefix, wildcard or fuzzy clause stands for (≤ max_terms + 1)."""
        key = (fld, q.__class__.__name__, getattr(q, "text", getattr(q, "pattern", "")),
               getattr(q, "distance", 0), getattr(q, "prefix", 0))
        found = self._expansions.get(key)
        if found is not None:
            return found
        limit = self.max_terms
        if isinstance(q, Prefix):
            found = self.postings.prefixed(fld, q.text, limit)
        elif isinstance(q, Fuzzy):
            distance = min(max(q.distance, 1), MAX_EDIT_DISTANCE)
            prefix = min(max(q.prefix, 1), len(q.text))
            dfa = Automata.levenshtein_dfa(q.text, distance, prefix)
            found = list(itertools.islice(
                Automata.find_matches(dfa, _ListCursor(self.postings.lexicon(fld))), limit + 1))
        else:
            found = self._wildcard(fld, q.pattern, limit)
        if len(self._expansions) > 4096:
            self._expansions.clear()
        self._expansions[key] = found
        return found

    def _wildcard(self, fld: str, pattern: str, limit: int) -> list[str]:
        literal = re.split(r"[*?]", pattern, maxsplit=1)[0]
        regex = re.compile(fnmatch.translate(pattern))
        lexicon = self.postings.lexicon(fld)
        lo = bisect.bisect_left(lexicon, literal)
        hi = bisect.bisect_left(lexicon, literal + "\uffff") if literal else len(lexicon)
        out = []
        for term in lexicon[lo:hi]:
            if regex.match(term):
                out.append(term)
                if len(out) > limit:
                    break
        return out

    def _expanded(self, fld: str, q: Prefix | Wildcard | Fuzzy) -> tuple[np.ndarray, np.ndarray]:
        terms = self.expand(fld, q)
        self._budget -= len(terms)
        if self._budget < 0:
            raise QueryTooExpensive(
                f"the query's wildcards or fuzzy terms expand to more than {self.max_terms} "
                "terms; make them more specific")
        mask, scores = self._empty()
        for t in terms:
            m, s = self._term(fld, t, q.boost)
            mask |= m
            scores += s
        return mask, scores
