"""The embedded engine: the port (``searchsvc.engine``) over Whoosh generations.

:class:`WhooshEngine` hands each thread its own :class:`WhooshSnapshot` of the current
generation (Whoosh searchers are not thread-safe) and reopens it when a writer has published a
new one, so a server picks up builds, updates and rollbacks without a restart and without
failing a request in flight. Opening a generation reads only the segments it has not seen
(``columns.segment_data``), so a one-article update is searchable in milliseconds.

:class:`WhooshWriter` makes a new generation: from nothing (a full build, written by forked
workers, one segment each) or from the current one (hard links plus a new segment, deletions
recorded in the table of contents).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import multiprocessing
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from whoosh import index as whoosh_index
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

from searchsvc.engine import (
    FACETS,
    RESCORE_WINDOW,
    Collector,
    DayCounts,
    EngineHit,
    EngineRequest,
    EngineResult,
    GenerationInfo,
    IndexedArticle,
    Query,
    SnapshotInfo,
    StoredArticle,
    StoryInfo,
    rollback_target,
)
from searchsvc.engines.whoosh import generations as gens
from searchsvc.engines.whoosh import merging
from searchsvc.engines.whoosh.columns import Columns, Selection, read_segment, segment_data
from searchsvc.engines.whoosh.evaluate import Evaluator
from searchsvc.engines.whoosh.forking import detach_from_parent
from searchsvc.engines.whoosh.hits import Hits, all_of, sparse
from searchsvc.engines.whoosh.packs import write_pack
from searchsvc.engines.whoosh.postings import CACHE_BYTES, Postings
from searchsvc.engines.whoosh.schema import build_schema
from searchsvc.engines.whoosh.segments import (
    PACK,
    STORIES_PACK,
    FastSegmentWriter,
    story_arrays,
)
from searchsvc.errors import BuildError, IndexUnavailable, describe_os_error
from searchsvc.vocabulary import MIN_PHRASE_COUNT, MemoryVocabulary, add_counts, split_phrases

VOCABULARY = "vocabulary.json"
PHRASES = "phrases.json"
RARE_PHRASES = "phrases-once.txt"
# An update's changes to the counts, beside the files above (which stay hard links to the
# generation that wrote them): {"words": {word: ±n}, "phrases": {phrase: ±n}}.
VOCABULARY_DELTA = "vocabulary-delta.json"
DELTA_MAX = 50_000  # changed counts kept as a delta before an update rewrites the base
STORIES = "stories.json"
PARALLEL_MIN_ARTICLES = 2000
MERGE_FACTOR = 10  # segments of one size tier merged together (Lucene's tiered policy)
MERGE_TIERS = 3   # tiers up to 999 live documents are merged
MEMORY_SHARE = 0.5
WORKER_SHARE = 1.0  # of a worker's part of the budget: the resident size that forces a flush
RSS_EVERY = 256  # articles between two looks at a writer's resident size
STORY_COUNT_SORT_MAX = 20_000  # matches up to which counting their stories sorts their keys


_LOG = logging.getLogger("searchsvc.engine")


# -- reading ---------------------------------------------------------------------------------


class WhooshSnapshot:
    """One generation, opened for searching by one thread."""

    engine_name = "whoosh"

    def __init__(self, generation: Path, max_terms: int = 1024,
                 df_cache: dict[str, int] | None = None,
                 postings_cache_mb: float = CACHE_BYTES / 2**20):
        self.path = generation
        self.generation = generation.name
        self.ix = whoosh_index.open_dir(str(generation))
        self.reader = self.ix.reader()
        try:
            leaves = list(self.reader.leaf_readers()) if self.reader.doc_count_all() else []
            for seg, _base in leaves:
                if seg.doc_count_all():
                    seg.stored_fields(0)  # Whoosh opens the stored-fields file on first use
            parts = [(segment_data(seg), base) for seg, base in leaves]
            n = self.reader.doc_count_all()
            live = np.zeros(n, dtype=bool)
            for seg, base in leaves:
                if seg.has_deletions():
                    keep = np.ones(seg.doc_count_all(), dtype=bool)
                    keep[list(seg.segment().deleted_docs())] = False
                    live[base: base + seg.doc_count_all()] = keep
                else:
                    live[base: base + seg.doc_count_all()] = True
            self.live = live
            self.postings = Postings(self.reader, [data.lexicons for data, _ in parts],
                                     int(postings_cache_mb * 2**20))
            overrides = gens.read_json(generation / STORIES, {})
            self.columns = Columns.assemble(parts, live, overrides if isinstance(overrides, dict)
                                            else {}, self.docnum_of)
            self.evaluator = Evaluator(self.columns, self.postings, max_terms, self.docnum_of)
            self.record = gens.read_record(generation)
            # Files read later are opened now: once newer builds prune this generation, a
            # request still running on it reads them through these handles.
            self._held = {name: _open_if_there(generation / name)
                          for name in (VOCABULARY, PHRASES, RARE_PHRASES, VOCABULARY_DELTA)}
            self._info: SnapshotInfo = self._describe()
        except BaseException:
            # A generation that cannot be opened (a missing pack, a damaged file) must not
            # leave its segment files open: the engine tries again on the next request.
            self.reader.close()
            for fh in getattr(self, "_held", {}).values():
                if fh is not None:
                    fh.close()
            raise
        self._vocabulary: MemoryVocabulary | None = None
        self._stories: StoryIndex | None = None
        self._newest: int | None = None
        self._oldest: int | None = None
        # Document frequencies for story similarity and more-like-this, shared by the
        # generations an engine opens: an update moves them by a few documents at most.
        self._df: dict[str, int] = df_cache if df_cache is not None else {}

    def close(self) -> None:
        self.reader.close()
        for fh in self._held.values():
            if fh is not None:
                fh.close()

    def _read_held(self, name: str) -> bytes | None:
        fh = self._held.get(name)
        if fh is None:
            return None
        fh.seek(0)
        return fh.read()

    @property
    def doc_count(self) -> int:
        return int(np.count_nonzero(self.columns.live))

    def docnum_of(self, article_id: str) -> int | None:
        """The live document with this id (from Whoosh's id postings: no table of ids)."""
        ids = self.postings.get("id", article_id)[0]
        ids = ids[self.live[ids]] if len(ids) else ids
        return int(ids[-1]) if len(ids) else None

    # -- search ------------------------------------------------------------------------------

    def search(self, request: EngineRequest) -> EngineResult:
        cols = self.columns
        # A count (no page: did-you-mean, the plain reading's total) has nothing to rank.
        ranked = request.sort == "relevance" and request.query is not None and request.limit > 0
        first = self.evaluator.hits(request.first, scored=False) \
            if ranked and request.first is not None else None
        # Articles with every word rank first: a tier that can fill the page may decide it
        # alone, and then the matches are found unscored and only the tier is scored.
        lazy = first is not None and first.size() >= self._tier_enough(request)
        found, filters = self._matches(request, scored=ranked and not lazy)
        docs, scores = _narrowed(found, filters, None, self.n)
        total = len(docs)
        stories = self._story_count(docs)
        tier = first.contains(docs) if first is not None else None
        if ranked:
            scores, window = self._ranking(request, docs, None if lazy else scores, tier)
        else:
            window = self._window(request, docs, None, None)
        hits = []
        page = docs[window].tolist()
        stored = self._stored(page) if request.fields else [None] * len(page)
        for d, i, art in zip(page, window.tolist(), stored, strict=True):
            hits.append(EngineHit(
                id=cols.id_of(d), score=round(float(scores[i]), 4) if ranked else None,
                article=art, story=self._story(d, docs, request.story_others)))
        facets = {}
        # Facets without a filter of their own count the matches themselves, all at once.
        counts = cols.facet_counts(Selection(docs, cols.live),
                                   [f.name for f in request.facets if f.name not in filters])
        for f in request.facets:
            if f.name in filters:
                counted = Selection(_narrowed(found, filters, f.name, self.n)[0], cols.live)
                counts.update(cols.facet_counts(counted, [f.name]))
            facets[f.name] = cols.facets[f.name].top(counts[f.name], f.size, f.selected)
        days = DayCounts()
        if request.days:
            dated = _narrowed(found, filters, "date", self.n)[0] if "date" in filters \
                else docs
            days = DayCounts(*cols.day_counts_of(dated))
        return EngineResult(total=total, total_stories=stories, hits=hits, facets=facets,
                            days=days)

    @property
    def n(self) -> int:
        return self.columns.n

    def _matches(self, request: EngineRequest, scored: bool = True,
                 ) -> tuple[Hits, dict[str, Hits]]:
        ev = self.evaluator
        return (ev.hits(request.query, scored=scored),
                {name: ev.hits(f) for name, f in request.filters.items()})

    @staticmethod
    def _tier_enough(request: EngineRequest) -> int:
        """How many tier documents can fill the page."""
        return request.offset + request.limit

    def _ranking(self, request: EngineRequest, docs: np.ndarray, scores: np.ndarray | None,
                 tier: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(the ranking's scores, the page's positions in ``docs``). Without ``scores`` (the
        matches found unscored) the tier is first ranked alone, scored, rescored and
        collapsed as the whole ranking would be. A tier document outranks every other, and
        the rescore window holds either the whole tier or tier documents only, so when the
        tier alone fills the page, that is the page. Otherwise (the tier is short of a page
        once filtered, or once collapsed to one article per story) every match is scored."""
        assert request.query is not None
        if scores is None:
            assert tier is not None
            inside = np.flatnonzero(tier)
            if len(inside) >= self._tier_enough(request):
                within = docs[inside]
                part = self._final_scores(
                    request, within, self.evaluator.scores_of(request.query, within), None)
                window = self._window(request, within, part, None)
                if len(window) == request.limit:
                    scores = np.zeros(len(docs), np.float32)
                    scores[inside] = part
                    return scores, inside[window]
            scores = self.evaluator.hits(request.query).scores_at(docs)
        scores = self._final_scores(request, docs, scores, tier)
        return scores, self._window(request, docs, scores, tier)

    def _final_scores(self, request: EngineRequest, docs: np.ndarray, scores: np.ndarray,
                      tier: np.ndarray | None) -> np.ndarray:
        """The ranking's scores: the proximity rescore, then the recency decay."""
        if request.rescore and len(docs):
            scores = self._rescored(docs, scores, tier, request.rescore)
        if request.recency_days:
            scores = self._with_recency(docs, scores, request.recency_days)
        return scores

    def _rescored(self, docs: np.ndarray, scores: np.ndarray, tier: np.ndarray | None,
                  clauses: tuple) -> np.ndarray:
        """The rescore clauses (the proximity bonus) added to the best RESCORE_WINDOW
        matches, ranked by tier and score (``scores`` aligned with ``docs``); ties at the
        window's edge go to the newer article, then the lower document number, as the
        ranking orders them: which of them get the bonus must not depend on the scores of
        the matches outside the window (a page ranked within its tier has none)."""
        key = scores.astype(np.float64)
        if tier is not None:
            key = key + np.where(tier, key.max() + 1.0, 0.0)
        where = np.arange(len(docs))
        if len(docs) > RESCORE_WINDOW:
            cut = np.partition(key, len(key) - RESCORE_WINDOW)[len(key) - RESCORE_WINDOW]
            above, tied = np.flatnonzero(key > cut), np.flatnonzero(key == cut)
            undated = np.iinfo(np.int64).max // 2
            dates = self.columns.date[docs[tied]].astype(np.int64)
            tied = tied[np.lexsort((tied, np.where(dates < 0, undated, -dates)))]
            where = np.sort(np.concatenate([above, tied[: RESCORE_WINDOW - len(above)]]))
        out = scores.copy()
        out[where] += self.evaluator.rescore(docs[where], clauses)
        return out

    def _with_recency(self, docs: np.ndarray, scores: np.ndarray, half_life: float,
                      ) -> np.ndarray:
        """score × 0.5^(age / half-life), age in days before the newest article of the index
        (an archive's "now"); undated articles count as the oldest."""
        newest, oldest = self._date_bounds()
        if newest is None or oldest is None:
            return scores
        dates = self.columns.date[docs]
        age = np.where(dates >= 0, newest - dates, newest - oldest).astype(np.float64)
        return (scores * np.power(0.5, age / half_life)).astype(np.float32)

    def _date_bounds(self) -> tuple[int | None, int | None]:
        if self._newest is None:
            dated = self.columns.date[self.columns.live & self.columns.has_date]
            if len(dated):
                self._newest, self._oldest = int(dated.max()), int(dated.min())
        return self._newest, self._oldest

    def _window(self, request: EngineRequest, docs: np.ndarray, scores: np.ndarray | None,
                tier: np.ndarray | None) -> np.ndarray:
        """Positions in ``docs`` of the requested page, in rank order (one per story if
        collapsed); ``scores`` and ``tier`` are aligned with ``docs``.

        Only a prefix of the ranking is sorted: the best ``k`` candidates by a single key (ties
        at the cut included), grown until the page is full after collapsing."""
        need = request.offset + request.limit
        if not len(docs) or request.limit <= 0:
            return np.zeros(0, np.int64)
        dates = self.columns.date[docs]
        if scores is not None:
            sc = scores.astype(np.float64)
            tiers = tier if tier is not None else np.zeros(len(docs), bool)
            key = sc + np.where(tiers, (sc.max() if len(sc) else 0) + 1.0, 0.0)
            # Undated articles sort after dated ones, then by id (``_break_ties``).
            order_keys: tuple = (docs, -np.where(dates < 0, np.iinfo(np.int64).min // 2, dates),
                                 -sc, ~tiers)
        else:
            undated = np.iinfo(np.int64).max // 2
            date_key = np.where(dates < 0, undated, dates if request.sort == "oldest"
                                else -dates)
            key = -date_key.astype(np.float64)
            order_keys = (docs, date_key)
        k = min(len(docs), max(need * 2, need + 64))
        while True:
            if k >= len(docs):
                chosen = np.arange(len(docs))
            else:
                cut = np.partition(key, len(key) - k)[len(key) - k]
                chosen = np.flatnonzero(key >= cut)
            ordered = chosen[np.lexsort(tuple(a[chosen] for a in order_keys))]
            limit = len(ordered) if request.collapse else need
            ranked = self._break_ties(ordered, docs, [a[ordered] for a in order_keys[1:]],
                                      limit)
            if request.collapse:
                ranked = self._collapse(ranked, docs)
            if len(ranked) >= need or len(chosen) >= len(docs):
                return ranked[request.offset: need]
            k *= 4

    def _break_ties(self, ranked: np.ndarray, docs: np.ndarray, keys: list[np.ndarray],
                    limit: int) -> np.ndarray:
        """Articles equal on every sort key, in id order (as OpenSearch sorts them), not in
        document order: a page must not depend on how the index happens to be cut into
        segments (a rebuild under another memory budget, a merge). Only the runs of ties
        within the first ``limit`` places are sorted, so a page costs a few id lookups."""
        if len(ranked) < 2 or limit <= 0:
            return ranked
        same = np.ones(len(ranked) - 1, dtype=bool)
        for key in keys:
            same &= key[1:] == key[:-1]
        if not same[: limit].any():
            return ranked
        ranked = ranked.copy()
        # same[i]: places i and i + 1 tie. A run of ties covers ranked[start: end + 1].
        edges = np.diff(np.concatenate([[0], same.astype(np.int8), [0]]))
        for start, end in zip(np.flatnonzero(edges == 1).tolist(),
                              np.flatnonzero(edges == -1).tolist(), strict=True):
            if start >= limit:
                break
            run = ranked[start: end + 1].tolist()
            ranked[start: end + 1] = sorted(run, key=lambda i: self.columns.id_of(int(docs[i])))
        return ranked

    def _collapse(self, ranked: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """The best-ranked article of each story, in rank order (positions in ``docs``)."""
        keys = self.columns.story_key[docs[ranked]]
        _, first = np.unique(keys, return_index=True)
        return ranked[np.sort(first)]

    def _story_index(self) -> StoryIndex:
        if self._stories is None:
            self._stories = StoryIndex.of(self.columns)
        return self._stories

    def _story_count(self, docs: np.ndarray) -> int:
        """Distinct stories among the matches: a sort of their keys when few match, a count
        over story numbers when many do (sorting half a million keys took most of a query)."""
        if not len(docs):
            return 0
        if len(docs) < STORY_COUNT_SORT_MAX:
            return int(len(np.unique(self.columns.story_key[docs])))
        index = self._story_index()
        seen = np.zeros(index.count, bool)  # a flag per story: an eighth of a count's bytes
        seen[index.number[docs]] = True
        return int(np.count_nonzero(seen))

    def _story(self, d: int, docs: np.ndarray, others: int) -> StoryInfo:
        """The story of ``d``: its size among the matches (``docs``, sorted), the others'
        ids (newest first), and its size in the whole index."""
        cols = self.columns
        index = self._story_index()
        order, sorted_keys = index.order, index.sorted_keys
        key = cols.story_key[d]
        lo, hi = np.searchsorted(sorted_keys, [key, key + 1])
        members = order[lo:hi]
        every = int(np.count_nonzero(cols.live[members]))
        members = members[sparse(docs).contains(members)]
        members = members[np.lexsort((members, -cols.date[members]))]
        return StoryInfo(id=cols.story_of(d), size=int(len(members)),
                         others=[cols.id_of(m) for m in members.tolist() if m != d][:others],
                         total=every)

    def _stored(self, docs: Sequence[int]) -> list[StoredArticle]:
        cols = self.columns
        out = []
        for d in docs:
            fields = self.reader.stored_fields(d)
            facets = {name: cols.facets[name].values_of(d) for name in FACETS}
            source = facets.pop("source")
            ordinal = int(cols.date[d])
            out.append(StoredArticle(
                id=fields.get("id") or cols.id_of(d), title=fields.get("title", ""),
                body=fields.get("body", ""),
                date=dt.date.fromordinal(ordinal) if ordinal > 0 else None,
                url=fields.get("url"), source=source[0] if source else None,
                story=cols.story_of(d), **facets))
        return out

    def scan(self, request: EngineRequest, batch: int = 500) -> Iterator[EngineHit]:
        found, filters = self._matches(request)
        docs, scores = _narrowed(found, filters, None, self.n)
        ranked = request.sort == "relevance" and request.query is not None
        tier = self.evaluator.hits(request.first, scored=False).contains(docs) \
            if ranked and request.first is not None else None
        if ranked and request.recency_days:
            scores = self._with_recency(docs, scores, request.recency_days)
        whole = EngineRequest(sort=request.sort, query=request.query, offset=0,
                              limit=len(docs), collapse=False)
        order = self._window(whole, docs, scores if ranked else None, tier)
        for start in range(0, len(order), batch):
            where = order[start: start + batch]
            page = docs[where].tolist()
            for i, art in zip(where.tolist(), self._stored(page), strict=True):
                yield EngineHit(id=art.id, score=round(float(scores[i]), 4) if ranked else None,
                                article=art, story=StoryInfo(art.story or art.id, 1, []))

    def documents(self, ids: Sequence[str]) -> list[StoredArticle | None]:
        found = [self.docnum_of(i) for i in ids]
        stored = iter(self._stored([d for d in found if d is not None]))
        return [next(stored) if d is not None else None for d in found]

    def vocabulary(self) -> MemoryVocabulary:
        if self._vocabulary is None:
            words = _json(self._read_held(VOCABULARY))
            phrases = _json(self._read_held(PHRASES))
            words_delta, phrases_delta = _delta(self._read_held(VOCABULARY_DELTA))
            if words_delta:
                words = add_counts(words, words_delta)
            if phrases_delta:
                # A changed phrase absent from the frequent ones was seen once or never: the
                # sorted file of those seen once answers which, without reading all of it.
                rare = self._held.get(RARE_PHRASES)
                base = {p: phrases.get(p) or int(rare is not None and _in_sorted_lines(rare, p))
                        for p in phrases_delta}
                now = add_counts(base, phrases_delta)
                for phrase in phrases_delta:
                    count = now.get(phrase, 0)
                    if count >= MIN_PHRASE_COUNT:
                        phrases[phrase] = count
                    else:
                        phrases.pop(phrase, None)
            self._vocabulary = MemoryVocabulary(words, phrases)
        return self._vocabulary

    def doc_freq(self, terms: Sequence[str], within: Query | None = None) -> dict[str, int]:
        if within is not None:
            mask = self.evaluator.mask(within)
            return {t: int(np.count_nonzero(mask[self.evaluator._postings("text", t)[0]]))
                    for t in terms}
        # From the term dictionaries (no postings read): Lucene's and Whoosh's document
        # frequencies, deleted documents included until their segment is merged.
        freq = self.postings.doc_frequency
        cache = self._df
        out = {}
        for t in terms:
            found = cache.get(t)
            if found is None:
                if len(cache) > 200_000:
                    cache.clear()
                found = cache[t] = max(freq(f, t) for f in ("title", "body"))
            out[t] = found
        return out

    def info(self) -> SnapshotInfo:
        """What the generation holds (computed when it is opened: a generation never changes,
        and did-you-mean asks for the document count on every search)."""
        return self._info

    def _describe(self) -> SnapshotInfo:
        cols = self.columns
        dated = cols.date[cols.live & cols.has_date]
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        return SnapshotInfo(
            engine="whoosh", generation=self.generation, documents=self.doc_count,
            date_min=dt.date.fromordinal(int(dated.min())) if len(dated) else None,
            date_max=dt.date.fromordinal(int(dated.max())) if len(dated) else None,
            undated=int(np.count_nonzero(cols.live & ~cols.has_date)),
            size_bytes=size, segments=len(list(self.reader.leaf_readers()))
            if self.reader.doc_count_all() else 0,
            record=self.record)

@dataclass
class StoryIndex:
    """Documents grouped by story: ``order`` sorts documents by story key (``sorted_keys``),
    and ``number[d]`` is the story's number (0 … count − 1). Built from each segment's own
    order (cached per segment), so a new generation merges sorted runs instead of sorting
    the archive again."""

    order: np.ndarray
    sorted_keys: np.ndarray
    number: np.ndarray
    count: int

    @classmethod
    def of(cls, columns: Columns) -> StoryIndex:
        key = columns.story_key
        runs = [data.story_order + base for data, base in columns.parts]
        perm = np.concatenate(runs) if runs else np.zeros(0, np.int64)
        if len(perm) != len(key):  # no segments: nothing to merge
            perm = np.arange(len(key))
        within = np.argsort(key[perm], kind="stable")  # timsort: merges the sorted runs
        order = perm[within]
        sorted_keys = key[order]
        starts = np.ones(len(order), dtype=bool)
        starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
        number = np.empty(len(order), dtype=np.int32)
        number[order] = np.cumsum(starts) - 1
        return cls(order, sorted_keys, number, int(starts.sum()))


def _open_if_there(path: Path) -> IO[bytes] | None:
    try:
        return open(path, "rb")  # noqa: SIM115 - held open for the snapshot's life
    except FileNotFoundError:
        return None


def _delta(data: bytes | None) -> tuple[dict[str, int], dict[str, int]]:
    found = _json(data)
    words, phrases = found.get("words"), found.get("phrases")
    return (words if isinstance(words, dict) else {}, phrases if isinstance(phrases, dict) else {})


def _summed(counts: dict[str, int], more: Mapping[str, int]) -> dict[str, int]:
    """Signed counts added up; a count back to zero is no change."""
    out = dict(counts)
    for key, n in more.items():
        total = out.get(key, 0) + n
        if total:
            out[key] = total
        else:
            out.pop(key, None)
    return out


def _in_sorted_lines(fh: IO[bytes], text: str) -> bool:
    """Whether ``text`` is a line of the sorted file ``fh`` (binary search over a memory map;
    Python sorts strings as UTF-8 sorts their bytes)."""
    import mmap

    key = text.encode("utf-8")
    try:
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except ValueError:  # an empty file
        return False
    try:
        lo, hi = 0, len(data)
        while lo < hi:  # the lines starting in [lo, hi) are the candidates
            mid = (lo + hi) // 2
            start = data.rfind(b"\n", 0, mid) + 1
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
            line = data[start:end]
            if line == key:
                return True
            if line < key:
                lo = end + 1
            else:
                hi = start
        return False
    finally:
        data.close()


def _json(data: bytes | None) -> dict:
    try:
        found = json.loads(data) if data else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _narrowed(found: Hits, filters: dict[str, Hits], skip: str | None, n: int,
              ) -> tuple[np.ndarray, np.ndarray]:
    """(the documents ``found`` that pass every filter but ``skip``, ascending; their
    scores). A facet counts under every filter but its own (so its other values stay
    visible), the histogram under every filter but the dates."""
    narrowed = all_of([found, *(h for name, h in filters.items() if name != skip)], n)
    docs = narrowed.doc_ids()
    if narrowed.scores is None:
        return docs, np.zeros(len(docs), np.float32)
    return docs, narrowed.scores if not narrowed.dense else narrowed.scores[docs]


# -- writing ---------------------------------------------------------------------------------


class WhooshWriter:
    """A new generation in ``gen-….tmp``: empty (full build) or linked from ``base``."""

    def __init__(self, index_dir: Path, base: Path | None, memory_mb: float = 1024):
        self.index_dir = index_dir
        self.base = base
        # The postings a build may hold in memory before a segment is written out (about
        # half the build's memory budget; the rest is the stories' term counts and Python).
        self.budget = int(memory_mb * 1024 * 1024 * MEMORY_SHARE)
        self.memory = int(memory_mb * 1024 * 1024)
        try:
            self.tmp = gens.new_generation_dir(index_dir)
        except OSError as exc:
            raise BuildError(f"build failed, index unchanged: cannot write a new generation "
                             f"in {index_dir}: {describe_os_error(exc)}") from None
        try:
            if base is not None:
                gens.link_copy(base, self.tmp)
                self.ix = whoosh_index.open_dir(str(self.tmp))
            else:
                self.ix = whoosh_index.create_in(str(self.tmp), build_schema())
        except OSError as exc:
            self.abort()
            raise BuildError(f"build failed, index unchanged: cannot write a new generation "
                             f"in {index_dir}: {describe_os_error(exc)}") from None
        self.generation = self.tmp.name[: -len(".tmp")]
        self.segments = list(self.ix._segments())
        self.new_segments: list = []
        overrides = gens.read_json(self.tmp / STORIES, {}) if base is not None else {}
        self.stories: dict[str, str] = overrides if isinstance(overrides, dict) else {}
        self.pending_stories: dict[str, str] = {}
        self.procs = 1  # the most processes an add_all used (its merge may use as many)

    # Segments are listed in the table of contents only at publish: a killed writer leaves a
    # .tmp folder, nothing the served generation refers to.

    def add_all(self, work: Sequence[object],
                prepare: Callable[[object], Iterable[IndexedArticle | object]],
                collector: Collector, procs: int = 1,
                progress: Callable[[str, int, int], None] | None = None,
                ready: Callable[[Collector], None] | None = None,
                total: int | None = None) -> Collector:
        try:
            return self._add_all(work, prepare, collector, procs, progress, ready, total)
        except OSError as exc:
            self.abort()
            raise BuildError(f"build failed, index unchanged: "
                             f"{describe_os_error(exc)}") from exc

    def _add_all(self, work: Sequence[object],
                 prepare: Callable[[object], Iterable[IndexedArticle | object]],
                 collector: Collector, procs: int,
                 progress: Callable[[str, int, int], None] | None,
                 ready: Callable[[Collector], None] | None,
                 total: int | None) -> Collector:
        articles = total if total is not None else len(work)
        self.procs = max(self.procs, procs)
        if procs > 1 and articles >= PARALLEL_MIN_ARTICLES and len(work) >= procs:
            segments, collector = _write_parallel(self.tmp, work, prepare, collector, procs,
                                                  progress, ready,
                                                  (self.budget // procs,
                                                   int(self.memory / procs * WORKER_SHARE)),
                                                  articles)
        else:
            sink = _Segments(self.ix, self.budget, self.memory)
            written = shown = 0  # articles, not work items: a JSONL item holds many
            for item in work:
                for got in prepare(item):
                    if isinstance(got, IndexedArticle):
                        sink.add(got)
                        collector.add(got)
                        written += 1
                        if progress and written - shown >= 200:
                            shown = written
                            progress("index", min(written, articles), articles)
                    else:
                        collector.problem(got)
            if ready:
                ready(collector)
            segments = sink.close()
        self.segments.extend(segments)
        self.new_segments.extend(segments)
        return collector

    def delete(self, ids: Sequence[str]) -> None:
        """Mark the given articles deleted in every segment written so far."""
        wanted = set(ids)
        if not wanted:
            return
        for segment in self.segments:
            reader = SegmentReader(self.ix.storage, self.ix.schema, segment)
            try:
                for article_id in wanted:
                    if ("id", article_id) not in reader:
                        continue
                    for local in reader.postings("id", article_id).all_ids():
                        if not segment.is_deleted(local):
                            segment.delete_document(local)
            finally:
                reader.close()
        for article_id in wanted:
            self.stories.pop(article_id, None)
            self.pending_stories.pop(article_id, None)

    def set_stories(self, stories: dict[str, str]) -> None:
        self.pending_stories.update(stories)

    def _apply_stories(self) -> None:
        """Story ids set after their articles were written: for this writer's own segments
        (a full build clusters while its workers write) a story pack beside the segment; for
        older segments (an update handing a story on) the generation's overrides."""
        pending = self.pending_stories
        for segment in self.new_segments:
            if not pending:
                break
            folder = Path(self.ix.storage.folder)
            data = read_segment(folder / segment.make_filename(PACK), None,
                                segment.doc_count_all())
            ids = data.ids.all()
            if not any(i in pending for i in ids):
                continue
            stories = [pending.pop(i, data.stories[k]) for k, i in enumerate(ids)]
            write_pack(folder / segment.make_filename(STORIES_PACK), story_arrays(stories), {})
        for article_id, story in pending.items():
            self.stories[article_id] = story
        pending.clear()

    def set_vocabulary(self, words: dict[str, int], phrases: dict[str, int]) -> None:
        frequent, once = split_phrases(phrases)
        try:
            gens.write_json(self.tmp / VOCABULARY, {w: n for w, n in words.items() if n > 0})
            gens.write_json(self.tmp / PHRASES, frequent)
            # One per line, sorted: an archive of a million articles has millions of them,
            # and only an update's few changed phrases are looked up in them.
            gens.write_bytes(self.tmp / RARE_PHRASES,
                             "".join(p + "\n" for p in once).encode("utf-8"))
            (self.tmp / VOCABULARY_DELTA).unlink(missing_ok=True)
        except OSError as exc:
            self.abort()
            raise BuildError(f"build failed, index unchanged: "
                             f"{describe_os_error(exc)}") from exc

    def change_vocabulary(self, words: Mapping[str, int], phrases: Mapping[str, int]) -> None:
        """An update's changes, added to the delta the previous generation kept (the base
        files stay hard links: adding one article to a million does not rewrite half a
        million words); past :data:`DELTA_MAX` changed counts the base is rewritten with the
        delta folded in, so a snapshot's reading of it stays small."""
        try:
            held = gens.read_bytes(self.tmp / VOCABULARY_DELTA)
            words_delta, phrases_delta = _delta(held)
            words_delta = _summed(words_delta, words)
            phrases_delta = _summed(phrases_delta, phrases)
            if len(words_delta) + len(phrases_delta) <= DELTA_MAX:
                gens.write_json(self.tmp / VOCABULARY_DELTA,
                                {"words": words_delta, "phrases": phrases_delta})
                return
            base_words = _json(gens.read_bytes(self.tmp / VOCABULARY))
            counts = dict.fromkeys(
                (gens.read_bytes(self.tmp / RARE_PHRASES) or b"").decode("utf-8").splitlines(),
                1)
            counts.update(_json(gens.read_bytes(self.tmp / PHRASES)))
        except OSError as exc:
            self.abort()
            raise BuildError(f"build failed, index unchanged: "
                             f"{describe_os_error(exc)}") from exc
        self.set_vocabulary(add_counts(base_words, words_delta),
                            add_counts(counts, phrases_delta))

    def publish(self, record: dict, manifest: dict) -> str:
        try:
            self._apply_stories()
            self._merge_small()
            self._commit()
            gens.write_json(self.tmp / STORIES, self.stories)
            gens.write_json(self.tmp / gens.MANIFEST, manifest)
            final = gens.publish(self.index_dir, self.tmp, record)
        except OSError as exc:
            self.abort()
            raise BuildError(f"build failed, index unchanged: "
                             f"{describe_os_error(exc)}") from exc
        gens.clean_stale(self.index_dir)
        return final.name

    def _commit(self) -> None:
        writer = SegmentWriter(self.ix)
        writer._close_segment()
        writer._commit_toc([s for s in self.segments if s.doc_count() > 0]
                           or self.segments[:1])
        writer._finish()

    def _merge_small(self) -> None:
        """A full build ends as one segment: the segments it flushed under its memory budget
        are merged by copying their postings (``merging``), a fraction of what indexing them
        cost, and a search then looks each term up once instead of once per segment (at a
        million articles, 58 segments made most of a query's time).

        Updates follow Lucene's tiered policy, simply: whenever :data:`MERGE_FACTOR`
        segments of one size tier (live documents 1–9, 10–99, 100–999) exist, ten of them
        are merged into one of a larger tier, until no tier has ten. An update makes one
        small segment, so the work per update stays bounded, and the large segments of the
        last full build are left alone."""
        if self.base is None and len([s for s in self.segments if s.doc_count()]) > 1:
            self.segments = self._merge([s for s in self.segments if s.doc_count()])
            return
        while True:
            tiers: dict[int, list] = {}
            for segment in self.segments:
                live = segment.doc_count()
                if live:
                    tiers.setdefault(len(str(live)), []).append(segment)
            full = [group for tier, group in sorted(tiers.items())
                    if tier <= MERGE_TIERS and len(group) >= MERGE_FACTOR]
            if not full:
                return
            group = full[0][:MERGE_FACTOR]
            merged = self._merge(group)
            self.segments = [s for s in self.segments if s not in group] + merged

    def _merge(self, group: list) -> list:
        if merging.can_copy(self.ix, group):
            return [merging.merge(self.ix, group, self.stories, helper=self.procs > 1)]
        # Segments written before array codecs and packs: their articles are analysed again.
        # One writer, whatever the budget: a merge that flushed could make as many segments
        # as it merged.
        writer = FastSegmentWriter(self.ix)
        for segment in group:
            reader = SegmentReader(self.ix.storage, self.ix.schema, segment)
            try:
                data = segment_data(reader)
                for local, fields in reader.iter_docs():
                    article = _article_of(data, local, fields)
                    # The merged segment holds the story itself: no override needed.
                    article.story = self.stories.pop(article.id, article.story)
                    writer.add_article(article)
            finally:
                reader.close()
        return [writer._finalize_segment()]

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _article_of(data, local: int, stored: dict) -> IndexedArticle:
    """A document of a segment as the article it was written from (for merging)."""
    from searchsvc import analysis

    facets = {}
    for name in FACETS:
        values, offsets, vals = data.facets[name]
        facets[name] = [values[v] for v in vals[offsets[local]: offsets[local + 1]].tolist()]
    ordinal = int(data.date[local])
    title, body = stored.get("title", ""), stored.get("body", "")
    source = facets.get("source") or [None]
    return IndexedArticle(
        id=stored["id"], title=title, body=body,
        date=dt.date.fromordinal(ordinal) if ordinal > 0 else None, url=stored.get("url"),
        source=source[0], facets=facets, story=data.stories[local],
        content_hash=data.hashes[local], origin=data.origins[local],
        analysis={"title": analysis.terms(title), "body": analysis.terms(body)})


def _resident_bytes() -> int:
    """This process's resident size (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _give_back() -> None:
    """Return freed heap pages to the system (glibc keeps them otherwise)."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _Segments:
    """Segments written from a stream of articles, a new one whenever the postings held in
    memory reach the budget (Lucene's indexing buffer), or the process's resident size
    reaches ``limit``: a build's memory does not grow with the corpus. The estimate alone
    is not enough: at a million articles a worker was at 1.1 GB when its postings were
    estimated at its 256 MB, the rest being the term dictionaries of a large vocabulary and
    what the collector holds. The resident size, not the growth since the worker started:
    limiting growth alone let a million-article build reach 2.8 GB. The price is segments:
    the smaller the budget, the more of them (bench/RESULTS.md §6)."""

    def __init__(self, ix, budget: int, limit: int = 0,
                 flushed: Callable[[], None] | None = None):
        self.ix = ix
        self.budget = budget
        self.limit = limit
        self.writer = FastSegmentWriter(ix)
        self.done: list = []
        self.flushed = flushed
        self.added = 0

    def _full(self) -> bool:
        held = self.writer.held
        if held >= self.budget:
            return True
        self.added += 1
        # Not for a few megabytes: after a flush the process may stay above the limit
        # (memory the allocator cannot give back), and tiny segments would follow.
        return (bool(self.limit) and self.added % RSS_EVERY == 0
                and held >= self.limit // 16 and _resident_bytes() >= self.limit)

    def add(self, article: IndexedArticle) -> None:
        self.writer.add_article(article)
        if self._full():
            self.done.append(self.writer._finalize_segment())
            self.writer = FastSegmentWriter(self.ix)
            if self.flushed:
                self.flushed()
            # A written segment's writer sits in reference cycles (Whoosh's writer objects
            # point at each other), and the build's workers run with the cyclic collector off:
            # without this every flushed buffer stayed in memory, and a worker grew with the
            # corpus (2 GB each at a million articles) instead of staying within its budget.
            gc.collect()
            _give_back()

    def close(self) -> list:
        if self.writer.docnum:
            self.done.append(self.writer._finalize_segment())
        else:
            self.writer._close_segment()
        return self.done


# Work for the forked workers: set just before fork, inherited copy-on-write.
_WORK: tuple = ()


def _write_slice(gen_dir: str, start: int, step: int, counter, results, parent: int,
                 budget: tuple[int, int]) -> None:
    detach_from_parent(parent)
    # A worker allocates millions of small objects and frees none until it exits: the cyclic
    # collector would rescan them over and over, and find no garbage.
    gc.disable()
    work, prepare, collector = _WORK
    try:
        ix = whoosh_index.open_dir(gen_dir)
        # What the collector holds goes to the parent at every flush: kept here, its millions
        # of small objects outlived the postings freed around them, and the freed memory
        # could not go back to the system (a worker grew with its share of the archive).
        sink = _Segments(ix, budget[0], budget[1],
                         lambda: results.put(("part", start, collector.detach())))
        written = 0  # articles not yet counted: a JSONL work item holds many
        for item in work[start::step]:
            for got in prepare(item):
                if isinstance(got, IndexedArticle):
                    sink.add(got)
                    collector.add(got)
                    written += 1
                    if written == 200:
                        with counter.get_lock():
                            counter.value += written
                        written = 0
                else:
                    collector.problem(got)
        # The collector goes first: the parent clusters stories while workers write segments.
        results.put(("collected", start, collector))
        results.put(("ok", start, sink.close()))
        results.close()
        results.join_thread()
        os._exit(0)  # the result is sent; freeing the posting pool object by object is waste
    except BaseException as exc:  # reported to the parent, which fails the build
        if isinstance(exc, OSError):
            reason = f"build failed, index unchanged: {describe_os_error(exc)}"
        else:
            reason = f"an indexing worker failed: {type(exc).__name__}: {exc}"
        results.put(("error", start, reason))
        results.close()
        results.join_thread()
        os._exit(1)  # the parent reports it; no worker traceback on the terminal


def _write_parallel(gen_dir: Path, work: Sequence[object], prepare, collector: Collector,
                    procs: int, progress, ready, budget: tuple[int, int],
                    articles: int) -> tuple[list, Collector]:
    global _WORK
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    results = ctx.Queue()
    _WORK = (work, prepare, collector)
    parts: dict[int, Collector] = {}  # each worker's detached parts, merged in its order
    collected: dict[int, Collector] = {}
    finished: dict[int, list] = {}
    try:
        workers = [ctx.Process(target=_write_slice,
                               args=(str(gen_dir), i, procs, counter, results, os.getpid(),
                                     budget), daemon=True) for i in range(procs)]
        for w in workers:
            w.start()
        while len(finished) < procs:
            try:
                status, worker, payload = results.get(timeout=0.2)
            except queue.Empty:
                if progress:
                    progress("index", min(counter.value, articles), articles)
                if any(w.exitcode not in (None, 0) for w in workers) and results.empty():
                    raise BuildError("an indexing worker died") from None
                continue
            if status == "error":
                raise BuildError(payload)
            if status == "part":
                if worker in parts:
                    parts[worker].merge(payload)
                else:
                    parts[worker] = payload
            elif status == "collected":
                if worker in parts:
                    parts[worker].merge(payload)
                    payload = parts.pop(worker)
                collected[worker] = payload
                if len(collected) == procs:
                    # In worker order, so every build numbers and merges alike.
                    for i in sorted(collected):
                        collector.merge(collected[i])
                    if progress:
                        progress("write", articles, articles)
                    if ready:
                        ready(collector)
            else:
                finished[worker] = payload
        for w in workers:
            w.join()
    finally:
        _WORK = ()
    # Segments in worker order: the same documents get the same numbers in every build.
    return [seg for i in sorted(finished) for seg in finished[i]], collector


# -- the engine ------------------------------------------------------------------------------


class WhooshEngine:
    """Thread-local snapshots of the current generation of an index directory."""

    name = "whoosh"

    def __init__(self, index_dir: Path | str, max_terms: int = 1024,
                 build_memory_mb: float = 1024,
                 postings_cache_mb: float = CACHE_BYTES / 2**20):
        self.index_dir = Path(index_dir)
        self.max_terms = max_terms
        self.build_memory_mb = build_memory_mb
        self.postings_cache_mb = postings_cache_mb
        self._local = threading.local()
        self._unopenable: set[str] = set()  # generations already logged as failing to open
        self._df: dict[str, int] = {}

    def has_index(self) -> bool:
        """A generation is served that this version can open (one written by an older
        searchsvc is no index: `serve` and `index` build a new one)."""
        current = gens.current_generation(self.index_dir)
        return current is not None and gens.compatible(current)

    def snapshot(self) -> WhooshSnapshot:
        target = gens.current_name(self.index_dir)
        snap: WhooshSnapshot | None = getattr(self._local, "snapshot", None)
        if snap is not None and snap.generation == target:
            return snap
        generation = gens.current_generation(self.index_dir)
        if generation is None:
            if snap is not None:
                return snap  # keep serving what we have; the directory is being replaced
            raise IndexUnavailable(f"no index has been built in {self.index_dir}")
        if not gens.compatible(generation):
            raise IndexUnavailable(f"the index in {generation} was written by an older "
                                   "searchsvc; rebuild it with `searchsvc index`")
        try:
            fresh = WhooshSnapshot(generation, self.max_terms, self._df,
                                   self.postings_cache_mb)
        except Exception as exc:
            if snap is not None:
                # Searches go on, on the generation this thread has; an operator must still
                # learn that the newest one is damaged (once, not on every request).
                if generation.name not in self._unopenable:
                    self._unopenable.add(generation.name)
                    _LOG.warning("generation %s cannot be opened (%s); still serving %s",
                                 generation.name, exc, snap.generation)
                return snap
            raise IndexUnavailable(f"the index in {generation} cannot be opened: {exc}") \
                from exc
        if snap is not None:
            snap.close()
        self._local.snapshot = fresh
        return fresh

    def full_writer(self) -> WhooshWriter:
        self._prepare_dir()
        return WhooshWriter(self.index_dir, None, self.build_memory_mb)

    def update_writer(self) -> WhooshWriter:
        self._prepare_dir()
        current = gens.current_generation(self.index_dir)
        if current is None or not gens.compatible(current):
            raise BuildError("there is no index this version can update; build it in full")
        return WhooshWriter(self.index_dir, current, self.build_memory_mb)

    def _prepare_dir(self) -> None:
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BuildError(f"cannot use {self.index_dir} as an index directory: "
                             f"{describe_os_error(exc)}") from None
        gens.clean_stale(self.index_dir)

    def generations(self) -> list[GenerationInfo]:
        current = gens.current_name(self.index_dir)
        out = []
        for path in gens.generations(self.index_dir):
            record = gens.read_record(path)
            out.append(GenerationInfo.from_record(path.name, record, path.name == current))
        return out

    def rollback(self, generation: str | None = None) -> GenerationInfo:
        target = rollback_target(self.generations(), generation, f"in {self.index_dir}")
        gens.swap(self.index_dir, self.index_dir / target.id)
        target.current = True
        return target

    def manifest(self) -> dict:
        current = gens.current_generation(self.index_dir)
        found = gens.read_json(current / gens.MANIFEST, {}) if current else {}
        return found if isinstance(found, dict) else {}

    def close(self) -> None:
        """Close this thread's searcher (tests, and servers shutting down)."""
        snap = getattr(self._local, "snapshot", None)
        if snap is not None:
            snap.close()
            self._local.snapshot = None


def filter_mask(snapshot: WhooshSnapshot, q: Query) -> np.ndarray:
    return snapshot.evaluator.mask(q)
