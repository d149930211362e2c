"""The neutral query tree evaluated over one generation: document masks and BM25 scores.

Every node becomes :class:`~searchsvc.engines.whoosh.hits.Hits`: the matching documents and
their scores, sparse (sorted document numbers, as postings give them) or dense (arrays over
every document), whichever is cheaper (``hits``). Leaves read posting lists (``postings``);
booleans combine hits; filters come from the columns.

Scores are the shared ranking of ``searchsvc.engine`` (bench/RANKING.md), computed as Lucene
would on OpenSearch so both engines rank alike:

* a clause on the article's text is scored on one **combined field** — the title counted
  ``TITLE_WEIGHT`` times, then the body: ``tf = w·tf_title + tf_body``, ``dl = w·len_title +
  len_body``, the document frequency is that of either field — without indexing anything
  twice: both fields' postings are read and added up. ``title:`` and ``body:`` clauses are
  scored on their own field;
* BM25 as OpenSearch's "BM25" similarity: ``idf · (k1 + 1) · tf / (tf + k1·(1 − b +
  b·dl/avgdl))`` with ``idf = ln(1 + (N − df + 0.5)/(df + 0.5))``, and ``dl`` rounded as
  Lucene stores field lengths (exact below 24, then four significant bits);
* a phrase is one term whose frequency is its number of occurrences (a sloppy one adds
  ``1/(1 + m)`` for an occurrence ``m`` moves out of place) and whose idf is the sum of its
  words'; a proximity clause the same; prefix, wildcard and fuzzy clauses sum the scores of
  the index terms they expand to (at most ``max_terms`` in all, or the query is refused).
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import re
from collections.abc import Callable, Iterable

import numpy as np
from whoosh.codec.base import Automata

from searchsvc.engine import (
    BM25_B,
    BM25_K1,
    TEXT_FIELDS,
    TITLE_WEIGHT,
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
from searchsvc.engines.whoosh.hits import (
    NOTHING,
    SPARSE_SHARE,
    Hits,
    added,
    all_of,
    any_of,
    dense,
    lookup,
    plus_scores,
    sparse,
    summed,
    without,
)
from searchsvc.engines.whoosh.packs import Lexicon, story_key
from searchsvc.engines.whoosh.postings import Postings, TermList
from searchsvc.errors import QueryTooExpensive

K1 = BM25_K1
B = BM25_B
TEXT = "text"  # the combined field (title x TITLE_WEIGHT + body)
WEIGHTS = {"title": float(TITLE_WEIGHT), "body": 1.0}
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


class _LexiconCursor:
    """The term-cursor interface Whoosh's Levenshtein automaton walks, over one segment's
    sorted lexicon (it jumps: ``find`` is a binary search)."""

    def __init__(self, lexicon: Lexicon | TermList):
        self.lexicon = lexicon
        self.i = 0

    def text(self) -> str | None:
        return self.lexicon[self.i] if self.i < len(self.lexicon) else None

    def find(self, term: str) -> None:
        self.i = self.lexicon.find(term)


def _combine(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, values) lists → their union, values added (ids ascending)."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if len(parts) == 1:
        return parts[0][0], parts[0][1].astype(np.float32)
    if len(parts) == 2:  # a word's title and body postings
        return added(parts[0], parts[1])
    uniq, sums, _ = summed(np.concatenate([p[0] for p in parts]),
                           np.concatenate([p[1] for p in parts]).astype(np.float64))
    return uniq, sums.astype(np.float32)


def _restricted(ids: np.ndarray, values: np.ndarray, within: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray]:
    """The postings (``ids`` ascending, their ``values``) of the documents in ``within``
    (ascending): the shorter list looked up in the longer."""
    if not len(ids) or not len(within):
        return ids[:0], values[:0]
    if len(within) < len(ids):
        pos = np.minimum(np.searchsorted(ids, within), len(ids) - 1)
        pos = pos[ids[pos] == within]
    else:
        at = np.minimum(np.searchsorted(within, ids), len(within) - 1)
        pos = np.flatnonzero(within[at] == ids)
    return ids[pos], values[pos]


def _doc_of(keys: np.ndarray) -> np.ndarray:
    return keys >> 32


def pair_frequency(a: np.ndarray, b: np.ndarray, slop: int) -> tuple[np.ndarray, np.ndarray]:
    """Lucene's sloppy frequency of the two-word phrase "a b", per document: each pair of
    positions ``i`` (of a) and ``j`` (of b) ``m = |j − i − 1| ≤ slop`` moves apart adds
    ``1/(1 + m)``. ``a`` and ``b`` are sorted ``doc << 32 | position`` keys; returns
    (docs, frequency)."""
    lo = np.searchsorted(b, a + 1 - slop, "left")
    hi = np.searchsorted(b, a + 1 + slop, "right")
    counts = hi - lo
    if not counts.sum():
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    which = np.repeat(np.arange(len(a)), counts)
    offsets = np.cumsum(counts) - counts
    j = b[np.repeat(lo - offsets, counts) + np.arange(int(counts.sum()))]
    m = np.abs(j - a[which] - 1)
    weight = 1.0 / (1.0 + m)
    docs, sums, _ = summed(_doc_of(a[which]), weight)
    return docs, sums.astype(np.float32)


def phrase_starts(keys: list[np.ndarray]) -> np.ndarray:
    """Keys of the first word of every exact occurrence of the words in order."""
    starts = keys[0]
    for k, following in enumerate(keys[1:], start=1):
        starts = _common(starts, following - k)
        if not len(starts):
            break
    return starts


def _common(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values in both of two ascending lists of distinct values: the shorter looked up
    in the longer (``intersect1d`` sorts both together: a common word's million positions)."""
    if len(a) > len(b):
        a, b = b, a
    if not len(a):
        return a
    pos = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return a[b[pos] == a]


