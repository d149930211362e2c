"""An opened index generation: Whoosh's searcher plus the columns and vocabulary around it.

This module, with ``schema`` and ``indexer``, is where Whoosh lives. It offers the search core
engine-neutral operations on document numbers:

* :meth:`IndexView.parse` — query text → a :class:`ParsedQuery` (Whoosh syntax with the
  plain-words fallback, term-expansion limits, and the two ranking tiers: all words first, then
  any word);
* :meth:`IndexView.mask` — the exact set of matching documents as a boolean array;
* :meth:`IndexView.top` — the best ``k`` documents of a query within an allowed set, by BM25F;
* stored articles, more-like-this, and spelling candidates from the vocabulary.

:class:`Engine` hands each thread its own view (Whoosh searchers are not thread-safe) and
reopens it when the indexer has swapped in a new generation, so a server picks up rebuilds
without a restart and without failing a request in flight.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh import scoring
from whoosh.codec.base import Automata
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.qparser import AndGroup, FuzzyTermPlugin, MultifieldParser

from searchsvc.errors import IndexUnavailable, InvalidQuery
from searchsvc.facets import Columns
from searchsvc.indexer import current_generation, read_build_info, read_stories, read_vocabulary
from searchsvc.schema import FACET_FIELDS, TEXT_FIELDS, decode_meta

# Title and body are each scored by BM25 and summed, so a headline word (which nearly always
# recurs in the body, and gets a high length-normalised tf in a short headline) already counts
# twice; an extra title weight counted it a third time. Weight 2 lost 0.007 nDCG@10 on Cranfield
# (title + abstract, the shape of headline + body) and 0.026 for tantivy: bench/RESULTS.md.
TITLE_BOOST = 1.0
K1 = 1.2
B = 0.75
POSTINGS_CACHE = 4096
MAX_EDIT_DISTANCE = 2
QUERYABLE = {"title", "body", "date", "id", *FACET_FIELDS}
_SYNTAX = re.compile(r"[^\w\s]+")
_QUESTION = re.compile(r"(?<=\w)\?+(?=\s|$)")
_UNKNOWN_FIELD = re.compile(r"\b(\w+):(?=\S)")
_OPERATORS = re.compile(r"\b(AND|OR|NOT|ANDNOT|ANDMAYBE|TO)\b")


@dataclass
class ParsedQuery:
    """A query ready to run. ``tiers`` rank in order: documents matching tier 0 (all the words)
    come before those matching only tier 1 (any word). ``match_all`` for an empty query."""

    text: str
    tiers: list[wq.Query] = field(default_factory=list)
    match_all: bool = False
    # (start, end, word) of each plain word of ``text`` that became a term of a text field.
    words: list[tuple[int, int, str]] = field(default_factory=list)
    terms: dict[str, set[str]] = field(default_factory=dict)

    @property
    def query(self) -> wq.Query | None:
        return self.tiers[-1] if self.tiers else None


def _is_text_clause(q: wq.Query) -> bool:
    """A clause that only asks for words in the title or body (a plain word, a phrase, a
    prefix…), as opposed to a filter such as a date range, a facet value or a NOT."""
    if isinstance(q, (wq.Not, wq.AndNot)):
        return False
    leaves = list(q.leaves()) if not q.is_leaf() else [q]
    return bool(leaves) and all(getattr(leaf, "fieldname", None) in TEXT_FIELDS
                                for leaf in leaves)


def _loosen(strict: wq.Query) -> wq.Query | None:
    """The any-word tier of an implicit all-words query: the text clauses OR-ed, every other
    clause (date ranges, field filters, NOTs) still required. None if nothing to loosen."""
    if not isinstance(strict, wq.And):
        return None
    words = [c for c in strict.children() if _is_text_clause(c)]
    others = [c for c in strict.children() if not _is_text_clause(c)]
    if len(words) < 2:
        return None
    loose = wq.Or(words)
    return wq.And([*others, loose]) if others else loose


class _ListCursor:
    """The term-cursor interface Whoosh's Levenshtein automaton walks, over a sorted word list."""

    def __init__(self, words: list[str]):
        self.words = words
        self.i = 0

    def text(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def find(self, term: str) -> None:
        self.i = bisect.bisect_left(self.words, term)


def _one_edit(word: str, alphabet: str) -> set[str]:
    """``word`` and every string one insertion, deletion or substitution away that keeps its
    first letter (Whoosh's Levenshtein automaton with ``prefix=1``; no transpositions)."""
    head, rest = word[0], word[1:]
    splits = [(rest[:i], rest[i:]) for i in range(len(rest) + 1)]
    found = {word}
    found.update(head + a + b[1:] for a, b in splits if b)
    found.update(head + a + c + b[1:] for a, b in splits if b for c in alphabet)
    found.update(head + a + c + b for a, b in splits for c in alphabet)
    return found


class IndexView:
    """One generation, opened for searching by one thread."""

    def __init__(self, generation: Path, max_terms: int = 1024,
                 title_weight: float = TITLE_BOOST):
        self.generation = generation
        self.max_terms = max_terms
        self.title_weight = title_weight
        self.ix = whoosh_index.open_dir(str(generation))
        self.searcher = self.ix.searcher(weighting=scoring.BM25F(B=B, K1=K1))
        self.reader = self.searcher.reader()
        self.build_info = read_build_info(generation)
        self._postings_cache: dict = {}
        self._expansions: dict = {}
        self._lexicons: dict[str, list[str]] = {}
        self._load_columns()
        self.lengths = {f: self._field_lengths(f) for f in TEXT_FIELDS}
        self.avg_length = {f: self.searcher.avg_field_length(f) or 1.0 for f in TEXT_FIELDS}
        vocabulary = read_vocabulary(generation)
        self.words = sorted(vocabulary)
        self._alphabet: str | None = None
        self.corrections: dict[str, str | None] = {}  # did-you-mean, word → correction
        self.df = vocabulary
        self._parser = self._make_parser()

    def _make_parser(self) -> MultifieldParser:
        parser = MultifieldParser(list(TEXT_FIELDS), self.ix.schema,
                                  fieldboosts={"title": self.title_weight}, group=AndGroup)
        parser.add_plugin(FuzzyTermPlugin())
        return parser

    def _load_columns(self) -> None:
        reader = self.reader
        n = reader.doc_count_all()
        # An index built from no articles has no columns at all.
        self.ids: list[str] = list(reader.column_reader("id")) if n else []
        metas = ([decode_meta(raw) if raw else None for raw in reader.column_reader("meta")]
                 if n else [])
        live = np.zeros(n, dtype=bool)
        live[list(reader.all_doc_ids())] = True
        self.docnum = {self.ids[d]: d for d in np.flatnonzero(live).tolist()}
        empty = [[] for _ in FACET_FIELDS]
        facet_lists = [m["f"] if m else empty for m in metas]
        self.columns = Columns.build(
            live,
            [m["d"] if m else None for m in metas],
            {name: [f[i] for f in facet_lists] for i, name in enumerate(FACET_FIELDS)},
        )
        self.columns.date[~live] = -1
        self._load_stories()

    def _load_stories(self) -> None:
        """story_key[d]: one number per story (a lone article is its own story)."""
        stories = read_stories(self.generation)
        key = np.arange(self.columns.n, dtype=np.int64)
        first: dict[str, int] = {}
        for article_id, story in stories.items():
            d = self.docnum.get(article_id)
            if d is not None:
                key[d] = first.setdefault(story, d)
        self.story_key = key
        self.story_id = stories

    def _field_lengths(self, fieldname: str) -> np.ndarray:
        # Whoosh's own (byte-quantised) per-document lengths, so scores match its BM25F.
        parts = []
        for segment, _base in self.reader.leaf_readers():
            length = segment.doc_field_length
            parts.append(np.fromiter((length(d, fieldname) for d in range(segment.doc_count_all())),
                                     dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    @property
    def doc_count(self) -> int:
        return len(self.docnum)

    def close(self) -> None:
        if not self.searcher.is_closed:
            self.searcher.close()

    # -- parsing ------------------------------------------------------------------------------

    def parse(self, text: str) -> ParsedQuery:
        text = text.strip()
        parsed = ParsedQuery(text=text)
        if not text or text == "*":
            parsed.match_all = True
            return parsed
        text = _UNKNOWN_FIELD.sub(
            lambda m: m.group(0) if m.group(1) in QUERYABLE else m.group(1) + " ", text)
        # A question mark ending a word is punctuation ("price of oil?"), not a wildcard.
        text = _QUESTION.sub("", text)
        strict = self._parse_with(text)
        if strict is None:
            # Not valid syntax (unbalanced quotes or brackets, a lone operator…): search the
            # words it contains, as plain words.
            text = _OPERATORS.sub(lambda m: m.group(0).lower(), _SYNTAX.sub(" ", text))
            strict = self._parse_with(text)
        if strict is None:
            parsed.match_all = True
            return parsed
        loose = None if _OPERATORS.search(text) else _loosen(strict)
        parsed.tiers = [strict] if loose is None else [strict, loose]
        self._check_expansion(parsed.query)
        parsed.terms = self.positive_terms(parsed.query)
        parsed.text = text
        parsed.words = sorted({
            (leaf.startchar, leaf.endchar, text[leaf.startchar:leaf.endchar])
            for leaf in parsed.query.leaves()
            if type(leaf) is wq.Term and leaf.fieldname in TEXT_FIELDS
            and getattr(leaf, "startchar", None) is not None})
        return parsed

    def _parse_with(self, text: str) -> wq.Query | None:
        try:
            q = self._parser.parse(text)
        except Exception:  # Whoosh's parser raises assorted errors on odd input
            return None
        if q is None or q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return None
        for leaf in q.leaves():
            if getattr(leaf, "fieldname", None) not in (None, *QUERYABLE):
                return None
            if isinstance(leaf, wq.Phrase) and leaf.fieldname not in TEXT_FIELDS:
                return None  # date:"x" has no positions to match
        return q

    def expand(self, q: wq.MultiTerm) -> list[str]:
        """The index terms a prefix/wildcard/fuzzy term stands for (at most max_terms + 1).

        Asked per segment: a segment reader walks its term list with a Levenshtein automaton,
        while Whoosh's multi-segment reader compares the word with every term in the field.
        """
        if isinstance(q, wq.FuzzyTerm):
            # A typo in the first letter is rare and scanning every term is slow; a prefix
            # longer than the word breaks Whoosh's automaton; distances over 2 take minutes
            # to compile and match half the vocabulary anyway.
            q.prefixlength = min(max(q.prefixlength, 1), len(q.text))
            q.maxdist = min(q.maxdist, MAX_EDIT_DISTANCE)
        key = repr(q)
        cached = self._expansions.get(key)
        if cached is None and type(q) is wq.FuzzyTerm and q.fieldname in TEXT_FIELDS:
            # Walk the automaton over the field's terms held in memory: Whoosh's on-disk term
            # cursor seeks through its hash table once per automaton step (~150 ms a query).
            # Prefixes stay on disk: that is one sequential range read, and cheap.
            dfa = Automata.levenshtein_dfa(q.text, q.maxdist, q.prefixlength)
            found_terms = list(itertools.islice(
                Automata.find_matches(dfa, _ListCursor(self.lexicon(q.fieldname))),
                self.max_terms + 1))
            cached = self._expansions[key] = found_terms
        if cached is None:
            found: set[str] = set()
            for segment, _base in self.reader.leaf_readers():
                for term in itertools.islice(q._btexts(segment), self.max_terms + 1):
                    found.add(term.decode("utf-8") if isinstance(term, bytes) else term)
                if len(found) > self.max_terms:
                    break
            cached = sorted(found)[: self.max_terms + 1]
            if len(self._expansions) > POSTINGS_CACHE:
                self._expansions.clear()
            self._expansions[key] = cached
        return cached

    def lexicon(self, fieldname: str) -> list[str]:
        """Every term of a text field, sorted (read once per view, on first use)."""
        terms = self._lexicons.get(fieldname)
        if terms is None:
            terms = self._lexicons[fieldname] = [
                t.decode("utf-8") if isinstance(t, bytes) else t
                for t in self.reader.lexicon(fieldname)]
        return terms

    def _check_expansion(self, q: wq.Query) -> None:
        budget = self.max_terms
        for leaf in q.leaves():
            if isinstance(leaf, wq.MultiTerm):
                budget -= len(self.expand(leaf))
                if budget < 0:
                    raise InvalidQuery(
                        f"the query's wildcards or fuzzy terms expand to more than "
                        f"{self.max_terms} terms; make them more specific",
                        code="query_too_expensive")

    def positive_terms(self, q: wq.Query) -> dict[str, set[str]]:
        """field → terms that make a document match (not those under NOT), for highlighting."""
        out: dict[str, set[str]] = {}

        def walk(node: wq.Query) -> None:
            if isinstance(node, wq.Not):
                return
            if isinstance(node, wq.AndNot):
                walk(node.a)
                return
            if isinstance(node, wq.MultiTerm):
                out.setdefault(node.fieldname, set()).update(self.expand(node))
                return
            if node.is_leaf():
                try:
                    found = node.existing_terms(self.reader, phrases=True, expand=True)
                except Exception:
                    return
                for fieldname, btext in found:
                    value = btext.decode("utf-8") if isinstance(btext, bytes) else btext
                    out.setdefault(fieldname, set()).add(value)
                return
            for child in node.children():
                walk(child)

        walk(q)
        return out

    # -- matching and scoring -----------------------------------------------------------------

    def postings(self, fieldname: str, text: str | bytes) -> tuple[np.ndarray, np.ndarray]:
        """(docnums, term frequencies) of one term, as arrays, read block by block.

        Whoosh's matchers hand out one posting per Python call; a W3 posting block already
        holds its ids and weights as arrays, so they are taken whole. Cached per view.
        """
        key = (fieldname, text)
        cached = self._postings_cache.get(key)
        if cached is not None:
            return cached
        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        for segment, base in self.reader.leaf_readers():
            try:
                if (fieldname, text) not in segment:
                    continue
            except Exception:  # a value the field cannot hold (date:"x") matches nothing
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
                  else (np.zeros(0, np.int64), np.zeros(0, np.float32)))
        self._cache(key, result)
        return result

    def _term(self, fieldname: str, text: str | bytes, boost: float
              ) -> tuple[np.ndarray, np.ndarray]:
        n = self.columns.n
        mask = np.zeros(n, dtype=bool)
        scores = np.zeros(n, dtype=np.float32)
        ids, tf = self.postings(fieldname, text)
        if not len(ids):
            return mask, scores
        mask[ids] = True
        lengths = self.lengths.get(fieldname)
        if lengths is not None:
            # Whoosh's BM25F, vectorised: idf·tf(k1+1) / (tf + k1(1 − b + b·len/avglen)).
            idf = self.searcher.idf(fieldname, text)
            norm = K1 * (1 - B + B * lengths[ids] / self.avg_length[fieldname])
            scores[ids] = boost * idf * tf * (K1 + 1) / (tf + norm)
        return mask, scores

    def evaluate(self, q: wq.Query | None) -> tuple[np.ndarray, np.ndarray]:
        """(mask, BM25F scores) of ``q`` over all documents; None matches every document."""
        live = self.columns.live
        if q is None:
            return live.copy(), np.zeros(self.columns.n, dtype=np.float32)
        mask, scores = self._eval(q)
        return mask & live, scores

    def mask(self, q: wq.Query | None) -> np.ndarray:
        return self.evaluate(q)[0]

    def _eval(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        n = self.columns.n
        if isinstance(q, wq.Term):
            return self._term(q.fieldname, q.text, q.boost)
        if isinstance(q, (wq.Or, wq.And)):
            parts = [self._eval(child) for child in q.children()]
            if isinstance(q, wq.Or):
                mask = np.logical_or.reduce([m for m, _ in parts]) if parts else np.zeros(n, bool)
            else:
                mask = np.logical_and.reduce([m for m, _ in parts]) if parts else np.zeros(n, bool)
            scores = np.add.reduce([sc for _, sc in parts]) if parts else np.zeros(n, np.float32)
            return mask, np.where(mask, scores, 0).astype(np.float32)
        if isinstance(q, wq.Not):
            return ~self._eval(q.query)[0], np.zeros(n, dtype=np.float32)
        if isinstance(q, wq.AndNot):
            mask, scores = self._eval(q.a)
            return mask & ~self._eval(q.b)[0], scores
        if isinstance(q, wq.AndMaybe):
            mask, scores = self._eval(q.a)
            return mask, np.where(mask, scores + self._eval(q.b)[1], 0).astype(np.float32)
        if isinstance(q, wq.Every):
            return self.columns.live.copy(), np.zeros(n, dtype=np.float32)
        if isinstance(q, wq.MultiTerm):
            # prefix*, wild?card, fuzzy~: the union of the terms they expand to, each scored.
            expanded = self.expand(q)[: self.max_terms]
            return self._eval(wq.Or([wq.Term(q.fieldname, t, boost=q.boost)
                                     for t in expanded])) if expanded else (
                np.zeros(n, bool), np.zeros(n, np.float32))
        if isinstance(q, wq.Phrase):
            return self._phrase(q)
        # Ranges and anything else: Whoosh decides which documents match.
        mask = np.zeros(n, dtype=bool)
        found = np.fromiter(self.searcher.docs_for_query(q), dtype=np.int64)
        mask[found] = True
        return mask, np.zeros(n, dtype=np.float32)

    def _phrase(self, q: wq.Phrase) -> tuple[np.ndarray, np.ndarray]:
        """Documents with the words in order, each within ``slop`` positions of the previous
        (Whoosh's phrase semantics), scored as the sum of the words' scores. Positions are
        decoded only for documents that contain every word."""
        n = self.columns.n
        parts = [self._term(q.fieldname, word, q.boost) for word in q.words]
        if not parts:
            return np.zeros(n, bool), np.zeros(n, np.float32)
        candidates = np.logical_and.reduce([m for m, _ in parts])
        scores = np.add.reduce([sc for _, sc in parts])
        docs = np.flatnonzero(candidates)
        if len(q.words) > 1 and len(docs):
            fmt = self.ix.schema[q.fieldname].format
            lists = []
            for word in q.words:
                ids, values = self.positions(q.fieldname, word)
                lists.append((values, np.searchsorted(ids, docs)))
            for i, d in enumerate(docs.tolist()):
                reach = set(fmt.decode_positions(lists[0][0][lists[0][1][i]]))
                for values, where in lists[1:]:
                    here = fmt.decode_positions(values[where[i]])
                    reach = {p for p in here if any(1 <= p - r <= q.slop for r in reach)}
                    if not reach:
                        break
                if not reach:
                    candidates[d] = False
        return candidates, np.where(candidates, scores, 0).astype(np.float32)

    def positions(self, fieldname: str, text: str) -> tuple[np.ndarray, list[bytes]]:
        """(docnums, encoded position lists) of one term, block by block; cached."""
        key = ("positions", fieldname, text)
        cached = self._postings_cache.get(key)
        if cached is not None:
            return cached
        ids: list[np.ndarray] = []
        values: list[bytes] = []
        for segment, base in self.reader.leaf_readers():
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
        self._cache(key, result)
        return result

    def _cache(self, key, value) -> None:
        if len(self._postings_cache) >= POSTINGS_CACHE:
            self._postings_cache.pop(next(iter(self._postings_cache)))
        self._postings_cache[key] = value

    def rank(self, candidates: np.ndarray, scores: np.ndarray, first: np.ndarray | None,
             ) -> np.ndarray:
        """The ``candidates`` ordered by tier (``first`` before the rest), then score, then
        newest date, then index order."""
        docs = np.flatnonzero(candidates)
        key = scores[docs]
        tier = first[docs] if first is not None else np.ones(len(docs), dtype=bool)
        return docs[np.lexsort((docs, -self.columns.date[docs], -key, ~tier))]
    # -- documents ----------------------------------------------------------------------------

    def stored(self, docnum: int) -> dict:
        return self.searcher.stored_fields(docnum)

    def more_like(self, docnum: int, k: int) -> list[tuple[int, float]]:
        stored = self.stored(docnum)
        text = f"{stored.get('title', '')}\n{stored.get('body', '')}"
        results = self.searcher.more_like(docnum, "body", text=text, top=k, numterms=25)
        return [(hit.docnum, float(hit.score)) for hit in results]

    # -- vocabulary ---------------------------------------------------------------------------

    def similar_words(self, word: str, maxdist: int) -> list[str]:
        """Vocabulary words within ``maxdist`` edits of ``word`` (same first letter), sorted."""
        if maxdist == 1 and word:
            # Every string one edit away, looked up in the vocabulary: a few hundred set
            # lookups instead of walking Whoosh's pure-Python automaton (~1 ms a word).
            return sorted(w for w in _one_edit(word, self.alphabet()) if w in self.df)
        dfa = Automata.levenshtein_dfa(word, maxdist, prefix=1)
        return list(Automata.find_matches(dfa, _ListCursor(self.words)))

    def alphabet(self) -> str:
        if self._alphabet is None:
            self._alphabet = "".join(sorted(set().union(*self.words))) if self.words else ""
        return self._alphabet

    def completions(self, prefix: str, limit: int) -> list[str]:
        """Vocabulary words starting with ``prefix``, most frequent first."""
        start = bisect.bisect_left(self.words, prefix)
        end = bisect.bisect_left(self.words, prefix + "\uffff")
        candidates = self.words[start:end]
        candidates.sort(key=lambda w: (-self.df[w], w))
        return candidates[:limit]


class Engine:
    """Thread-local :class:`IndexView`s of the current generation of an index directory."""

    def __init__(self, index_dir: Path | str, max_terms: int = 1024,
                 title_weight: float = TITLE_BOOST):
        self.index_dir = Path(index_dir)
        self.max_terms = max_terms
        self.title_weight = title_weight
        self._local = threading.local()

    def current_target(self) -> str | None:
        try:
            return os.readlink(self.index_dir / "current")
        except OSError:
            return None

    def view(self) -> IndexView:
        target = self.current_target()
        view: IndexView | None = getattr(self._local, "view", None)
        if view is not None and view.generation.name == target:
            return view
        generation = current_generation(self.index_dir)
        if generation is None:
            if view is not None:
                return view  # keep serving what we have; the directory is being replaced
            raise IndexUnavailable(f"no index has been built in {self.index_dir}")
        try:
            fresh = IndexView(generation, self.max_terms, self.title_weight)
        except Exception as exc:
            if view is not None:
                return view
            raise IndexUnavailable(f"the index in {generation} cannot be opened: {exc}") from exc
        if view is not None:
            view.close()
        self._local.view = fresh
        return fresh

    def close(self) -> None:
        """Close this thread's searcher (tests, and servers shutting down)."""
        view = getattr(self._local, "view", None)
        if view is not None:
            view.close()
            self._local.view = None

