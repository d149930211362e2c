"""Story clustering: articles that report the same event, told in different words.

News archives carry one story many times: several outlets, or a wire's successive updates. Two
write-ups of one event share names and subject words, not sentences — the two seed articles
share few word 3-shingles, so shingle-based MinHash/SimHash would keep them apart. Instead each
article becomes a TF-IDF vector of its stemmed terms (sublinear tf, smoothed idf, L2-normalised),
and two articles are the same story when

* they are dated at most :data:`WINDOW_DAYS` apart (undated articles never cluster), and
* their cosine similarity is at least :data:`THRESHOLD`.

Comparing every pair is quadratic, so candidates come from a blocking step: each article's
:data:`KEY_TERMS` highest-weighted *distinctive* terms (in at most :data:`DISTINCTIVE_DF` of
all articles: names, places, subjects rather than "shares" or "said"); two articles are compared
only if they share at least :data:`MIN_SHARED` key terms. Matches are merged with union–find;
a story's id is the id of its earliest article.

No Whoosh here: the indexer hands in term frequencies it has already computed.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

THRESHOLD = 0.30
WINDOW_DAYS = 3
KEY_TERMS = 12
MIN_SHARED = 2
MAX_BLOCK = 400
DISTINCTIVE_DF = 0.01


@dataclass(frozen=True)
class DocTerms:
    id: str
    date: int | None  # proleptic ordinal
    tf: Mapping[str, int]


class TermTable:
    """Many documents' term counts as flat arrays: what clustering reads.

    Build workers fill one each as they index (``add``), the parent ``merge``s them: a few
    arrays and one vocabulary per worker cross the process boundary instead of a dict per
    article, and clustering starts from arrays instead of walking dicts.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.dates = array("q")   # proleptic ordinals; -1: undated
        self.lens = array("q")    # entries per document
        self.terms = array("q")   # index into ``vocab`` of each entry
        self.counts = array("q")
        self.vocab: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, doc_id: str, date: int | None, tf: Mapping[str, int]) -> None:
        vocab = self.vocab
        self.ids.append(doc_id)
        self.dates.append(-1 if date is None else date)
        self.lens.append(len(tf))
        self.terms.extend([vocab.setdefault(t, len(vocab)) for t in tf])
        self.counts.extend(tf.values())

    def merge(self, other: TermTable) -> None:
        vocab = self.vocab
        remap = np.array([vocab.setdefault(t, len(vocab)) for t in other.vocab], dtype=np.int64)
        self.ids.extend(other.ids)
        self.dates.extend(other.dates)
        self.lens.extend(other.lens)
        self.counts.extend(other.counts)
        if len(other.terms):
            self.terms.frombytes(remap[np.frombuffer(other.terms, dtype=np.int64)].tobytes())

    @classmethod
    def of(cls, docs: Sequence[DocTerms]) -> TermTable:
        table = cls()
        for doc in docs:
            table.add(doc.id, doc.date, doc.tf)
        return table


@dataclass
class _Matrix:
    """All documents' normalised TF-IDF weights as one sorted sparse array (CSR-like)."""

    offsets: np.ndarray  # doc d's entries are offsets[d]:offsets[d + 1]
    terms: np.ndarray    # term id of each entry, sorted within a document
    weights: np.ndarray
    key_docs: np.ndarray  # (doc, term) of every key term, as two parallel arrays
    key_terms: np.ndarray
    n_terms: int
    entry_keys: np.ndarray  # doc * (n_terms + 1) + term, sorted: for lookups
    first_copy: np.ndarray  # each document's first copy (itself if it has none)

    def pair(self, x: int, y: int) -> float:
        """Cosine of documents x and y."""
        sx, sy = slice(self.offsets[x], self.offsets[x + 1]), slice(self.offsets[y],
                                                                    self.offsets[y + 1])
        _, ix, iy = np.intersect1d(self.terms[sx], self.terms[sy], assume_unique=True,
                                   return_indices=True)
        return float(np.dot(self.weights[sx][ix], self.weights[sy][iy]))