def _per_doc(keys: np.ndarray, weights: np.ndarray | None = None,
             ) -> tuple[np.ndarray, np.ndarray]:
    docs, sums, _ = summed(_doc_of(keys), weights)
    return docs, sums.astype(np.float32)


def sloppy_frequency(keys: list[np.ndarray], slop: int) -> tuple[np.ndarray, np.ndarray]:
    """Occurrences of three or more words in order with at most ``slop`` positions of gaps in
    all; each counts ``1/(1 + gaps)``. (Two words: :func:`pair_frequency`.)"""
    # current end key → least gap so far, one dict per step (rare: typed "a b c"~n)
    reach = {int(k): 0 for k in keys[0]}
    for following in keys[1:]:
        nxt: dict[int, int] = {}
        for end, gap in reach.items():
            lo = np.searchsorted(following, end + 1)
            hi = np.searchsorted(following, end + 2 + slop - gap)
            for p in following[lo:hi].tolist():
                g = gap + p - end - 1
                if g < nxt.get(p, slop + 1):
                    nxt[p] = g
        reach = nxt
        if not reach:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
    ends = np.fromiter(reach.keys(), dtype=np.int64, count=len(reach))
    gaps = np.fromiter(reach.values(), dtype=np.float64, count=len(reach))
    return _per_doc(ends, 1.0 / (1.0 + gaps))


