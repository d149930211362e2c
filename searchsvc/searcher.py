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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh import scoring
from whoosh.codec.base import Automata
from whoosh.qparser import AndGroup, FuzzyTermPlugin, MultifieldParser, OrGroup

from searchsvc.errors import IndexUnavailable, InvalidQuery
from searchsvc.facets import Columns
from searchsvc.indexer import current_generation, read_build_info, read_vocabulary
from searchsvc.schema import FACET_FIELDS, TEXT_FIELDS, decode_meta

TITLE_BOOST = 2.0
QUERYABLE = {"title", "body", "date", "id", *FACET_FIELDS}
_SYNTAX = re.compile(r"[^\w\s]+")
_OPERATORS = re.compile(r"\b(AND|OR|NOT|ANDNOT|ANDMAYBE|TO)\b")


@dataclass
class ParsedQuery:
    """A query ready to run. ``tiers`` rank in order: documents matching tier 0 (all the words)
    come before those matching only tier 1 (any word). ``match_all`` for an empty query."""

    text: str
    tiers: list[wq.Query] = field(default_factory=list)
    match_all: bool = False
    words: list[str] = field(default_factory=list)
    terms: dict[str, set[str]] = field(default_factory=dict)

    @property
    def query(self) -> wq.Query | None:
        return self.tiers[-1] if self.tiers else None


class _ListCursor:
    """The term-cursor interface Whoosh's Levenshtein automaton walks, over a sorted word list."""

    def __init__(self, words: list[str]):
        self.words = words
        self.i = 0

    def text(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def find(self, term: str) -> None:
        self.i = bisect.bisect_left(self.words, term)


class IndexView:
    """One generation, opened for searching by one thread."""

    def __init__(self, generation: Path, max_terms: int = 1024):
        self.generation = generation
        self.max_terms = max_terms
        self.ix = whoosh_index.open_dir(str(generation))
        self.searcher = self.ix.searcher(weighting=scoring.BM25F(B=0.75, K1=1.2))
        self.reader = self.searcher.reader()
        self.build_info = read_build_info(generation)
        self._load_columns()
        vocabulary = read_vocabulary(generation)
        self.words = sorted(vocabulary)
        self.df = vocabulary
        self._parsers = {
            group: self._make_parser(group) for group in (AndGroup, OrGroup)
        }

    def _make_parser(self, group) -> MultifieldParser:
        parser = MultifieldParser(list(TEXT_FIELDS), self.ix.schema,
                                  fieldboosts={"title": TITLE_BOOST}, group=group)
        parser.add_plugin(FuzzyTermPlugin())
        return parser

    def _load_columns(self) -> None:
        reader = self.reader
        n = reader.doc_count_all()
        self.ids: list[str] = list(reader.column_reader("id"))
        metas = [decode_meta(raw) if raw else None for raw in reader.column_reader("meta")]
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

    @property
    def doc_count(self) -> int:
        return len(self.docnum)

    def close(self) -> None:
        self.searcher.close()

    # -- parsing ------------------------------------------------------------------------------

    def parse(self, text: str) -> ParsedQuery:
        text = text.strip()
        parsed = ParsedQuery(text=text)
        if not text or text == "*":
            parsed.match_all = True
            return parsed
        strict = self._parse_with(AndGroup, text)
        if strict is None:
            # Not valid syntax (unbalanced quotes or brackets, a lone operator…): search the
            # words it contains, as plain words.
            text = _OPERATORS.sub(lambda m: m.group(0).lower(), _SYNTAX.sub(" ", text))
            strict = self._parse_with(AndGroup, text)
        if strict is None:
            parsed.match_all = True
            return parsed
        loose = self._parse_with(OrGroup, text)
        parsed.tiers = [strict] if loose is None or loose == strict else [strict, loose]
        self._check_expansion(parsed.query)
        parsed.terms = self.positive_terms(parsed.query)
        parsed.words = [w for w in re.findall(r"\w+", _SYNTAX.sub(" ", text).lower())]
        return parsed

    def _parse_with(self, group, text: str) -> wq.Query | None:
        try:
            q = self._parsers[group].parse(text)
        except Exception:  # Whoosh's parser raises assorted errors on odd input
            return None
        if q is None or q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return None
        for leaf in q.leaves():
            if getattr(leaf, "fieldname", None) not in (None, *QUERYABLE):
                return None
        return q

    def _check_expansion(self, q: wq.Query) -> None:
        budget = self.max_terms
        for leaf in q.leaves():
            if isinstance(leaf, wq.MultiTerm):
                found = sum(1 for _ in itertools.islice(leaf._btexts(self.reader), budget + 1))
                budget -= found
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

    # -- matching -----------------------------------------------------------------------------

    def mask(self, q: wq.Query | None) -> np.ndarray:
        """Exact boolean mask of the live documents matching ``q`` (None: every document)."""
        if q is None:
            return self.columns.live.copy()
        return self._mask(q) & self.columns.live

    def _mask(self, q: wq.Query) -> np.ndarray:
        n = self.columns.n
        if isinstance(q, wq.Or):
            mask = np.zeros(n, dtype=bool)
            for child in q.children():
                mask |= self._mask(child)
            return mask
        if isinstance(q, wq.And):
            mask = self.columns.live.copy()
            for child in q.children():
                mask &= self._mask(child)
            return mask
        if isinstance(q, wq.Not):
            return ~self._mask(q.query)
        if isinstance(q, wq.AndNot):
            return self._mask(q.a) & ~self._mask(q.b)
        if isinstance(q, wq.Every):
            return self.columns.live.copy()
        mask = np.zeros(n, dtype=bool)
        if isinstance(q, wq.Term):
            if (q.fieldname, q.text) not in self.reader:
                return mask
            ids = self.reader.postings(q.fieldname, q.text).all_ids()
        else:
            ids = self.searcher.docs_for_query(q)
        found = np.fromiter(ids, dtype=np.int64)
        mask[found] = True
        return mask

    def top(self, q: wq.Query, allowed: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` best (docnum, score) of ``q`` among the ``allowed`` documents."""
        if k <= 0:
            return []
        allow = set(np.flatnonzero(allowed).tolist())
        if not allow:
            return []
        results = self.searcher.search(q, limit=k, filter=allow)
        return [(hit.docnum, float(hit.score)) for hit in results]

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
        """Vocabulary words within ``maxdist`` edits of ``word`` (same first letter)."""
        dfa = Automata.levenshtein_dfa(word, maxdist, prefix=1)
        return list(Automata.find_matches(dfa, _ListCursor(self.words)))

    def completions(self, prefix: str, limit: int) -> list[str]:
        """Vocabulary words starting with ``prefix``, most frequent first."""
        start = bisect.bisect_left(self.words, prefix)
        end = bisect.bisect_left(self.words, prefix + "\uffff")
        candidates = self.words[start:end]
        candidates.sort(key=lambda w: (-self.df[w], w))
        return candidates[:limit]


class Engine:
    """Thread-local :class:`IndexView`s of the current generation of an index directory."""

    def __init__(self, index_dir: Path | str, max_terms: int = 1024):
        self.index_dir = Path(index_dir)
        self.max_terms = max_terms
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
            fresh = IndexView(generation, self.max_terms)
        except Exception as exc:
            if view is not None:
                return view
            raise IndexUnavailable(f"the index in {generation} cannot be opened: {exc}") from exc
        if view is not None:
            view.close()
        self._local.view = fresh
        return fresh

    def iter_views(self) -> Iterator[IndexView]:
        yield self.view()
