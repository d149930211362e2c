"""Ranking lab: choose searchsvc's default ranking by measurement on Cranfield, CACM and LISA.

A standalone research tool (it does not import ``searchsvc``, which is being rewritten). It

* re-implements the new searchsvc text analysis (tokens, acronyms, apostrophes, numbers,
  compounds, accent folding, stemming; stop words stay in the index with positions),
* holds each collection in memory as numpy/scipy postings (term frequencies per field plus
  positional postings) and ranks with BM25 in its variants: per-field BM25 summed (Whoosh's
  ``BM25F``), Lucene's ``combined_fields`` and Zaragoza's BM25F; Whoosh's or Lucene's idf; query
  stop-word rules; the all-words tier (always / never / short queries only / soft
  coordination); phrases for compounds and quotes; a proximity bonus for query-word pairs;
  RM3 pseudo-relevance feedback,
* runs the peers in the same process on the same documents: tantivy, SQLite FTS5,
  rank_bm25 (two tokenisations) and plain Whoosh,
* evaluates every run with ir_measures (nDCG@10 on the graded qrels; MAP and Recall@100 with
  grade >= 1 relevant; a judged query with no results scores 0) and prints Markdown tables.

Run from the repository root:

    /work/main/.venv/bin/python -m bench.ranking_lab --shared /work/shared [--quick]

The full run takes a few minutes on the shared 2-core machine; ``--quick`` skips the grids.
``bench/RANKING.md`` holds the tables of a full run and the argument for the chosen default.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import sqlite3
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import sparse

# -- data -------------------------------------------------------------------------------------

COLLECTIONS = ("cranfield", "cacm", "lisa")
DEPTH = 100  # ranked list depth handed to the evaluation (Recall@100 needs 100)


@dataclass
class Collection:
    name: str
    ids: list[str]
    titles: list[str]
    bodies: list[str]
    queries: dict[str, str]  # every query of queries.tsv
    qrels: list  # ir_measures Qrel tuples
    qids: list[str]  # the judged queries: the ones every mean is taken over


def load_collection(folder: Path) -> Collection:
    import ir_measures

    ids, titles, bodies = [], [], []
    with (folder / "docs.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                ids.append(str(rec["id"]))
                titles.append(rec.get("title") or "")
                bodies.append(rec.get("body") or "")
    queries = {}
    for line in (folder / "queries.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            qid, _, text = line.partition("\t")
            queries[qid.strip()] = text.strip()
    qrels = list(ir_measures.read_trec_qrels(str(folder / "qrels.txt")))
    # CACM has 12 unjudged queries: they are not part of any mean (trec_eval's convention).
    qids = sorted({q.query_id for q in qrels if q.relevance >= 1}, key=lambda x: (len(x), x))
    return Collection(folder.name, ids, titles, bodies, queries, qrels, qids)


# -- analysis (the new searchsvc's rules, same at index and query time) ------------------------

_W = r"[^\W_]"  # a letter or digit (Unicode)
_L = r"[^\W\d_]"  # a letter
_TOKEN = re.compile(
    r"(?P<cur>[$€£¥])"
    # Dotted acronym: single letters separated by dots (U.S., e.g., U.S.A.) -> letters joined.
    rf"|(?P<acr>(?<!{_W}){_L}(?:\.{_L})+\.?(?!{_W}))"
    # A word: letters/digits, with an apostrophe inside a word, and . or , between digits.
    rf"|(?P<word>{_W}+(?:(?:['’]|(?<=\d)[.,](?=\d)){_W}+)*)")
_APOSTROPHE = re.compile(r"['’]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # 1,000 -> 1000; 1,5 stays two numbers
COMPOUND_JOINERS = frozenset("-‐‑&/")  # G-7, AT&T, t/nroff: parts at consecutive positions
_FOLD_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d",
                             "þ": "th", "ð": "d", "ı": "i"})
_QUOTE = re.compile(r"[\"“”]([^\"“”]+)[\"“”]")
_DIGIT = re.compile(r"\d")


def fold(token: str) -> str:
    """Lowercase and accent folding: NFKD, combining marks dropped, a few letters spelled out."""
    t = unicodedata.normalize("NFKD", token.lower())
    return "".join(c for c in t if not unicodedata.combining(c)).translate(_FOLD_EXTRA)


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """(folded word, compound group, character offset) for every token of ``text``.

    Tokens of one hyphen/ampersand/slash compound share a group number; elsewhere every token
    has its own. Nothing here depends on letter case (checked by ``case_check``)."""
    out: list[tuple[str, int, int]] = []
    group, prev_end = -1, -10
    for m in _TOKEN.finditer(unicodedata.normalize("NFC", text)):
        if m.lastgroup == "acr":
            parts = [m.group().replace(".", "")]
        elif m.lastgroup == "cur":
            parts = [m.group()]
        else:
            w = m.group()
            if "'" in w or "’" in w:
                pieces = _APOSTROPHE.split(w)
                if len(pieces) > 1 and fold(pieces[-1]) == "s":  # Poland's -> poland
                    pieces = pieces[:-1]
                w = "".join(pieces)  # don't -> dont
            parts = [p for p in _THOUSANDS.sub("", w).split(",") if p] if "," in w else [w]
        joined = m.start() - prev_end == 1 and text[prev_end] in COMPOUND_JOINERS
        for i, p in enumerate(parts):
            if not (i == 0 and joined):
                group += 1
            out.append((fold(p), group, m.start()))
        prev_end = m.end()
    return out


def _stemmers() -> dict:
    from whoosh.lang.porter import stem as porter
    from whoosh.lang.porter2 import stem as porter2
    from whoosh.lang.snowball.english import EnglishStemmer

    return {"porter": porter, "porter2": porter2, "snowball": EnglishStemmer().stem,
            "none": lambda w: w}


@functools.lru_cache(maxsize=4)
def stop_words(name: str = "whoosh") -> frozenset[str]:
    """whoosh: whoosh.analysis.STOP_WORDS (34 words, the service's list); nltk127: the
    127-word English list Whoosh also ships (whoosh.lang.stopwords), tried at query time."""
    if name == "nltk127":
        from whoosh.lang.stopwords import stoplists

        return frozenset(stoplists["en"])
    from whoosh.analysis import STOP_WORDS

    return frozenset(STOP_WORDS)


# -- the in-memory index ----------------------------------------------------------------------

FIELDS = ("title", "body")


class FieldIndex:
    """One field: a docs x terms tf matrix (CSC, for a term's postings) and positional
    postings sorted by (term, doc, position), for phrases and proximity."""

    def __init__(self, docs: list[list[int]], n_terms: int, content: list[int]):
        n = len(docs)
        self.length = np.array([len(d) for d in docs], dtype=np.float64)
        # Length without stop words and one-letter words (what Whoosh's StemmingAnalyzer
        # index would count): an option, to see what keeping stop words does to b.
        self.content_length = np.array(content, dtype=np.float64)
        self.avg = float(self.length.mean()) or 1.0
        doc = np.repeat(np.arange(n, dtype=np.int64), self.length.astype(np.int64))
        tok = np.fromiter((t for d in docs for t in d), dtype=np.int64, count=len(doc))
        pos = np.concatenate([np.arange(len(d)) for d in docs]) if len(doc) else doc
        self.tf = sparse.csc_matrix((np.ones(len(tok)), (doc, tok)), shape=(n, n_terms))
        self.tf.sum_duplicates()
        order = np.lexsort((pos, doc, tok))
        self.p_doc, self.p_pos = doc[order], pos[order]
        self.p_ptr = np.searchsorted(tok[order], np.arange(n_terms + 1))
        # Keys doc*K + pos never collide across documents for offsets up to the largest slop.
        self.key_base = int(self.length.max(initial=0)) + 64

    def postings(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        s, e = self.tf.indptr[t], self.tf.indptr[t + 1]
        return self.tf.indices[s:e], self.tf.data[s:e]

    def keys(self, t: int) -> np.ndarray:
        s, e = self.p_ptr[t], self.p_ptr[t + 1]
        return self.p_doc[s:e] * self.key_base + self.p_pos[s:e]

    def phrase(self, ts: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Documents and phrase frequencies of the exact phrase ``ts``."""
        starts = self.keys(ts[0])
        for i, t in enumerate(ts[1:], start=1):
            if not len(starts):
                break
            starts = np.intersect1d(starts, self.keys(t) - i, assume_unique=True)
        docs, freq = np.unique(starts // self.key_base, return_counts=True)
        return docs, freq.astype(np.float64)

    def pair(self, a: int, b: int, slop: int) -> tuple[np.ndarray, np.ndarray]:
        """Lucene's sloppy-phrase frequency of "a b" with ``slop``: each occurrence pair adds
        1 / (1 + edit distance), the distance being |offset - 1| (so "b a" adjacent costs 2).
        Keys are sorted, so each b finds its a's within the window by binary search."""
        assert slop < 60, "keys of neighbouring documents are 64 positions apart"
        ka, kb = self.keys(a), self.keys(b)
        lo = np.searchsorted(ka, kb - (slop + 1), "left")  # pos_b - pos_a <= slop + 1
        hi = np.searchsorted(ka, kb + (slop - 1), "right")  # pos_a - pos_b <= slop - 1
        cnt = hi - lo
        total = int(cnt.sum())
        if not total:
            return np.zeros(0, np.int64), np.zeros(0)
        rb = np.repeat(np.arange(len(kb)), cnt)
        ia = lo[rb] + np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        delta = kb[rb] - ka[ia]  # never 0: one token per position
        docs, inv = np.unique(kb[rb] // self.key_base, return_inverse=True)
        return docs, np.bincount(inv, weights=1.0 / (1 + np.abs(delta - 1)))


class Index:
    """A collection analysed with one stemmer: both fields, the vocabulary, and caches of
    clause postings (many rankings share the same clauses)."""

    def __init__(self, coll: Collection, stemmer: str):
        self.coll, self.stemmer = coll, stemmer
        stem = _stemmers()[stemmer]
        self.stem = functools.lru_cache(maxsize=None)(stem)
        self.vocab: dict[str, int] = {}
        per_field, content = [], []
        stop = stop_words()
        for texts in (coll.titles, coll.bodies):
            docs, lens = [], []
            for text in texts:
                words = [w for w, _, _ in tokenize(text)]
                docs.append([self.vocab.setdefault(self.stem(w), len(self.vocab)) for w in words])
                lens.append(sum(1 for w in words if w not in stop and len(w) > 1))
            per_field.append(docs)
            content.append(lens)
        self.n = len(coll.ids)
        self.fields = [FieldIndex(d, len(self.vocab), c)
                       for d, c in zip(per_field, content, strict=True)]
        # Both fields together: document frequency "in any field" and the rows PRF reads.
        self.tf_all = (self.fields[0].tf + self.fields[1].tf).tocsr()
        self.length_all = self.fields[0].length + self.fields[1].length
        self.stop_stems = {self.stem(w) for w in stop_words()}
        self._cache: dict = {}

    def clause_postings(self, key: tuple) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per field (docs, tf) of a clause: ("t", (tid,)) | ("p", tids) | ("x", a, b, slop)."""
        hit = self._cache.get(key)
        if hit is None:
            if key[0] == "t":
                hit = [f.postings(key[1][0]) for f in self.fields]
            elif key[0] == "p":
                hit = [f.phrase(key[1]) for f in self.fields]
            else:
                hit = [f.pair(key[1], key[2], key[3]) for f in self.fields]
            self._cache[key] = hit
        return hit

    def inverse_vocab(self) -> list[str]:
        if "inv" not in self._cache:
            inv = [""] * len(self.vocab)
            for w, t in self.vocab.items():
                inv[t] = w
            self._cache["inv"] = inv
        return self._cache["inv"]

    def df_any(self, key: tuple) -> int:
        k = ("df",) + key
        if k not in self._cache:
            self._cache[k] = len(np.union1d(*(d for d, _ in self.clause_postings(key))))
        return self._cache[k]


# -- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One query unit: a word, or a phrase (a compound such as "non-users", or a quote)."""
    words: tuple[str, ...]  # folded, unstemmed (stop-word identity is decided on these)
    stems: tuple[str, ...]
    kind: str  # "word" | "compound" | "quote"

    def is_stop(self, stops: frozenset[str] | None = None) -> bool:
        """A stop unit is a single stop word: a quote or a compound (AT&T, "to be or not to
        be") is deliberate, and is never dropped."""
        stops = stop_words() if stops is None else stops
        return self.kind == "word" and self.words[0] in stops

    @property
    def stop(self) -> bool:
        return self.is_stop()


def parse_query(text: str, stem) -> list[Unit]:
    """Prose read as plain words: no operators, punctuation is punctuation; a quoted passage
    and a hyphen/&/slash compound are each one phrase unit."""
    spans = [(m.start(1), m.end(1)) for m in _QUOTE.finditer(text)]
    groups: dict[tuple, list[str]] = {}
    for word, group, off in tokenize(text):
        quote = next((i for i, (a, b) in enumerate(spans) if a <= off < b), None)
        groups.setdefault(("q", quote) if quote is not None else ("g", group), []).append(word)
    units = []
    for (kind, _), words in groups.items():
        kind = "word" if len(words) == 1 else ("quote" if kind == "q" else "compound")
        units.append(Unit(tuple(words), tuple(stem(w) for w in words), kind))
    return units


# -- ranking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rank:
    """One ranking configuration. Defaults = today's rule on the new analysis."""
    fields: str = "sum"  # sum: per-field BM25 added | combined: Lucene combined_fields | bm25f
    idf: str = "whoosh"  # whoosh: ln(N/(n+1))+1 | lucene: ln(1+(N-n+0.5)/(n+0.5))
    k1: float = 1.2
    b: float = 0.75
    b_title: float | None = None  # None: the same b as the body
    title_weight: float = 1.0
    length: str = "all"  # all: every token counts in the field length | content: no stop words
    norms: str = "exact"  # exact lengths | lucene: lengths through Lucene's 1-byte norm
    df: str = "union"  # combined fields: docs with the term in any field | max over fields
    stop: str = "drop"  # drop (when content words exist) | plain | weight
    stoplist: str = "whoosh"  # which words count as stop words at query time (see stop_words)
    stop_weight: float = 1.0  # for stop="weight"
    tier: str = "always"  # always | never | max (only up to tier_max content words) | coord
    tier_max: int = 3
    coord_p: float = 1.0  # for tier="coord": score * (matched / content units) ** p
    qtf: str = "count"  # count: a repeated query word counts again (Lucene) | unique | k3
    k3: float = 8.0  # for qtf="k3": Okapi's query-term saturation (k3+1) qtf / (k3 + qtf)
    max_df: float = 1.0  # content words in more than this share of documents are ignored
    compound: str = "phrase"  # phrase | words | both (phrase bonus + its words) | auto: a
    # phrase only when a part cannot stand alone (a stop word or one character: AT&T, G-7)
    quotes: str = "phrase"  # same choices for quoted passages
    prox: float = 0.0  # weight of the query-word pair clauses (0: off)
    slop: int = 3
    prf_docs: int = 0  # RM3 feedback documents (0: off)
    prf_terms: int = 10
    prf_alpha: float = 0.5  # weight of the original query
    prf_min: int = 0  # PRF only for queries with at least this many content units
    prf_max: int = 1000  # ... and at most this many
    prf_idf: bool = False  # weigh the feedback model by idf (terms frequent everywhere sink)
    prf_digits: bool = False  # allow expansion terms with digits (codes such as "f2", "296")
    stemmer: str = "porter"

    def label(self, base: Rank | None = None) -> str:
        base = base or Rank()
        diff = [f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(base, f.name)]
        return ", ".join(diff) or "(reference)"


@dataclass
class Clause:
    key: tuple  # Index.clause_postings key
    weight: float
    required: bool  # counts for the all-words tier


def build_clauses(units: list[Unit], ix: Index, cfg: Rank) -> tuple[list[Clause], int]:
    """The weighted clauses of a query, and how many of them the all-words tier requires."""
    stops = stop_words(cfg.stoplist)
    only_stop = all(u.is_stop(stops) for u in units)
    weights: Counter = Counter()
    required: dict = {}  # an ordered set
    for u in units:
        tids = tuple(ix.vocab.get(s, -1) for s in u.stems)
        mode = "words" if len(tids) == 1 else {"compound": cfg.compound,
                                                "quote": cfg.quotes}[u.kind]
        if mode == "auto":
            weak = any(w in stops or len(w) == 1 for w in u.words)
            mode = "phrase" if weak else "words"
        keys = []  # (key, is a stop word / all-stop phrase)
        if mode in ("phrase", "both"):
            keys.append((("p", tids), u.is_stop(stops)))
        if mode in ("words", "both"):
            keys.extend((("t", (t,)), w in stops)
                        for t, w in zip(tids, u.words, strict=True))
        for key, stop in keys:
            factor = 1.0
            if stop and not only_stop:  # the query has content words: the stop-word rule
                if cfg.stop == "drop":
                    continue
                factor = cfg.stop_weight if cfg.stop == "weight" else 1.0
            if mode == "both" and key[0] == "t" or (stop and not only_stop):
                pass  # not required: the phrase (or the content words) is
            else:
                required[key] = True
            if -1 in key[1]:
                continue  # a word no document has scores nothing (and fails the tier)
            if cfg.max_df < 1 and key[0] == "t" and ix.df_any(key) > cfg.max_df * ix.n:
                required.pop(key, None)
                continue
            weights[key] = weights[key] + factor if cfg.qtf != "unique" else factor
    if cfg.qtf == "k3":
        weights = Counter({k: (cfg.k3 + 1) * w / (cfg.k3 + w) for k, w in weights.items()})
    clauses = [Clause(k, w, k in required) for k, w in weights.items()]
    if cfg.prox > 0:
        # Consecutive content words of the query (stop words skipped) as sloppy pairs.
        seq = [ix.vocab.get(s, -1) for u in units for s, w in zip(u.stems, u.words, strict=True)
               if w not in stops or only_stop]
        pairs = dict.fromkeys((a, b) for a, b in zip(seq, seq[1:], strict=False)
                              if a != b and -1 not in (a, b))
        clauses.extend(Clause(("x", a, b, cfg.slop), cfg.prox, False) for a, b in pairs)
    return clauses, len(required)


def lucene_norm(length: np.ndarray) -> np.ndarray:
    """A field length as Lucene stores it (SmallFloat.intToByte4 then byte4ToInt): exact
    below 24, then 4 significant bits, rounded down."""
    out = length.astype(np.int64).copy()
    big = out >= 24
    v = out[big] - 24
    bits = np.floor(np.log2(np.maximum(v, 1))).astype(np.int64) + 1  # bit length of v
    shift = np.maximum(bits - 4, 0)
    out[big] = 24 + ((v >> shift) << shift)
    return out.astype(np.float64)


class Ranker:
    def __init__(self, ix: Index, cfg: Rank):
        self.ix, self.cfg, self.n = ix, cfg, ix.n
        b_t = cfg.b if cfg.b_title is None else cfg.b_title
        self.bs = (b_t, cfg.b)
        self.w = (cfg.title_weight, 1.0)
        lens = [f.length if cfg.length == "all" else f.content_length for f in ix.fields]
        # Average lengths are exact in Lucene too (sumTotalTermFreq / docCount); only each
        # document's own length goes through the 1-byte norm.
        store = lucene_norm if cfg.norms == "lucene" else (lambda x: x)
        self.norm = [1 - b + b * store(ln) / (ln.mean() or 1.0)
                     for b, ln in zip(self.bs, lens, strict=True)]
        if cfg.fields == "combined":  # one field holding the title w times, then the body
            lc = self.w[0] * lens[0] + lens[1]
            self.norm_c = 1 - cfg.b + cfg.b * store(lc) / (lc.mean() or 1.0)

    def idf(self, df: float) -> float:
        n = self.n
        if self.cfg.idf == "whoosh":
            return float(np.log(n / (df + 1)) + 1)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def clause_idf(self, key: tuple, field: int | None) -> float:
        """idf of a term; a phrase or pair gets the sum of its terms' idfs (as Lucene)."""
        tids = key[1] if key[0] != "x" else (key[1], key[2])
        ix = self.ix
        if field is None and self.cfg.df == "max":  # Lucene's CombinedFieldQuery
            return sum(self.idf(max(len(f.postings(t)[0]) for f in ix.fields)) for t in tids)
        if field is None:
            return sum(self.idf(ix.df_any(("t", (t,)))) for t in tids)
        return sum(self.idf(len(ix.fields[field].postings(t)[0])) for t in tids)

    def score_clause(self, c: Clause, out: np.ndarray) -> None:
        cfg, k1, ix = self.cfg, self.cfg.k1, self.ix
        post = ix.clause_postings(c.key)
        if cfg.fields == "sum":
            for f, (docs, tf) in enumerate(post):
                if len(docs):
                    idf = self.clause_idf(c.key, f)
                    out[docs] += c.weight * self.w[f] * idf * tf / (tf + k1 * self.norm[f][docs])
            return
        docs = np.union1d(post[0][0], post[1][0])
        if not len(docs):
            return
        acc = np.zeros(len(docs))
        for f, (d, tf) in enumerate(post):
            where = np.searchsorted(docs, d)
            if cfg.fields == "combined":
                acc[where] += self.w[f] * tf  # tf summed over fields, one saturation
            else:  # Zaragoza's BM25F: each field length-normalised, then one saturation
                acc[where] += self.w[f] * tf / self.norm[f][d]
        idf = self.clause_idf(c.key, None)
        denom = acc + (k1 * self.norm_c[docs] if cfg.fields == "combined" else k1)
        out[docs] += c.weight * idf * acc / denom

    def presence(self, key: tuple) -> np.ndarray:
        return np.union1d(*(d for d, _ in self.ix.clause_postings(key)))

    def scores(self, clauses: list[Clause], n_req: int) -> tuple[np.ndarray, np.ndarray]:
        """(score, final sort key) for every document; matched documents have score > 0."""
        cfg = self.cfg
        s = np.zeros(self.n)
        for c in clauses:
            self.score_clause(c, s)
        final = s.copy()
        use_tier = cfg.tier == "always" or (cfg.tier == "max" and n_req <= cfg.tier_max)
        if (use_tier or cfg.tier == "coord") and n_req:
            count = np.zeros(self.n)
            for c in clauses:
                if c.required:
                    count[self.presence(c.key)] += 1
            if use_tier:  # a required word no document has: no document is in the tier
                final = np.where(count >= n_req, s + 1e6, s)  # all words first, then any
            elif cfg.tier == "coord":
                final = s * (count / n_req) ** cfg.coord_p
        return s, final

    def rank(self, units: list[Unit], k: int = DEPTH) -> list[int]:
        cfg, ix = self.cfg, self.ix
        clauses, n_req = build_clauses(units, ix, cfg)
        s, final = self.scores(clauses, n_req)
        top = _top(s, final, k)
        n_content = sum(1 for u in units if not u.is_stop(stop_words(cfg.stoplist)))
        if cfg.prf_docs and len(top) and cfg.prf_min <= n_content <= cfg.prf_max:
            clauses = self.rm3(clauses, top[:cfg.prf_docs], s)
            s, final = self.scores(clauses, n_req)
            top = _top(s, final, k)
        return top

    def rm3(self, clauses: list[Clause], fb: list[int], s: np.ndarray) -> list[Clause]:
        """RM3: feedback model sum_d P(t|d) P(d|q) over the top documents (P(t|d) = tf / |d|
        over both fields, P(d|q) = first-pass score share), its top terms (no stop words, no
        one-letter terms) mixed with the original query at prf_alpha : 1 - prf_alpha."""
        ix, cfg = self.ix, self.cfg
        rows = ix.tf_all[fb]
        dw = s[fb] / s[fb].sum()
        lens = np.maximum(ix.length_all[fb], 1)
        model = np.asarray(rows.multiply((dw / lens)[:, None]).sum(axis=0)).ravel()
        if cfg.prf_idf:
            df = np.diff(ix.tf_all.tocsc().indptr) if "df" not in ix._cache else ix._cache["df"]
            ix._cache["df"] = df
            model = model * np.log(1 + (ix.n - df + 0.5) / (df + 0.5))
        terms = np.argsort(-model, kind="stable")
        inv = ix.inverse_vocab()
        chosen = []
        for t in terms:
            if model[t] <= 0 or len(chosen) == cfg.prf_terms:
                break
            w = inv[t]
            if w in ix.stop_stems or len(w) < 2 or (not cfg.prf_digits and _DIGIT.search(w)):
                continue
            chosen.append(t)
        fbw = model[chosen] / model[chosen].sum()
        orig = sum(c.weight for c in clauses if c.key[0] != "x") or 1.0
        out = {c.key: replace(c, weight=cfg.prf_alpha * c.weight / orig) for c in clauses}
        for t, w in zip(chosen, fbw, strict=True):
            key = ("t", (int(t),))
            prev = out.get(key)
            extra = (1 - cfg.prf_alpha) * float(w)
            out[key] = replace(prev, weight=prev.weight + extra) if prev else Clause(key, extra,
                                                                                      False)
        return list(out.values())


def _top(s: np.ndarray, final: np.ndarray, k: int) -> list[int]:
    matched = np.flatnonzero(s > 0)
    order = matched[np.lexsort((matched, -final[matched]))]  # ties: document order
    return order[:k].tolist()


# -- evaluation -------------------------------------------------------------------------------

MEASURES = ("nDCG@10", "AP(rel=1)", "R(rel=1)@100")
SHORT = {"nDCG@10": "nDCG", "AP(rel=1)": "MAP", "R(rel=1)@100": "R@100"}


def evaluate(coll: Collection, ranked: dict[str, list[str]]) -> dict:
    """Means over the judged queries (a query with no results scores 0), and under "per"
    each query's nDCG@10 (for paired comparisons)."""
    import ir_measures

    measures = [ir_measures.parse_measure(m) for m in MEASURES]
    # Rank-derived scores, so ties in engine scores cannot reorder a list.
    run = {q: {d: float(DEPTH - r) for r, d in enumerate(ids)} for q, ids in ranked.items() if ids}
    per: dict[str, dict[str, float]] = {str(m): {} for m in measures}
    for metric in ir_measures.iter_calc(measures, coll.qrels, run):
        per[str(metric.measure)][metric.query_id] = metric.value
    out: dict = {SHORT[m]: float(np.mean([per[str(pm)].get(q, 0.0) for q in coll.qids]))
                 for m, pm in zip(MEASURES, measures, strict=True)}
    out["per"] = np.array([per[str(measures[0])].get(q, 0.0) for q in coll.qids])
    return out


class Lab:
    """The collections, their indexes per stemmer, and memoised evaluations of rankings."""

    def __init__(self, shared: Path, names=COLLECTIONS):
        self.colls = {n: load_collection(shared / "relevance" / n) for n in names}
        self._ix: dict = {}
        self._units: dict = {}
        self._done: dict = {}

    def index(self, name: str, stemmer: str) -> Index:
        if (name, stemmer) not in self._ix:
            self._ix[name, stemmer] = Index(self.colls[name], stemmer)
        return self._ix[name, stemmer]

    def units(self, name: str, stemmer: str, upper: bool = False) -> dict[str, list[Unit]]:
        key = (name, stemmer, upper)
        if key not in self._units:
            ix, coll = self.index(name, stemmer), self.colls[name]
            self._units[key] = {q: parse_query(coll.queries[q].upper() if upper else
                                               coll.queries[q], ix.stem) for q in coll.qids}
        return self._units[key]

    def run(self, name: str, cfg: Rank, upper: bool = False) -> dict[str, list[str]]:
        ix = self.index(name, cfg.stemmer)
        ranker = Ranker(ix, cfg)
        return {q: [ix.coll.ids[d] for d in ranker.rank(units)]
                for q, units in self.units(name, cfg.stemmer, upper).items()}

    def cold_ms(self, name: str, cfg: Rank) -> float:
        """ms per query with the clause caches emptied (what a fresh query costs here)."""
        ix = self.index(name, cfg.stemmer)
        self.units(name, cfg.stemmer)
        ix._cache.clear()
        t0 = time.perf_counter()
        self.run(name, cfg)
        return (time.perf_counter() - t0) * 1000 / len(self.colls[name].qids)

    def eval(self, cfg: Rank) -> dict[str, dict[str, float]]:
        """{collection: {nDCG, MAP, R@100}} for one ranking (memoised)."""
        if cfg not in self._done:
            self._done[cfg] = {name: evaluate(coll, self.run(name, cfg))
                               for name, coll in self.colls.items()}
        return self._done[cfg]


# -- peers ------------------------------------------------------------------------------------


def cleaned(text: str) -> str:
    """The query's words with punctuation stripped (what the peers are given)."""
    return " ".join(re.findall(r"\w+", text))


def peer_tantivy(coll: Collection) -> dict[str, list[str]]:
    """tantivy-py, default en_stem tokenizer on title and body, the words OR-ed (its query
    parser over both fields; lower-cased so that AND/OR/NOT/IN stay words)."""
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("doc", stored=True)
    sb.add_text_field("title", tokenizer_name="en_stem")
    sb.add_text_field("body", tokenizer_name="en_stem")
    schema = sb.build()
    index = tantivy.Index(schema)  # in memory
    writer = index.writer(heap_size=64_000_000, num_threads=1)
    for i, (t, b) in enumerate(zip(coll.titles, coll.bodies, strict=True)):
        writer.add_document(tantivy.Document(doc=i, title=t, body=b))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    out = {}
    for q in coll.qids:
        text = cleaned(coll.queries[q]).lower()
        if not text:
            out[q] = []
            continue
        hits = searcher.search(index.parse_query(text, ["title", "body"]), DEPTH).hits
        out[q] = [coll.ids[searcher.doc(addr)["doc"][0]] for _, addr in hits]
    return out


def peer_fts5(coll: Collection) -> dict[str, list[str]]:
    """SQLite FTS5, porter tokenizer, bm25() with its default weights, the words OR-ed."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize='porter unicode61')")
    rows = [(i, t, b) for i, (t, b) in enumerate(zip(coll.titles, coll.bodies, strict=True))]
    con.executemany("INSERT INTO docs (rowid, title, body) VALUES (?, ?, ?)", rows)
    out = {}
    for q in coll.qids:
        words = cleaned(coll.queries[q]).split()
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = con.execute("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) "
                           "LIMIT ?", (match, DEPTH)).fetchall() if words else []
        out[q] = [coll.ids[r[0]] for r in rows]
    con.close()
    return out


def peer_rank_bm25(coll: Collection, stemmed: bool) -> dict[str, list[str]]:
    """rank_bm25's BM25Okapi (k1 1.5, b 0.75, its defaults) over title + body: a) plain
    lower-case \\w+ tokens, b) Porter-stemmed tokens without stop words."""
    from rank_bm25 import BM25Okapi
    from whoosh.lang.porter import stem

    stem = functools.lru_cache(maxsize=None)(stem)

    def toks(text: str) -> list[str]:
        words = re.findall(r"\w+", text.lower())
        return [stem(w) for w in words if w not in stop_words()] if stemmed else words

    bm = BM25Okapi([toks(f"{t} {b}") for t, b in zip(coll.titles, coll.bodies, strict=True)])
    out = {}
    for q in coll.qids:
        s = bm.get_scores(toks(cleaned(coll.queries[q])))
        top = np.argsort(-s, kind="stable")[:DEPTH]
        out[q] = [coll.ids[d] for d in top if s[d] > 0]
    return out


def peer_whoosh(coll: Collection) -> dict[str, list[str]]:
    """Plain Whoosh: StemmingAnalyzer TEXT fields, MultifieldParser with OrGroup, BM25F
    defaults (lower-cased so that AND/OR/NOT stay words)."""
    from whoosh import fields, qparser
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.filedb.filestore import RamStorage

    schema = fields.Schema(doc=fields.STORED, title=fields.TEXT(analyzer=StemmingAnalyzer()),
                           body=fields.TEXT(analyzer=StemmingAnalyzer()))
    index = RamStorage().create_index(schema)
    with index.writer() as w:
        for i, (t, b) in enumerate(zip(coll.titles, coll.bodies, strict=True)):
            w.add_document(doc=i, title=t, body=b)
    parser = qparser.MultifieldParser(["title", "body"], schema, group=qparser.OrGroup)
    out = {}
    with index.searcher() as s:
        for q in coll.qids:
            hits = s.search(parser.parse(cleaned(coll.queries[q]).lower()), limit=DEPTH)
            out[q] = [coll.ids[h["doc"]] for h in hits]
    return out


PEERS = {
    "tantivy": peer_tantivy,
    "fts5": peer_fts5,
    "rank_bm25 (\\w+)": functools.partial(peer_rank_bm25, stemmed=False),
    "rank_bm25 (porter, no stop)": functools.partial(peer_rank_bm25, stemmed=True),
    "whoosh": peer_whoosh,
}


def run_peers(lab: Lab) -> dict[str, dict[str, dict[str, float]]]:
    out: dict = {}
    for peer, fn in PEERS.items():
        out[peer] = {}
        for name, coll in lab.colls.items():
            t0 = time.perf_counter()
            scores = evaluate(coll, fn(coll))
            out[peer][name] = scores | {"s": time.perf_counter() - t0}
        log(f"peer {peer}: " + ", ".join(f"{n} {v['nDCG']:.3f}" for n, v in out[peer].items()))
    return out


def log(msg: str) -> None:
    print(f"# {msg}", file=sys.stderr, flush=True)


# -- the experiments --------------------------------------------------------------------------

# Today's rule on the new analysis: per-field BM25 summed (title weight 1), Whoosh's idf,
# k1 1.2, b 0.75, stop words dropped when the query has content words, the all-words tier for
# every query, compounds and quotes as phrases.
TODAY = Rank()

# The recommendation (see bench/RANKING.md for the argument).
RECOMMENDED = Rank(fields="combined", idf="lucene", k1=2.0, b=0.5, title_weight=3.0,
                   stop="drop", tier="max", tier_max=5, qtf="count", compound="auto",
                   quotes="phrase", prox=0.3, slop=8, prf_docs=0, stemmer="porter")


def steps() -> list[tuple[str, Rank]]:
    """From today's rule to the recommendation, one change at a time (cumulative)."""
    r = TODAY
    out = [("today's rule (new analysis)", r)]
    for label, change in [
        ("+ Lucene idf", dict(idf="lucene")),
        ("+ one combined field (Lucene combined_fields)", dict(fields="combined")),
        ("+ compounds as words unless a part is a stop word or one character",
         dict(compound="auto")),
        ("+ title weight 3", dict(title_weight=3.0)),
        ("+ k1 2.0, b 0.5", dict(k1=2.0, b=0.5)),
        ("+ proximity pairs (weight 0.3, slop 8)", dict(prox=0.3, slop=8)),
        ("+ all-words tier only up to 5 content words", dict(tier="max", tier_max=5)),
    ]:
        r = replace(r, **change)
        out.append((label, r))
    assert r == RECOMMENDED, r.label(RECOMMENDED)
    return out


def variants(quick: bool) -> list[tuple[str, str, list[tuple[str, Rank]]]]:
    """(section title, note, [(label, ranking)]): each a change of the recommendation."""
    R = RECOMMENDED
    v = lambda **kw: replace(R, **kw)  # noqa: E731
    sections = [
        ("Stop words at query time", "stop words stay in the index; the rule applies when the "
         "query has content words (a query of stop words only is scored on all its words)",
         [("dropped (recommended)", R), ("scored like any word", v(stop="plain"))]
         + [(f"down-weighted x{w}", v(stop="weight", stop_weight=w)) for w in (0.1, 0.3, 0.5)]
         + [("dropped, with the 127-word list as the query's stop list",
             v(stoplist="nltk127"))]),
        ("The all-words tier", "documents with every content word first, then the rest",
         [("never", v(tier="never")), ("always (today)", v(tier="always"))]
         + [(f"only for <= {n} content words" + (" (recommended)" if n == 5 else ""),
             v(tier="max", tier_max=n)) for n in (2, 3, 4, 5, 6, 8)]
         + [(f"soft: score x (matched/all)^{p}", v(tier="coord", coord_p=p))
            for p in (0.1, 0.25, 0.5, 1.0)]),
        ("Fields and idf", "combined = one field holding title x w + body (Lucene "
         "combined_fields); bm25f = Zaragoza (per-field length normalisation, then one "
         "saturation); sum = per-field BM25 added (today, Whoosh's BM25F)",
         [("combined, Lucene idf (recommended)", R), ("combined, Whoosh idf", v(idf="whoosh")),
          ("bm25f, Lucene idf", v(fields="bm25f")),
          ("bm25f, title b 0", v(fields="bm25f", b_title=0.0)),
          ("bm25f, title b 0.75", v(fields="bm25f", b_title=0.75)),
          ("sum, Lucene idf", v(fields="sum")), ("sum, Whoosh idf", v(fields="sum", idf="whoosh")),
          ("sum, title b 0", v(fields="sum", b_title=0.0)),
          ("combined, lengths through Lucene's 1-byte norms", v(norms="lucene")),
          ("combined, df = max over fields (Lucene combined_fields)", v(df="max")),
          ("combined, lengths without stop words", v(length="content"))]),
        ("Title weight", "", [(f"title x{w}" + (" (recommended)" if w == 3 else ""),
                               v(title_weight=w)) for w in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)]),
        ("Query words", "repeated words; very frequent words",
         [("repeats count (recommended, as Lucene)", R), ("each word once", v(qtf="unique")),
          ("repeats saturated, k3 2", v(qtf="k3", k3=2.0))]
         + [(f"ignore words in > {int(f * 100)}% of documents", v(max_df=f))
            for f in (0.5, 0.25, 0.1)]),
        ("Compounds and quotes in queries", "G-7, non-users, t/nroff; quoted passages "
         "(8 CACM queries have quotes, 5 of them judged; of those 5 quoted passages only one "
         "occurs in any document: they cite paper titles)",
         [("compound: phrase if a part is a stop word or one character, else words "
           "(recommended)", R), ("compound: always a phrase", v(compound="phrase")),
          ("compound: always its words", v(compound="words")),
          ("compound: phrase + its words", v(compound="both")),
          ("quotes: words", v(quotes="words")), ("quotes: phrase + words", v(quotes="both"))]),
        ("Stemmer", "", [(f"{s}" + (" (recommended)" if s == "porter" else ""), v(stemmer=s))
                         for s in ("porter", "porter2", "snowball", "none")]),
        ("Pseudo-relevance feedback (RM3)", "on top of the recommendation; cost in the "
         "cost table",
         [("off (recommended)", R)]
         + [(f"{d} docs, {t} terms, original x{a}", v(prf_docs=d, prf_terms=t, prf_alpha=a))
            for d in (3, 10) for t in (10, 20) for a in (0.5, 0.7, 0.9)]
         + [("10 docs, 20 terms, x0.7, idf-weighted model",
             v(prf_docs=10, prf_terms=20, prf_alpha=0.7, prf_idf=True)),
            ("10 docs, 20 terms, x0.7, only queries >= 12 content words",
             v(prf_docs=10, prf_terms=20, prf_alpha=0.7, prf_min=12)),
            ("5 docs, 10 terms, x0.5, only queries <= 8 content words",
             v(prf_docs=5, prf_terms=10, prf_alpha=0.5, prf_max=8))]),
    ]
    if quick:
        sections = [(t, n, rows[:3]) for t, n, rows in sections]
    return sections


def grids(quick: bool) -> list[tuple[str, str, str, list, str, list, callable]]:
    """(title, row name, rows, column name, columns, make ranking)."""
    R = RECOMMENDED
    if quick:
        return []
    return [
        ("k1 x b", "k1", [0.9, 1.2, 1.5, 2.0, 2.5, 3.0], "b", [0.3, 0.4, 0.5, 0.6, 0.75, 0.9],
         lambda k1, b: replace(R, k1=k1, b=b)),
        ("proximity weight x slop", "weight", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7], "slop",
         [1, 2, 4, 8, 12], lambda w, s: replace(R, prox=w, slop=s)),
    ]


# -- printing ---------------------------------------------------------------------------------


def _row(label: str, r: dict, ref: dict | None, names: list[str]) -> str:
    cells = [label]
    for n in names:
        cells += [f"{r[n]['nDCG']:.3f}", f"{r[n]['MAP']:.3f}", f"{r[n]['R@100']:.3f}"]
    mean = np.mean([r[n]["nDCG"] for n in names])
    cells.append(f"**{mean:.4f}**")
    if ref is not None:
        cells.append(" / ".join(f"{r[n]['nDCG'] - ref[n]['nDCG']:+.3f}" for n in names))
    return "| " + " | ".join(cells) + " |"


def _header(names: list[str], delta: bool) -> list[str]:
    cols = ["ranking"] + [f"{n} {m}" for n in names for m in ("nDCG@10", "MAP", "R@100")]
    cols.append("mean nDCG@10")
    if delta:
        cols.append("Δ nDCG@10 (" + "/".join(n[:4] for n in names) + ")")
    return ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]


