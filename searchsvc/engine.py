"""The engine port: everything the core asks of a search engine, and nothing more.

The core (``searchsvc.core``) knows what a person meant; an engine knows how to find it in its
index. They meet at the level of a whole search request, because a remote engine (OpenSearch)
cannot hand back document masks or posting lists:

* the **query tree** (:class:`Term`, :class:`Phrase`, …, :class:`Bool`) is engine-neutral and
  already analysed: its terms are index terms (``searchsvc.analysis``), so every engine matches
  the same words;
* :meth:`Snapshot.search` takes an :class:`EngineRequest` (match and rank-first queries,
  filters, sort, recency, window, collapse, facets each without its own filter, day counts for
  the histogram) and returns an :class:`EngineResult` (exact total, stories, hits with their
  stored fields, facet and day counts);
* a snapshot also serves stored documents, more-like-this, the spelling vocabulary and its own
  description; an engine hands out snapshots of its current generation and the writers that
  make new ones.

Two engines implement it: ``engines.whoosh`` (embedded, the default) and
``engines.opensearch``. Whatever an engine cannot do exactly it lists in
:attr:`EngineResult.approximate`, and the core reports that in the response.

No engine name appears above this module; nothing below it knows about HTTP.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from searchsvc.errors import BuildError, UsageError

TEXT_FIELDS = ("title", "body")
FACETS = ("topics", "places", "people", "orgs", "source")
# One ranking for every engine (bench/RANKING.md measured and defends each value): a clause on
# the article's text is scored by Lucene's BM25 over one combined field — the title counted
# TITLE_WEIGHT times, then the body — and consecutive query words found near each other add a
# sloppy-phrase bonus (PROXIMITY_WEIGHT, within PROXIMITY_SLOP positions).
BM25_K1 = 2.0
BM25_B = 0.5
TITLE_WEIGHT = 3
PROXIMITY_WEIGHT = 0.3
PROXIMITY_SLOP = 8
Sort = Literal["relevance", "newest", "oldest"]
RESCORE_WINDOW = 500


# -- the query tree --------------------------------------------------------------------------
# ``field=None`` on a text clause means the article's text: title and body, each scored.


@dataclass(frozen=True)
class Term:
    text: str
    field: str | None = None
    boost: float = 1.0
    # The word as the person typed it (normalised, unstemmed), for describing the query
    # back to them; no part of matching.
    shown: str = dataclasses.field(default="", compare=False)


@dataclass(frozen=True)
class Phrase:
    """The terms in this order; with ``slop`` > 0 also out of place by at most that many
    moves (Lucene's sloppy phrase: an occurrence ``m`` moves away counts ``1/(1 + m)``)."""

    terms: tuple[str, ...]
    field: str | None = None
    slop: int = 0
    boost: float = 1.0
    shown: str = dataclasses.field(default="", compare=False)  # the words as typed (see Term)


@dataclass(frozen=True)
class Near:
    """Two clauses (terms or phrases) within ``distance`` words of each other, either order."""

    left: Term | Phrase
    right: Term | Phrase
    distance: int
    boost: float = 1.0


@dataclass(frozen=True)
class Prefix:
    text: str
    field: str | None = None
    boost: float = 1.0


@dataclass(frozen=True)
class Wildcard:
    """``*`` any run of characters, ``?`` one character, matched against index terms."""

    pattern: str
    field: str | None = None
    boost: float = 1.0


@dataclass(frozen=True)
class Fuzzy:
    """Index terms within ``distance`` edits (Levenshtein, no transpositions) of ``text``,
    sharing its first ``prefix`` characters."""

    text: str
    field: str | None = None
    distance: int = 1
    prefix: int = 1
    boost: float = 1.0


@dataclass(frozen=True)
class Value:
    """An exact value of a keyword field: a facet (``topics``…), ``id`` or ``story``."""

    field: str
    value: str


@dataclass(frozen=True)
class DateRange:
    """Articles dated within [low, high] (inclusive; None is open). Undated never match."""

    low: dt.date | None
    high: dt.date | None


@dataclass(frozen=True)
class Every:
    pass


@dataclass(frozen=True)
class Bool:
    """Lucene's boolean query: every ``must``, no ``must_not``, at least ``min_should`` of
    ``should``. The score is the sum of the scores of the matching must and should clauses,
    so a should clause with ``min_should=0`` only adds to the score."""

    must: tuple[Query, ...] = ()
    should: tuple[Query, ...] = ()
    must_not: tuple[Query, ...] = ()
    min_should: int = 0


Query = Term | Phrase | Near | Prefix | Wildcard | Fuzzy | Value | DateRange | Every | Bool
TEXT_CLAUSES = (Term, Phrase, Near, Prefix, Wildcard, Fuzzy)


def walk(q: Query) -> Iterator[Query]:
    """Every node of the tree, parents before children."""
    yield q
    if isinstance(q, Bool):
        for child in (*q.must, *q.should, *q.must_not):
            yield from walk(child)
    elif isinstance(q, Near):
        yield q.left
        yield q.right


def positive(q: Query) -> Iterator[Query]:
    """The clauses that can make a document match (not those under ``must_not``)."""
    yield q
    if isinstance(q, Bool):
        for child in (*q.must, *q.should):
            yield from positive(child)
    elif isinstance(q, Near):
        yield q.left
        yield q.right


# -- requests and results --------------------------------------------------------------------


@dataclass(frozen=True)
class FacetRequest:
    name: str
    size: int
    selected: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineRequest:
    """One search. ``query`` None matches every article. Documents matching ``first`` rank
    before the others (the all-words tier); within a tier by score, then newest, then id.

    ``filters`` are named (``date``, ``topics``…): they restrict the hits and the total, and
    each facet's counts ignore the filter of the same name (so other values stay selectable);
    the day counts ignore ``date``."""

    query: Query | None = None
    first: Query | None = None
    filters: dict[str, Query] = field(default_factory=dict)
    sort: Sort = "relevance"
    recency_days: float | None = None
    offset: int = 0
    limit: int = 10
    collapse: bool = True
    facets: tuple[FacetRequest, ...] = ()
    days: bool = False
    story_others: int = 20
    fields: bool = True  # stored fields of the hits (False: ids, scores and stories only)
    # Clauses that add to the score of documents that already match (the proximity bonus);
    # an engine may add them only within its best RESCORE_WINDOW documents.
    rescore: tuple[Query, ...] = ()


@dataclass
class StoredArticle:
    id: str
    title: str
    body: str
    date: dt.date | None
    url: str | None = None
    source: str | None = None
    topics: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    story: str | None = None  # the story's id (the article's own id when it stands alone)


@dataclass
class StoryInfo:
    """The hit's story within this search: its id, how many of its articles match (the hit
    included), the others' ids, newest first (at most ``story_others``), and how many
    articles the story has in all (what its article page lists)."""

    id: str
    size: int
    others: list[str]
    total: int = 1


@dataclass
class EngineHit:
    id: str
    score: float | None
    article: StoredArticle | None
    story: StoryInfo


@dataclass
class DayCounts:
    """Matches per day, ascending: ``ordinals`` (proleptic Gregorian, as ``date.toordinal``)
    and ``counts`` as arrays (an archive of 30 years has 11,000 days)."""

    ordinals: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.ordinals)

    @property
    def first(self) -> dt.date:
        return dt.date.fromordinal(int(self.ordinals[0]))

    @property
    def last(self) -> dt.date:
        return dt.date.fromordinal(int(self.ordinals[-1]))