def _matrix(table: TermTable) -> _Matrix:
    n = len(table)
    lens = np.frombuffer(table.lens, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    # Term ids in sorted-term order, so ties between equally weighted terms break the same way
    # in every build (Python's str hash is salted per process, workers meet terms in any order).
    n_terms = len(table.vocab)
    rank = np.empty(n_terms, dtype=np.int64)
    rank[np.fromiter(map(table.vocab.__getitem__, sorted(table.vocab)), dtype=np.int64,
                     count=n_terms)] = np.arange(n_terms)
    terms = rank[np.frombuffer(table.terms, dtype=np.int64)]
    tf = np.frombuffer(table.counts, dtype=np.int64)
    doc_of = np.repeat(np.arange(n), lens)
    keys = doc_of * (n_terms + 1) + terms  # unique: a document lists a term once
    order = np.argsort(keys)  # by document (doc_of stays as it is), then term
    keys, terms, tf = keys[order], terms[order], tf[order]
    rep = _first_copies(offsets, terms, tf, np.frombuffer(table.dates, dtype=np.int64),
                        table.ids, n_terms)
    # Statistics over distinct articles: five copies of an article must not make its words
    # look five times as common (and no longer distinctive).
    counted = (rep == np.arange(n))[doc_of]
    distinct = int(np.count_nonzero(rep == np.arange(n)))
    df = np.bincount(terms[counted], minlength=n_terms)
    idf = np.log((distinct + 1) / (df + 1)) + 1.0
    w = (1.0 + np.log(np.maximum(tf, 1))) * idf[terms]
    norms = np.sqrt(np.bincount(doc_of, weights=w * w, minlength=n))
    w /= np.where(norms > 0, norms, 1.0)[doc_of]
    # Key terms: each document's heaviest *distinctive* terms (names, places, subjects), so
    # a formulaic item ("Shr 10 cts vs 12 cts, Net …") does not pair with all of its kind.
    # A term in one article only can pair nothing, so it is never a key term. Copies have
    # none: they join their first copy's story without being compared.
    dft = df[terms]
    candidates = np.flatnonzero(counted & (dft >= 2)
                                & (dft <= max(3, int(DISTINCTIVE_DF * distinct))))
    by_weight = candidates[np.lexsort((-w[candidates], doc_of[candidates]))]
    docs = doc_of[by_weight]
    nth = np.arange(len(docs)) - np.searchsorted(docs, docs)  # rank within its document
    chosen = by_weight[nth < KEY_TERMS]
    return _Matrix(offsets, terms, w, doc_of[chosen], terms[chosen], n_terms, keys, rep)


def _first_copies(offsets: np.ndarray, terms: np.ndarray, tf: np.ndarray, dates: np.ndarray,
                  ids: list[str], n_terms: int) -> np.ndarray:
    """Each document's first copy: among the documents of the same date with the very same
    terms and counts (a wire's resent item, an archive loaded twice), the smallest id.

    Copies are one story without being compared: n copies of an article made n² candidate
    pairs with every neighbour (the 5x benchmark corpus: 20 s of a 78 s build).
    """
    n = len(dates)
    rep = np.arange(n)
    lens = np.diff(offsets)
    # An order-independent 64-bit hash of each document's (term, count) entries; documents
    # with equal hashes are then compared entry by entry.
    salt = np.random.default_rng(0).integers(1, 2**63, size=max(n_terms, 1), dtype=np.uint64)
    entry = salt[terms] * (tf.astype(np.uint64) * np.uint64(2) + np.uint64(1))
    sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(entry, dtype=np.uint64)])
    digest = (sums[offsets[1:]] - sums[offsets[:-1]]).view(np.int64)
    dated = np.flatnonzero((dates >= 0) & (lens > 0))
    order = dated[np.lexsort((digest[dated], lens[dated], dates[dated]))]
    keys = np.stack([dates[order], lens[order], digest[order]], axis=1)
    starts = np.flatnonzero(np.concatenate([[True], (keys[1:] != keys[:-1]).any(axis=1)]))
    bounds = np.append(starts, len(order)).tolist()
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi - lo < 2:
            continue
        group = sorted(order[lo:hi].tolist(), key=ids.__getitem__)
        first = slice(offsets[group[0]], offsets[group[0] + 1])
        for d in group[1:]:
            other = slice(offsets[d], offsets[d + 1])
            if (np.array_equal(terms[first], terms[other])
                    and np.array_equal(tf[first], tf[other])):
                rep[d] = group[0]
    return rep