def peers_table(peers: dict, names: list[str]) -> tuple[list[str], dict[str, float]]:
    lines = _header(names, False)
    for peer, r in peers.items():
        lines.append(_row(peer, {n: {k: v for k, v in r[n].items() if k != "s"} for n in names},
                          None, names))
    floor = {n: max(r[n]["nDCG"] for r in peers.values()) for n in names}
    best = {n: max(peers, key=lambda p: peers[p][n]["nDCG"]) for n in names}
    lines.append("| **floor (best peer)** | " + " | ".join(
        f"**{floor[n]:.3f}** ({best[n]}) | | " for n in names) + " |")
    return lines, floor


def print_report(lab: Lab, quick: bool, out) -> None:
    names = list(lab.colls)
    w = lambda s="": print(s, file=out, flush=True)  # noqa: E731
    w("# Ranking lab results\n")
    w("nDCG@10 on graded qrels; MAP and Recall@100 with grade >= 1 relevant; means over the "
      "judged queries (" + ", ".join(f"{n} {len(c.qids)}" for n, c in lab.colls.items())
      + "). Δ = change of nDCG@10 against the section's first row (in the cumulative table: "
      "against the row above).\n")
    w("## Collections\n")
    w("| collection | docs | judged queries | words/query (median) | content words/query "
      "(median) | queries with quotes | queries with compounds | stop-word-only queries |")
    w("|---|---|---|---|---|---|---|---|")
    for n, c in lab.colls.items():
        units = lab.units(n, "porter")
        words = [len(tokenize(c.queries[q])) for q in c.qids]
        content = [sum(1 for u in units[q] if not u.stop) for q in c.qids]
        quotes = sum(1 for q in c.qids if any(u.kind == "quote" for u in units[q]))
        comps = sum(1 for q in c.qids if any(u.kind == "compound" for u in units[q]))
        only_stop = sum(1 for x in content if x == 0)
        w(f"| {n} | {len(c.ids)} | {len(c.qids)} | {np.median(words):.0f} | "
          f"{np.median(content):.0f} | {quotes} | {comps} | {only_stop} |")
    w()
    log("peers ...")
    peers = run_peers(lab)
    w("## Peers (same documents, same run; cleaned query text)\n")
    lines, floor = peers_table(peers, names)
    for line in lines:
        w(line)
    w()
    log("steps ...")
    w("## From today's rule to the recommendation (cumulative)\n")
    for line in _header(names, True):
        w(line)
    prev = None
    for label, cfg in steps():
        r = lab.eval(cfg)
        w(_row(label, r, prev or r, names))
        prev = r
    w()
    rec = lab.eval(RECOMMENDED)
    for title, note, rows in variants(quick):
        log(f"{title} ...")
        w(f"## {title}\n")
        if note:
            w(f"{note}.\n")
        for line in _header(names, True):
            w(line)
        for label, cfg in rows:
            w(_row(label, lab.eval(cfg), rec, names))
        w()
    for title, rname, rvals, cname, cvals, make in grids(quick):
        log(f"grid {title} ...")
        w(f"## Grid: {title}\n")
        w(f"Cells: nDCG@10 cranfield / cacm / lisa, then the mean. Rows {rname}, columns "
          f"{cname}; everything else as recommended.\n")
        w(f"| {rname} \\ {cname} | " + " | ".join(str(c) for c in cvals) + " |")
        w("|---|" + "---|" * len(cvals))
        for rv in rvals:
            cells = []
            for cv in cvals:
                r = lab.eval(make(rv, cv))
                vals = [r[n]["nDCG"] for n in names]
                cells.append("/".join(f"{x:.3f}"[1:] for x in vals) + f" **{np.mean(vals):.3f}**")
            w(f"| {rv} | " + " | ".join(cells) + " |")
        w()
    log("cost ...")
    w("## Cost\n")
    w("Query time in ms per query (mean over the judged queries), caches of postings, "
      "phrases and pairs cleared first; in-process numpy, one thread, a shared 2-core "
      "machine (noisy).\n")
    w("| ranking | " + " | ".join(names) + " |")
    w("|---|" + "---|" * len(names))
    for label, cfg in [("recommended without proximity", replace(RECOMMENDED, prox=0.0)),
                       ("recommended", RECOMMENDED),
                       ("recommended + RM3 (10 docs, 20 terms)",
                        replace(RECOMMENDED, prf_docs=10, prf_terms=20, prf_alpha=0.7))]:
        w(f"| {label} | " + " | ".join(f"{lab.cold_ms(n, cfg):.1f}" for n in names) + " |")
    w()
    log("short-query probe ...")
    w("## Short-query probe for the tier\n")
    w("Each query cut to its k rarest distinct content words (kept in query order), same "
      "qrels: how the all-words tier behaves on short keyword queries.\n")
    for line in _header(names, True):
        w(line)
    for k in (2, 3, 4):
        base = None
        for tier in ("never", "always", "max"):
            cfg = replace(RECOMMENDED, tier=tier)
            r = {n: evaluate(c, short_run(lab, n, cfg, k)) for n, c in lab.colls.items()}
            base = base or r
            w(_row(f"{k} words, tier {tier if tier != 'max' else '<= 5 (recommended)'}", r, base,
                   names))
    w()
    w("## Case check\n")
    same = {n: case_check(lab, n, RECOMMENDED) for n in names}
    w("Upper-cased queries ranked exactly as the originals (top 100, same order): " + ", ".join(
        f"{n} {a}/{b}" for n, (a, b) in same.items()) + ".\n")
    w("## Recommended vs the floor\n")
    w("Per query: wins / ties / losses of nDCG@10 against the best peer, and the two-sided "
      "p of a paired t-test.\n")
    w("| collection | recommended nDCG@10 | best peer | Δ | MAP (peer) | R@100 (peer) | "
      "wins/ties/losses | p |")
    w("|---|---|---|---|---|---|---|---|")
    from scipy.stats import ttest_rel

    for n in names:
        best = max(peers, key=lambda p: peers[p][n]["nDCG"])
        a, b = rec[n]["per"], peers[best][n]["per"]
        wtl = f"{int((a > b + 1e-9).sum())}/{int((abs(a - b) <= 1e-9).sum())}/" \
              f"{int((a < b - 1e-9).sum())}"
        w(f"| {n} | {rec[n]['nDCG']:.3f} | {floor[n]:.3f} ({best}) | "
          f"{rec[n]['nDCG'] - floor[n]:+.3f} | {rec[n]['MAP']:.3f} ({peers[best][n]['MAP']:.3f}) "
          f"| {rec[n]['R@100']:.3f} ({peers[best][n]['R@100']:.3f}) | {wtl} | "
          f"{ttest_rel(a, b).pvalue:.3f} |")
    w()
    w("Recommended: `" + repr(RECOMMENDED) + "`")