class Evaluator:
    def __init__(self, columns: Columns, postings: Postings, max_terms: int = 1024,
                 docnum_of: Callable[[str], int | None] | None = None):
        self.columns = columns
        self.docnum_of = docnum_of or (lambda _id: None)
        self.postings = postings
        self.max_terms = max_terms
        self.n = columns.n
        raw: dict[str, np.ndarray] = dict(columns.lengths)
        raw[TEXT] = np.asarray(WEIGHTS["title"] * columns.lengths["title"]
                               + WEIGHTS["body"] * columns.lengths["body"], dtype=np.float32)
        self.norm_lengths = {f: lucene_length(v) for f, v in raw.items()}
        self.field_docs: dict[str, int] = {}
        self.avg_length: dict[str, float] = {}
        for f, lengths in raw.items():
            present = int(np.count_nonzero(lengths))
            self.field_docs[f] = max(present, 1)
            self.avg_length[f] = float(lengths.sum()) / present if present else 1.0
        self.everyone_live = bool(columns.live.all())
        self._expansions: dict[tuple, list[str]] = {}
        self._budget = max_terms
        self._scoring = True
        self._within: np.ndarray | None = None

    # -- entry points -----------------------------------------------------------------------

    def hits(self, q: Query | None, scored: bool = True) -> Hits:
        """The live documents ``q`` matches, with their scores (none if not ``scored``: which
        documents match is all a ranking tier asks, and scoring a common word's whole
        posting list was most of evaluating it); None matches every live document."""
        self._budget = self.max_terms
        live = self.columns.live
        if q is None:
            return dense(live.copy())
        self._scoring = scored
        try:
            found = self._eval(q)
        finally:
            self._scoring = True
        if self.everyone_live:  # no article deleted: nothing to take out of the matches
            return found
        if found.dense:
            mask = found.mask & live
            scores = np.where(mask, found.scores, 0).astype(np.float32) \
                if found.scores is not None else None
            return dense(mask, scores)
        assert found.ids is not None
        keep = live[found.ids]
        if keep.all():
            return found
        return sparse(found.ids[keep], found.scores[keep] if found.scores is not None else None)

    def scores_of(self, q: Query, docs: np.ndarray) -> np.ndarray:
        """The scores ``q`` gives the documents ``docs`` (ascending; zero where it does not
        match), aligned with ``docs``: every leaf reads only the postings of ``docs``. A page
        ranked within a tier needs the scores of the tier's few thousand documents, not of
        the hundreds of thousands a common word's postings hold. Term statistics (document
        frequencies, lengths) stay those of the whole generation, so each score is the one
        :meth:`hits` gives."""
        self._budget = self.max_terms
        self._within = docs
        try:
            return self._eval(q).scores_at(docs)
        finally:
            self._within = None

    def evaluate(self, q: Query | None) -> tuple[np.ndarray, np.ndarray]:
        """(mask, scores) over every document (zero outside the live matches)."""
        return self.hits(q).to_dense(self.n)

    def mask(self, q: Query | None) -> np.ndarray:
        return self.evaluate(q)[0]

    def rescore(self, docs: np.ndarray, clauses: Iterable[Query]) -> np.ndarray:
        """The scores the ``clauses`` give the documents ``docs`` (the proximity bonus of the
        best-ranked window), as an array aligned with ``docs``."""
        out = np.zeros(len(docs), np.float32)
        for q in clauses:
            if isinstance(q, Phrase):
                fld = q.field or TEXT
                ids, freq = self._phrase_occurrences(fld, q.terms, q.slop, docs)
                if len(ids):
                    weight = q.boost * sum(idf(self._df(fld, t), self.field_docs[fld])
                                           for t in q.terms)
                    where = np.searchsorted(docs, ids)
                    out[where] += self._bm25(fld, ids, freq, weight)
        return out

    # -- nodes -------------------------------------------------------------------------------

    def _eval(self, q: Query) -> Hits:
        if isinstance(q, Term):
            fld = q.field or TEXT
            ids, tf = self._postings(fld, q.text)
            weight = q.boost * idf(len(ids), self.field_docs[fld])
            if self._within is not None:
                ids, tf = _restricted(ids, tf, self._within)
            return self._scored(fld, ids, tf, weight)
        if isinstance(q, Phrase):
            fld = q.field or TEXT
            if len(q.terms) == 1:
                return self._eval(Term(q.terms[0], q.field, q.boost))
            ids, freq = self._phrase_occurrences(fld, q.terms, q.slop, self._within)
            weight = q.boost * sum(idf(self._df(fld, t), self.field_docs[fld])
                                   for t in q.terms)
            return self._scored(fld, ids, freq, weight)
        if isinstance(q, Near):
            return self._near(q)
        if isinstance(q, (Prefix, Wildcard, Fuzzy)):
            return self._expanded(q)
        if isinstance(q, Value):
            return self._value(q)
        if isinstance(q, DateRange):
            low = q.low.toordinal() if q.low else None
            high = q.high.toordinal() if q.high else None
            few = self.columns.dated_within(low, high, int(SPARSE_SHARE * self.n))
            return sparse(few) if few is not None else dense(self.columns.date_mask(low, high))
        if isinstance(q, Every):
            return dense(self.columns.live.copy())
        if isinstance(q, Bool):
            return self._bool(q)
        raise TypeError(f"not a query node: {q!r}")

    def _fields(self, fld: str) -> tuple[str, ...]:
        return TEXT_FIELDS if fld == TEXT else (fld,)

    def _postings(self, fld: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(docnums, term frequencies) in a field; in the combined field the title's count
        ``TITLE_WEIGHT`` times. Cached with the postings."""
        if fld != TEXT:
            return self.postings.get(fld, term)
        key = (TEXT, term)
        found = self.postings.cached(key)
        if found is None:
            found = self.postings.remember(key, _combine([
                (ids, tf * WEIGHTS[f]) for f in TEXT_FIELDS
                for ids, tf in [self.postings.get(f, term)]]))
        return found

    def _df(self, fld: str, term: str) -> int:
        return len(self._postings(fld, term)[0])

    def _bm25(self, fld: str, ids: np.ndarray, freq: np.ndarray, weight: float,
              ) -> np.ndarray:
        norm = K1 * (1 - B + B * self.norm_lengths[fld][ids] / self.avg_length[fld])
        return (weight * (K1 + 1) * freq / (freq + norm)).astype(np.float32)

    def _scored(self, fld: str, ids: np.ndarray, freq: np.ndarray, weight: float) -> Hits:
        if not len(ids):
            return NOTHING
        if not self._scoring:
            return sparse(ids)
        return sparse(ids, self._bm25(fld, ids, freq, weight))

    def _value(self, q: Value) -> Hits:
        cols = self.columns
        if q.field == "id":
            d = self.docnum_of(q.value)
            return sparse(np.array([d] if d is not None else [], np.int64))
        if q.field == "story":
            return dense(cols.story_key == story_key(q.value))
        column = cols.facets.get(q.field)
        if column is None:
            return NOTHING
        return sparse(column.docs_for(q.value))

    def _bool(self, q: Bool) -> Hits:
        n = self.n
        result = all_of([self._eval(c) for c in q.must], n) if q.must else None
        if q.should:
            need = q.min_should if (q.must or q.min_should) else 1
            union = any_of([self._eval(c) for c in q.should], n, max(need, 1))
            if need:
                result = union if result is None else all_of([result, union], n)
            elif result is not None:  # optional clauses: they only add to the score
                result = plus_scores(result, union)
        if result is None:
            result = dense(self.columns.live.copy()) if q.must_not else NOTHING
        for child in q.must_not:
            result = without(result, self._eval(child))
        return result

    # -- positions ---------------------------------------------------------------------------

    def _candidates(self, fld: str, terms: tuple[str, ...], within: np.ndarray | None,
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The live documents (among ``within``, if given) that have every one of ``terms``,
        and their places in each term's postings: the shortest list looked up in the others.
        The proximity rescore asks this for the best thousand matches of common words, and
        sorting each whole posting list (``intersect1d``) cost more than reading the
        positions."""
        lists: list[tuple[str | None, np.ndarray]] = [
            (t, self.postings.get(fld, t)[0]) for t in terms]
        if not lists:
            return np.zeros(0, np.int64), {}
        if within is not None:
            lists.append((None, within))
        lists.sort(key=lambda entry: len(entry[1]))
        first, docs = lists[0]
        places = {first: np.arange(len(docs))} if first is not None else {}
        for term, other in lists[1:]:
            found, pos = lookup(other, docs)
            docs = docs[found]
            places = {t: at[found] for t, at in places.items()}
            if term is not None:
                places[term] = pos[found]
        live = self.columns.live[docs]
        if not live.all():
            docs = docs[live]
            places = {t: at[live] for t, at in places.items()}
        return docs, places

    def _keys(self, fld: str, term: str, docs: np.ndarray,
              places: dict[str, np.ndarray] | None = None) -> np.ndarray:
        positions = self.postings.positions(fld, term)
        if places is not None and term in places and fld in TEXT_FIELDS:
            return positions.keys_at(places[term])
        return positions.keys(docs)

    def _phrase_occurrences(self, fld: str, terms: tuple[str, ...], slop: int,
                            within: np.ndarray | None = None,
                            ) -> tuple[np.ndarray, np.ndarray]:
        """(docnums, phrase frequency) over a field; the combined field adds the title's
        ``TITLE_WEIGHT`` times to the body's."""
        parts = []
        for f in self._fields(fld):
            docs, places = self._candidates(f, tuple(dict.fromkeys(terms)), within)
            if not len(docs):
                continue
            keys = [self._keys(f, t, docs, places) for t in terms]
            if slop and len(terms) == 2:
                ids, freq = pair_frequency(keys[0], keys[1], slop)
            elif slop:
                ids, freq = sloppy_frequency(keys, slop)
            else:
                ids, freq = _per_doc(phrase_starts(keys))
            parts.append((ids, freq * WEIGHTS[f] if fld == TEXT else freq))
        return _combine(parts)

    def _spans(self, fld: str, side: Term | Phrase, docs: np.ndarray,
               places: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(first, last) keys of each occurrence of a term or exact phrase in ``docs``."""
        terms = side.terms if isinstance(side, Phrase) else (side.text,)
        starts = phrase_starts([self._keys(fld, t, docs, places) for t in terms])
        return starts, starts + len(terms) - 1

    def _near(self, q: Near) -> Hits:
        """Both clauses in either order with at most ``distance`` words between them
        (Lucene's unordered ``span_near`` with that slop): per document, the number of such
        pairs of occurrences."""
        fld = q.left.field or TEXT
        every = tuple(dict.fromkeys(
            (*(q.left.terms if isinstance(q.left, Phrase) else (q.left.text,)),
             *(q.right.terms if isinstance(q.right, Phrase) else (q.right.text,)))))
        parts = []
        for f in self._fields(fld):
            docs, places = self._candidates(f, every, self._within)
            if not len(docs):
                continue
            a0, a1 = self._spans(f, q.left, docs, places)
            b0, b1 = self._spans(f, q.right, docs, places)  # both ascending
            # right after left: b0 in (a1, a1 + 1 + d]; left after right: b1 in [a0-1-d, a0)
            after = np.searchsorted(b0, a1 + 2 + q.distance, "left") - \
                np.searchsorted(b0, a1, "right")
            before = np.searchsorted(b1, a0, "left") - \
                np.searchsorted(b1, a0 - 2 - q.distance, "right")
            counts = (after + before).astype(np.float64)
            keep = counts > 0
            if keep.any():
                ids, freq = _per_doc(a0[keep], counts[keep])
                parts.append((ids, freq * WEIGHTS[f] if fld == TEXT else freq))
        ids, freq = _combine(parts)
        weight = q.boost * sum(idf(self._df(fld, t), self.field_docs[fld]) for t in every)
        return self._scored(fld, ids, freq, weight)

    # -- expansions --------------------------------------------------------------------------

    def expand(self, fld: str, q: Prefix | Wildcard | Fuzzy) -> list[str]:
        """The index terms a prefix, wildcard or fuzzy clause stands for (≤ max_terms + 1)."""
        key = (fld, q.__class__.__name__, getattr(q, "text", getattr(q, "pattern", "")),
               getattr(q, "distance", 0), getattr(q, "prefix", 0))
        found = self._expansions.get(key)
        if found is not None:
            return found
        limit = self.max_terms
        terms: set[str] = set()
        for f in self._fields(fld):
            if isinstance(q, Prefix):
                terms.update(self.postings.prefixed(f, q.text, limit))
            elif isinstance(q, Fuzzy):
                distance = min(max(q.distance, 1), MAX_EDIT_DISTANCE)
                prefix = min(max(q.prefix, 1), len(q.text))
                dfa = Automata.levenshtein_dfa(q.text, distance, prefix)
                for lexicon in self.postings.lexicons(f):
                    terms.update(itertools.islice(
                        Automata.find_matches(dfa, _LexiconCursor(lexicon)), limit + 1))
            else:
                terms.update(self._wildcard(f, q.pattern, limit))
        found = sorted(terms)[: limit + 1]
        if len(self._expansions) > 4096:
            self._expansions.clear()
        self._expansions[key] = found
        return found

    def _wildcard(self, fld: str, pattern: str, limit: int) -> list[str]:
        literal = re.split(r"[*?]", pattern, maxsplit=1)[0]
        regex = re.compile(fnmatch.translate(pattern))
        out: set[str] = set()
        for lexicon in self.postings.lexicons(fld):
            lo, hi = lexicon.span(literal)
            for i in range(lo, hi):
                term = lexicon[i]
                if regex.match(term):
                    out.add(term)
                    if len(out) > limit:
                        return sorted(out)
        return sorted(out)

    def _expanded(self, q: Prefix | Wildcard | Fuzzy) -> Hits:
        fld = q.field or TEXT
        terms = self.expand(fld, q)
        self._budget -= len(terms)
        if self._budget < 0:
            raise QueryTooExpensive(
                f"the query's wildcards or fuzzy terms expand to more than {self.max_terms} "
                "terms; make them more specific")
        return any_of([self._eval(Term(t, q.field, q.boost)) for t in terms], self.n)