def _cosines(m: _Matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair (a[i], b[i]), vectorised over all pairs."""
    if not len(a):
        return np.zeros(0)
    starts, ends = m.offsets[a], m.offsets[a + 1]
    lens = ends - starts
    pair_of = np.repeat(np.arange(len(a)), lens)
    first = np.cumsum(lens) - lens
    entry = np.arange(lens.sum()) - np.repeat(first, lens) + np.repeat(starts, lens)
    # Look up b's weight for each of a's terms in the sorted (doc, term) keys.
    all_keys = m.entry_keys
    wanted = b[pair_of] * (m.n_terms + 1) + m.terms[entry]
    pos = np.searchsorted(all_keys, wanted)
    pos = np.minimum(pos, len(all_keys) - 1)
    hit = all_keys[pos] == wanted
    products = np.where(hit, m.weights[entry] * m.weights[pos], 0.0)
    return np.bincount(pair_of, weights=products, minlength=len(a))


def similarity(a: DocTerms, b: DocTerms, background: Sequence[DocTerms] = ()) -> float:
    """Cosine of two articles' TF-IDF vectors (idf from both plus ``background``)."""
    m = _matrix(TermTable.of([a, b, *background]))
    return float(_cosines(m, np.array([0]), np.array([1]))[0])


def _candidate_pairs(m: _Matrix, dates: np.ndarray,
                     keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of dated documents (of ``keep``) within the window that share ≥ MIN_SHARED key
    terms."""
    docs, terms = m.key_docs, m.key_terms
    dated = dates[docs] >= 0
    if keep is not None:
        dated &= keep[docs]
    docs, terms = docs[dated], terms[dated]
    order = np.lexsort((dates[docs], terms))
    docs, terms = docs[order], terms[order]
    d = dates[docs]
    sizes = np.bincount(terms, minlength=m.n_terms)
    common = sizes[terms] > MAX_BLOCK
    found = []
    for lag in range(1, MAX_BLOCK):
        if lag >= len(docs):
            break
        ok = ((terms[lag:] == terms[:-lag]) & (d[lag:] - d[:-lag] <= WINDOW_DAYS)
              & ~common[lag:])
        if not ok.any():
            break
        a, b = docs[:-lag][ok], docs[lag:][ok]
        found.append(np.minimum(a, b) * len(dates) + np.maximum(a, b))
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    codes, counts = np.unique(np.concatenate(found), return_counts=True)
    codes = codes[counts >= MIN_SHARED]
    return codes // len(dates), codes % len(dates)


def cluster(docs: Sequence[DocTerms] | TermTable) -> dict[str, str]:
    """article id → story id, for the articles that share a story with at least one other."""
    table = docs if isinstance(docs, TermTable) else TermTable.of(docs)
    if len(table) < 2:
        return {}
    m = _matrix(table)
    dates = np.frombuffer(table.dates, dtype=np.int64)
    ids = table.ids
    rep = m.first_copy
    copies = np.flatnonzero(rep != np.arange(len(ids)))
    a, b = _candidate_pairs(m, dates, keep=rep == np.arange(len(ids)))

    parent = list(range(len(ids)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    sims = _cosines(m, a, b)
    same = np.flatnonzero(sims >= THRESHOLD)
    same = same[np.argsort(-sims[same], kind="stable")]
    # Strongest pairs first; two groups merge only if their leaders (first members) are
    # similar too. Plain single-link chaining grew 100-article "stories" out of daily market
    # reports where each is like the next.
    leader = list(range(len(ids)))
    for x, y in zip(a[same].tolist(), b[same].tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx == ry:
            continue
        lx, ly = leader[rx], leader[ry]
        if (lx, ly) != (x, y) and m.pair(lx, ly) < THRESHOLD:
            continue
        parent[ry] = rx
        leader[rx] = min(lx, ly, key=lambda d: (dates[d], ids[d]))
    for d, first in zip(copies.tolist(), rep[copies].tolist(), strict=True):
        parent[d] = first  # a copy joins whatever story its first copy is in
    groups: dict[int, list[int]] = defaultdict(list)
    for d in range(len(ids)):
        groups[find(d)].append(d)
    stories: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        first = min(members, key=lambda d: (dates[d], ids[d]))
        for d in members:
            stories[ids[d]] = ids[first]
    return stories