def short_run(lab: Lab, name: str, cfg: Rank, k: int) -> dict[str, list[str]]:
    """Each query reduced to its k rarest distinct content words, in query order."""
    ix, coll = lab.index(name, cfg.stemmer), lab.colls[name]
    ranker = Ranker(ix, cfg)
    out = {}
    for q, units in lab.units(name, cfg.stemmer).items():
        words = [u for u in units if not u.stop and u.kind == "word" and u.stems[0] in ix.vocab]
        by_df = sorted(dict.fromkeys(u.stems for u in words),
                       key=lambda st: ix.df_any(("t", (ix.vocab[st[0]],))))
        keep = set(by_df[:k])
        kept, seen = [], set()
        for u in words:
            if u.stems in keep and u.stems not in seen:
                kept.append(u)
                seen.add(u.stems)
        out[q] = [coll.ids[d] for d in ranker.rank(kept)]
    return out


def case_check(lab: Lab, name: str, cfg: Rank) -> tuple[int, int]:
    a, b = lab.run(name, cfg), lab.run(name, cfg, upper=True)
    return sum(1 for q in a if a[q] == b[q]), len(a)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared"),
                    help="the shared folder (with relevance/cranfield, cacm, lisa)")
    ap.add_argument("--quick", action="store_true", help="skip the grids, fewer variants")
    ap.add_argument("--out", type=Path, help="also write the Markdown report to this file")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    lab = Lab(args.shared)
    if args.out:
        with args.out.open("w", encoding="utf-8") as fh:
            class Tee:
                def write(self, s):
                    sys.stdout.write(s)
                    fh.write(s)

                def flush(self):
                    sys.stdout.flush()
                    fh.flush()

            print_report(lab, args.quick, Tee())
    else:
        print_report(lab, args.quick, sys.stdout)
    log(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
