"""From a parsed article to what an engine indexes, and what the build gathers on the way.

:func:`prepare` is the one place an article is enriched — its facet values (places found in
the text when none came with it), its analysis (term → positions of title and body, made once
and used by the engine's writer, the story term counts and the spelling vocabulary), its
content hash and origin. Engines run it in their writer processes (:meth:`Writer.add_all`),
so reading, analysing and writing happen side by side on every core.

:class:`Gathered` is the build's :class:`~searchsvc.engine.Collector`: story term counts,
spelling words, headline phrases, problems, and which file each article came from (the
manifest). Workers each fill one; the parent merges them. The story term counts go to
temporary files (:class:`~searchsvc.ingest.story_spool.StorySpool`), not into memory: the
parent clusters them window by window (:func:`~searchsvc.ingest.story_spool.cluster_spooled`)
and :meth:`Gathered.close` removes them.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from searchsvc import analysis
from searchsvc.engine import Collector, IndexedArticle
from searchsvc.ingest.places import places_for
from searchsvc.ingest.readers import Article, Problem, read_jsonl_file
from searchsvc.ingest.sources import SourceFile, read_file
from searchsvc.ingest.stories import entities
from searchsvc.ingest.story_spool import StorySpool

PHRASE_WORDS = (2, 3, 4)
MAX_PHRASES = 1_000_000


@dataclass(frozen=True)
class Work:
    """One item of a build: a text file to read, a JSONL file's chosen lines (by number) to
    read, or an article already parsed."""

    file: SourceFile
    article: Article | None = None
    lines: array | None = None


def origin_of(article: Article, file: SourceFile) -> str:
    line = article.path.rsplit(":", 1)[1] if file.kind == "jsonl" and ":" in article.path \
        else None
    return f"{file.key}:{line}" if line else file.key


def file_of(origin: str) -> str:
    """The manifest key of an origin (``/abs/path.jsonl:12`` → ``/abs/path.jsonl``)."""
    head, sep, tail = origin.rpartition(":")
    return head if sep and tail.isdigit() else origin


def index_article(article: Article, origin: str, story: str | None = None) -> IndexedArticle:
    places = list(article.places)
    if not places and article.derive_places:
        places = list(places_for(article.title, article.body))
    facets = {"topics": list(article.topics), "places": places,
              "people": list(article.people), "orgs": list(article.orgs),
              "source": [article.source] if article.source else []}
    title_terms, title_words = analysis.analyze(article.title)
    body_terms, body_words = analysis.analyze(article.body)
    return IndexedArticle(
        id=article.id, title=article.title, body=article.body, date=article.date,
        url=article.url, source=article.source, facets=facets, story=story or article.id,
        content_hash=article.content_hash, origin=origin,
        analysis={"title": title_terms, "body": body_terms},
        words=frozenset(title_words | body_words))


def prepare(work: Work, max_bytes: int) -> Iterator[IndexedArticle | Problem]:
    if work.article is not None:
        yield index_article(work.article, origin_of(work.article, work.file))
        return
    if work.lines is not None:
        wanted = set(work.lines)
        for got in read_jsonl_file(work.file.path, max_bytes, wanted):
            if isinstance(got, Problem):
                yield got
            else:
                yield index_article(got, origin_of(got, work.file))
        return
    for got in read_file(work.file, max_bytes):
        if isinstance(got, Problem):
            yield got
        else:
            yield index_article(got, work.file.key)


def story_terms(article: IndexedArticle) -> dict[str, int]:
    """Content-term counts over title and body: what story clustering compares."""
    return analysis.content_counts(article.analysis.get("title", [])
                                   + article.analysis.get("body", []))


def headline_phrases(title: str) -> set[str]:
    """Runs of 2–4 words of a headline that neither start nor end with a stop word (``bank
    of england``, ``oil prices``): what completions offer."""
    words = [analysis.term_of(token)[0] for token in analysis.TOKEN_PATTERN.findall(title)]
    found = set()
    for i, first in enumerate(words):
        if analysis.is_stop(first) or not first.isalnum():
            continue
        # Grow the run one word at a time: a word that is not alphanumeric ends every longer
        # run too, and each word is looked at once per start instead of once per run.
        for j in range(i + 1, min(i + max(PHRASE_WORDS), len(words))):
            last = words[j]
            if not last.isalnum():
                break
            if j - i + 1 in PHRASE_WORDS and not analysis.is_stop(last):
                found.add(" ".join(words[i: j + 1]))
    return found


class Gathered:
    """What a build gathers besides the index (see the module docstring)."""

    def __init__(self, spool_dir: str | None = None, stories: bool = True) -> None:
        # Each article's story term counts and names, on disk (in ``spool_dir``, default the
        # system's temporary directory) until the stories are clustered; an update, which
        # assigns stories by searching the index, keeps none.
        self.spool = StorySpool(spool_dir) if stories else None
        self.words: Counter = Counter()
        self.phrases: Counter = Counter()
        self.problems: list[Problem] = []
        self.files: dict[str, dict[str, str]] = defaultdict(dict)  # file → {id: hash}
        self.documents = 0

    def add(self, article: IndexedArticle) -> None:
        self.documents += 1
        if self.spool is not None:
            self.spool.add(article.id, _ordinal(article.date), story_terms(article),
                           entities(article.title, article.body))
        self.words.update(article.words)
        self.phrases.update(headline_phrases(article.title))
        if len(self.phrases) > MAX_PHRASES:
            self._prune()
        self.files[file_of(article.origin)][article.id] = article.content_hash

    def _prune(self) -> None:
        """Forget phrases seen once (lossy counting): a frequent phrase keeps coming back,
        and the counts stay bounded whatever the archive's size."""
        self.phrases = Counter({p: n for p, n in self.phrases.items() if n > 1})

    def problem(self, problem: object) -> None:
        if isinstance(problem, Problem):
            self.problems.append(problem)

    def detach(self) -> Gathered:
        """Everything gathered so far but the story spool (whose files this process is still
        writing), handed over and forgotten here: a build's worker sends it to the parent at
        every segment it flushes, so what it keeps does not grow with its share of the
        archive."""
        part = Gathered(stories=False)
        part.words, part.phrases, part.problems = self.words, self.phrases, self.problems
        part.files, part.documents = self.files, self.documents
        self.words, self.phrases, self.problems = Counter(), Counter(), []
        self.files, self.documents = defaultdict(dict), 0
        return part

    def merge(self, other: Collector) -> None:
        """Add what ``other`` gathered after what this one did."""
        assert isinstance(other, Gathered)
        if self.spool is not None and other.spool is not None:
            self.spool.merge(other.spool)
        elif other.spool is not None:  # this is a detached part: the spool comes last
            self.spool, other.spool = other.spool, None
        self.words.update(other.words)
        self.phrases.update(other.phrases)
        if len(self.phrases) > MAX_PHRASES:
            self._prune()
        self.problems.extend(other.problems)
        for name, ids in other.files.items():
            self.files[name].update(ids)
        self.documents += other.documents

    def close(self) -> None:
        """Remove the spooled story term counts (after clustering, or when the build fails)."""
        if self.spool is not None:
            self.spool.close()


def _ordinal(date: dt.date | None) -> int | None:
    return date.toordinal() if date else None