@dataclass
class EngineResult:
    total: int
    total_stories: int
    hits: list[EngineHit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    days: DayCounts = field(default_factory=DayCounts)
    approximate: tuple[str, ...] = ()  # result parts the engine could not count exactly


@dataclass
class SnapshotInfo:
    engine: str
    generation: str
    documents: int
    date_min: dt.date | None
    date_max: dt.date | None
    undated: int
    size_bytes: int
    segments: int
    record: dict  # the build record of this generation (see ``ingest.build``)


# -- the protocols ---------------------------------------------------------------------------


class Vocabulary(Protocol):
    """The spelling source: every normalised, unstemmed word with its document frequency."""

    def df(self, word: str) -> int: ...

    def __len__(self) -> int: ...

    def words(self) -> Mapping[str, int]: ...

    def phrase_counts(self) -> Mapping[str, int]: ...

    def memo(self, name: str) -> dict:
        """A cache that lives as long as this vocabulary."""
        ...

    def similar(self, word: str, distance: int, min_df: int = 1) -> list[str]:
        """Words within ``distance`` edits of ``word`` with its first letter, in at least
        ``min_df`` articles, sorted."""
        ...

    def completions(self, prefix: str, limit: int) -> list[str]:
        """Words starting with ``prefix``, most frequent first."""
        ...

    def phrases(self, prefix: str, limit: int) -> list[tuple[str, int]]:
        """Frequent phrases starting with ``prefix`` (words, the last one possibly partial),
        with their counts, most frequent first."""
        ...


@runtime_checkable
class Snapshot(Protocol):
    """One generation of an index, opened for searching. Not shared between threads."""

    generation: str

    def search(self, request: EngineRequest) -> EngineResult: ...

    def documents(self, ids: Sequence[str]) -> list[StoredArticle | None]: ...

    def scan(self, request: EngineRequest, batch: int = 500) -> Iterator[EngineHit]:
        """Every match of ``request`` (its window ignored) in its order, with stored fields,
        in batches: an export's constant memory, beyond the result window."""
        ...

    def vocabulary(self) -> Vocabulary: ...

    def doc_freq(self, terms: Sequence[str], within: Query | None = None) -> dict[str, int]:
        """Document frequency of each index term: the larger of its title's and its body's,
        from the term dictionaries (as BM25 sees them: deleted articles may still count); with
        ``within``, the live articles matching that filter whose title or body has the term."""
        ...

    def info(self) -> SnapshotInfo: ...


class Collector(Protocol):
    """What the shared ingest gathers while an engine writes (story term counts, spelling
    words, problems). A parallel writer gives each worker its own and merges them."""

    def add(self, article: IndexedArticle) -> None: ...

    def problem(self, problem: object) -> None: ...

    def merge(self, other: Collector) -> None: ...

    def detach(self) -> Collector:
        """What was gathered so far, to be merged elsewhere (before what is gathered later);
        this collector starts again empty of it. A parallel writer's workers hand it to the
        parent as they go, so that their memory stays within the build's budget."""
        ...


class Writer(Protocol):
    """Makes one new generation: a full build (from nothing) or an update of the current one.
    Nothing is visible until :meth:`publish`; :meth:`abort` leaves the index as it was."""

    generation: str  # the name the new generation is published under

    def add_all(self, work: Sequence[object],
                prepare: Callable[[object], Iterable[IndexedArticle | object]],
                collector: Collector, procs: int = 1,
                progress: Callable[[str, int, int], None] | None = None,
                ready: Callable[[Collector], None] | None = None,
                total: int | None = None) -> Collector:
        """Write every article ``prepare`` makes of the ``work`` items (anything else it
        yields is a problem for the collector); the engine may spread the work over ``procs``
        processes (``total``: the articles expected, when items hold several). ``ready`` is
        called with the merged collector as soon as every article has been read, possibly
        while the engine is still writing (stories are clustered meanwhile). Returns the
        collector with everything merged into it."""
        ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def set_stories(self, stories: dict[str, str]) -> None:
        """Story ids of articles in the new generation, where they differ from what
        :class:`IndexedArticle.story` said when the article was added."""
        ...

    def set_vocabulary(self, words: dict[str, int], phrases: dict[str, int]) -> None:
        """The spelling vocabulary (word → articles) and every headline phrase's count
        (:func:`~searchsvc.vocabulary.split_phrases` says which completions offer), replacing
        the previous generation's."""
        ...

    def change_vocabulary(self, words: Mapping[str, int], phrases: Mapping[str, int]) -> None:
        """An update's signed changes to the previous generation's word and phrase counts
        (the new articles' counts less the removed ones'); the engine folds them in without
        rewriting what did not change where it can."""
        ...

    def publish(self, record: dict, manifest: dict) -> str:
        """Make the new generation current (atomically), keeping its build record and the
        manifest of the sources it was built from; returns the generation's id."""
        ...

    def abort(self) -> None: ...


@dataclass
class IndexedArticle:
    """An article as the shared ingest hands it to an engine: the parsed article, its facet
    values (places found in the text when none came with it), its story, and its analysis
    (each text field's index terms in order, a term's positions being its indexes, and its
    spelling words: made once, used by every consumer)."""

    id: str
    title: str
    body: str
    date: dt.date | None
    url: str | None
    source: str | None
    facets: dict[str, list[str]]
    story: str
    content_hash: str
    origin: str  # where it came from: a source file (path[:line]) or the ingest folder
    analysis: dict[str, list[str]] = field(default_factory=dict)
    words: frozenset[str] = frozenset()  # its spelling words (normalised, unstemmed)


@dataclass
class GenerationInfo:
    id: str
    built_at: str | None
    documents: int
    sources: list[str]
    skipped: int
    mode: str
    current: bool = False

    @classmethod
    def from_record(cls, generation: str, record: Mapping, current: bool) -> GenerationInfo:
        """The listing of a generation from the record its build wrote (``build.json``)."""
        summary = record.get("summary") or {}
        return cls(id=generation, built_at=record.get("built_at"),
                   documents=int(record.get("documents", 0)),
                   sources=list(record.get("sources", [])),
                   skipped=int(summary.get("skipped", record.get("skipped", 0))),
                   mode=str(record.get("mode", "full")), current=current)


def rollback_target(kept: Sequence[GenerationInfo], generation: str | None,
                    where: str) -> GenerationInfo:
    """The generation a rollback makes current: the one named, or else the newest one older
    than the current one (generation ids sort by age). ``where`` names the index in the
    message for a generation that is not kept."""
    if generation is not None:
        named = next((g for g in kept if g.id == generation), None)
        if named is None:
            raise UsageError(f"no generation {generation!r} {where}; see "
                             "`searchsvc generations`")
        return named
    current = next((g for g in kept if g.current), None)
    older = [g for g in kept if current is None or g.id < current.id]
    if not older:
        raise BuildError("there is no earlier generation to roll back to")
    return older[-1]


class Engine(Protocol):
    """An index: the current generation's snapshots, writers for new generations, and the
    kept generations (rollback)."""

    name: str

    def snapshot(self) -> Snapshot:
        """This thread's snapshot of the current generation, reopened when a new one has been
        published. Raises ``IndexUnavailable`` when there is none."""
        ...

    def has_index(self) -> bool: ...

    def full_writer(self) -> Writer: ...

    def update_writer(self) -> Writer: ...

    def generations(self) -> list[GenerationInfo]: ...

    def rollback(self, generation: str | None = None) -> GenerationInfo:
        """Make the named generation (default: the one before the current) current."""
        ...

    def manifest(self) -> dict:
        """The source manifest of the current generation (what ``publish`` was given)."""
        ...

    def close(self) -> None: ...
