"""Story clustering of a full build in bounded memory: term counts spooled to disk, clustered
date window by date window.

:func:`~searchsvc.ingest.stories.cluster` holds every article's term counts and several arrays
the size of all of them (16 bytes and more per (article, term) entry, ~85 entries an article):
gigabytes at a million articles. Yet its rules only ever compare articles dated at most
:data:`~searchsvc.ingest.stories.WINDOW_DAYS` apart. So a build does the same in three steps,
and gets the very same stories:

1. **Spool.** Each build worker's :class:`StorySpool` appends its articles to files of its own
   as they are indexed: term ids in the worker's vocabulary (int32), counts (uint16; the rare
   larger count is kept aside), and per article its date, entry count, id and names
   (:func:`~searchsvc.ingest.stories.entities`). A worker holds its vocabulary and a small
   buffer; what it hands the parent is a few file names (``merge`` is cheap).
2. **Collection statistics**, in streaming passes over the files in the parent: the merged
   vocabulary (term → rank in sorted order, as ``cluster`` numbers terms), exact copies
   (:func:`~searchsvc.ingest.stories._first_copies`' rule), document frequencies over distinct
   articles, and how many articles have each term as a key term (the blocking step leaves out
   terms that are more than ``MAX_BLOCK`` articles' key terms). Vocabulary-sized arrays and a
   few numbers per article (date, file offsets) stay in memory, nothing per entry.
3. **Windows in date order.** Articles are ordered by date (an index array). Each step owns a
   run of days [S, E] and reads back the articles dated S - W … E + W (W = ``WINDOW_DAYS``):
   every candidate pair whose later article falls in [S, E] has both articles there, and the
   burst rule's local density of a term at a date D in [S, E] counts the articles of
   D - W … D + W, all there too. A pair is found by exactly one step (the one owning its later
   date). Each article's weights depend only on its own counts and the collection's
   statistics, so the window's matrix gives every pair the same cosine, content similarity and
   burst, bit for bit, as the global matrix. Steps are sized by entries, not days
   (:data:`WINDOW_ENTRIES`): memory follows the busiest week's articles, not the archive.

Then the merging. ``cluster`` merges the passing pairs strongest first (ties in the order of
the pair's article numbers) with union–find, each merge checked against the two stories as
they are at that moment (names rule, titles' tickers, every member like the earliest article).
The outcome of a merge depends only on the pairs processed before it inside the same connected
component of the passing-pairs graph: two components never touch each other's stories. So the
passing pairs (two article numbers and a cosine each: a few bytes per story member, not per
term) are split into connected components, and each component's pairs are replayed in the
global order with only that component's articles read back — in batches of components, a
batch's articles within a budget. A story that spans window boundaries (a follow-up three days
after, a chain of updates over two weeks) is one component, replayed whole; the result is the
same mapping as ``cluster`` on the same articles in the same order, which the tests check.
Article numbers are the order ``cluster`` would see the articles in: the parts in the order
they were merged, each part in the order its articles were added.

Files live in a directory of their own under the system's temporary directory (``TMPDIR``) or
the ``root`` given; :meth:`StorySpool.close` removes it, and the owning process removes it when
the spool is garbage collected or the interpreter exits (a build removes it when it fails). A
killed build's directory (named after its process) is removed by the next spool made there.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import uuid
import weakref
from array import array
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from searchsvc.ingest.stories import (
    WINDOW_DAYS,
    _candidate_pairs,
    _join,
    _key_entries,
    _Names,
    _passing,
    _root,
    _said,
    _Stats,
    _weigh,
)

PREFIX = "searchsvc-stories-"
WINDOW_ENTRIES = 1 << 20  # term entries (articles × their terms) one window step reads back
BATCH_ENTRIES = 1 << 20  # ... and one batch of components
FLUSH_ENTRIES = 1 << 16  # a writer's buffer
MAX_COUNT = 0xFFFF  # uint16 counts; an article's larger counts are kept aside exactly
_NAMES_SEP = "\x00"  # between an article's names (entities() never makes a NUL)


@dataclass
class _Part:
    """One writer's files: its articles in the order they were added."""

    stem: str  # the files' path without suffix
    pid: int  # the process that wrote them
    docs: int = 0
    entries: int = 0
    big: dict[int, int] = field(default_factory=dict)  # entry → count, for counts ≥ MAX_COUNT

    def path(self, suffix: str) -> str:
        return self.stem + suffix


class _Writer:
    """Appends one process's articles to one part's files, through small buffers."""

    def __init__(self, stem: str) -> None:
        self.pid = os.getpid()
        self.part = _Part(stem, self.pid)
        self.vocab: dict[str, int] = {}
        self.terms = array("i")
        self.counts = array("H")
        self.docs = array("i")  # per article: date (-1: undated), entries, id bytes, names bytes
        self.text = bytearray()

    def add(self, doc_id: str, date: int | None, tf: Mapping[str, int],
            names: frozenset[str]) -> None:
        vocab, part = self.vocab, self.part
        known = list(map(vocab.get, tf))
        if None in known:  # new terms get the next numbers, in the order they come
            self.terms.extend([vocab.setdefault(t, len(vocab)) for t in tf])
        else:
            self.terms.extend(cast("list[int]", known))
        counts = list(tf.values())
        if counts and max(counts) >= MAX_COUNT:
            for i, c in enumerate(counts):
                if c >= MAX_COUNT:
                    part.big[part.entries + i] = c
            counts = [min(c, MAX_COUNT) for c in counts]
        self.counts.extend(counts)
        ident = doc_id.encode("utf-8")
        named = _NAMES_SEP.join(names).encode("utf-8")
        self.docs.extend((-1 if date is None else date, len(counts), len(ident), len(named)))
        self.text += ident
        self.text += named
        part.docs += 1
        part.entries += len(counts)
        if len(self.terms) >= FLUSH_ENTRIES:
            self.flush()

    def flush(self) -> None:
        # Opened for each flush (every FLUSH_ENTRIES): no file is left open when a spool is
        # dropped unfinished (an update's collector, a failed build).
        for suffix, buf in ((".terms", self.terms), (".counts", self.counts),
                            (".docs", self.docs), (".text", self.text)):
            with open(self.part.path(suffix), "ab") as f:
                f.write(buf)
            del buf[:]

    def finish(self) -> _Part:
        self.flush()
        with open(self.part.path(".vocab"), "wb") as f:
            pickle.dump(list(self.vocab), f, protocol=pickle.HIGHEST_PROTOCOL)
        self.vocab = {}
        return self.part


def _clean_stale(base: str) -> None:
    """Remove the spools that killed builds left in ``base``: those whose process is gone (a
    SIGKILL runs no finalizer)."""
    try:
        names = [n for n in os.listdir(base) if n.startswith(PREFIX)]
    except OSError:
        return
    for name in names:
        try:
            pid = int(name[len(PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
        except OSError:
            pass  # alive, someone else's


def _remove(directories: list[str], owner: int) -> None:
    # A forked worker inherits the spool (and this finalizer): only the owner removes.
    if os.getpid() == owner:
        for directory in directories:
            shutil.rmtree(directory, ignore_errors=True)


class StorySpool:
    """The story clustering's part of a build's collector: ``add`` each article's term counts
    and names as the build reads it, ``merge`` the workers' spools, then
    :func:`cluster_spooled`; ``close`` removes the files (see the module docstring).

    A spool that crosses a process boundary (pickled) carries only its parts' file names; the
    files stay where they are, in the directory of the spool the parent made. Made before the
    build's workers fork, like the rest of the collector, it is empty then: each worker writes
    a part of its own (a writer belongs to the process that opened it)."""

    def __init__(self, root: str | Path | None = None) -> None:
        base = Path(root) if root is not None else Path(tempfile.gettempdir())
        self.dir = str(base / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}")
        self.parts: list[_Part] = []
        self._writer: _Writer | None = None
        # Its own directory, and those of the spools merged into it (their files are its now).
        self._dirs = [self.dir]
        self._finalizer: weakref.finalize | None = weakref.finalize(
            self, _remove, self._dirs, os.getpid())

    def __len__(self) -> int:
        writing = self._writer.part.docs if self._writer and self._mine(self._writer) else 0
        return sum(p.docs for p in self.parts) + writing

    @staticmethod
    def _mine(writer: _Writer) -> bool:
        return writer.pid == os.getpid()

    def add(self, doc_id: str, date: int | None, tf: Mapping[str, int],
            names: frozenset[str] = frozenset()) -> None:
        writer = self._writer
        if writer is None or not self._mine(writer):  # the first article in this process
            if not os.path.isdir(self.dir):
                _clean_stale(os.path.dirname(self.dir))
                os.makedirs(self.dir, exist_ok=True)
            stem = os.path.join(self.dir, f"{os.getpid()}-{uuid.uuid4().hex[:8]}")
            writer = self._writer = _Writer(stem)
        writer.add(doc_id, date, tf, names)

    def finish(self) -> None:
        """End this process's part (its files complete): before pickling and clustering."""
        if self._writer is not None and self._mine(self._writer):
            self.parts.append(self._writer.finish())
        self._writer = None

    def merge(self, other: StorySpool) -> None:
        """Take over ``other``'s parts (a worker's), after this spool's own, and with them the
        removal of its files."""
        self.finish()
        other.finish()
        self.parts.extend(other.parts)
        other.parts = []
        self._dirs.extend(d for d in other._dirs if d not in self._dirs)
        if other._finalizer is not None:
            other._finalizer.detach()
            other._finalizer = None

    def close(self) -> None:
        """Remove every file spooled so far (the spool is empty again)."""
        self._writer = None
        self.parts = []
        for directory in self._dirs:
            shutil.rmtree(directory, ignore_errors=True)
        del self._dirs[1:]

    def __getstate__(self) -> dict[str, Any]:
        self.finish()
        return {"dir": self.dir, "dirs": self._dirs, "parts": self.parts}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.dir, self._dirs, self.parts = state["dir"], state["dirs"], state["parts"]
        self._writer = None
        self._finalizer = None  # the spool it came from removes the files, or who merges it


# --- Reading the parts back --------------------------------------------------------------------


@dataclass
class _Docs:
    """Some articles read back: their term entries by document, terms as vocabulary ranks
    sorted within each document (as ``cluster``'s matrix has them)."""

    seqs: np.ndarray  # article numbers, ascending
    offsets: np.ndarray  # document i's entries are offsets[i]:offsets[i + 1]
    terms: np.ndarray
    tf: np.ndarray
    keys: np.ndarray  # document * (n_terms + 1) + term, sorted
    doc_of: np.ndarray
    dates: np.ndarray  # int64, -1: undated


class _Spooled:
    """A spool's parts as one collection: the merged vocabulary, a few numbers per article,
    and reads of any articles' entries, ids and names."""

    def __init__(self, parts: list[_Part]) -> None:
        self.parts = parts
        vocabs = []
        for part in parts:
            with open(part.path(".vocab"), "rb") as f:
                vocabs.append(pickle.load(f))
        # Ranks in sorted-term order, as cluster() numbers terms: ties break the same way.
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(sorted(set().union(*vocabs)))}
        self.n_terms = len(self.vocab)
        self.remap = [np.fromiter(map(self.vocab.__getitem__, v), dtype=np.int32, count=len(v))
                      for v in vocabs]
        del vocabs
        meta = [np.fromfile(p.path(".docs"), dtype=np.int32).reshape(-1, 4) for p in parts]
        self.starts = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([p.docs for p in parts], out=self.starts[1:])
        self.n = int(self.starts[-1])
        self.dates = _concat([m[:, 0] for m in meta], np.int32)
        self.lens = _concat([m[:, 1] for m in meta], np.int32)
        self.id_len = _concat([m[:, 2] for m in meta], np.int32)
        # Where each article's entries and text start in its part's files.
        self.entry_at = _concat([_starts(m[:, 1]) for m in meta], np.int64)
        self.text_at = _concat([_starts(m[:, 2].astype(np.int64) + m[:, 3]) for m in meta],
                               np.int64)
        self.text_len = _concat([m[:, 2].astype(np.int64) + m[:, 3] for m in meta], np.int64)

    def _by_part(self, seqs: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        bounds = np.searchsorted(seqs, self.starts)
        for p in range(len(self.parts)):
            if bounds[p + 1] > bounds[p]:
                yield p, seqs[bounds[p]:bounds[p + 1]]

    def read(self, seqs: np.ndarray, sort: bool = True) -> _Docs:
        """The entries of the articles ``seqs`` (ascending)."""
        lens = self.lens[seqs].astype(np.int64)
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        terms = np.empty(int(offsets[-1]), dtype=np.int32)
        tf = np.empty(int(offsets[-1]), dtype=np.int32)
        at = 0
        for p, some in self._by_part(seqs):
            part = self.parts[p]
            ln = self.lens[some].astype(np.int64)
            total = int(ln.sum())
            if not total:
                continue
            first = np.cumsum(ln) - ln
            index = np.repeat(self.entry_at[some] - first, ln) + np.arange(total)
            # Mapped only while read: pages touched do not stay in this process.
            mapped = np.memmap(part.path(".terms"), dtype=np.int32, mode="r",
                               shape=(part.entries,))
            terms[at:at + total] = self.remap[p][mapped[index]]
            del mapped
            mapped = np.memmap(part.path(".counts"), dtype=np.uint16, mode="r",
                               shape=(part.entries,))
            tf[at:at + total] = mapped[index]
            del mapped
            if part.big:
                large = np.isin(index, np.fromiter(part.big, dtype=np.int64))
                tf[at:at + total][large] = [part.big[i] for i in index[large].tolist()]
            at += total
        doc_of = np.repeat(np.arange(len(seqs), dtype=np.int64), lens)
        keys = doc_of * (self.n_terms + 1) + terms
        if sort:
            order = np.argsort(keys)  # by document, then term (a document lists a term once)
            keys, terms, tf = keys[order], terms[order], tf[order]
        return _Docs(seqs, offsets, terms, tf, keys, doc_of,
                     self.dates[seqs].astype(np.int64))

    def texts(self, seqs: np.ndarray) -> tuple[list[str], list[frozenset[str]]]:
        """The ids and names of the articles ``seqs`` (ascending)."""
        ids: list[str] = []
        names: list[frozenset[str]] = []
        for p, some in self._by_part(seqs):
            part = self.parts[p]
            size = os.path.getsize(part.path(".text"))
            mapped = np.memmap(part.path(".text"), dtype=np.uint8, mode="r", shape=(size,)) \
                if size else np.zeros(0, dtype=np.uint8)
            for at, n, n_id in zip(self.text_at[some].tolist(), self.text_len[some].tolist(),
                                   self.id_len[some].tolist(), strict=True):
                raw = mapped[at:at + n].tobytes()
                ids.append(raw[:n_id].decode("utf-8"))
                named = raw[n_id:].decode("utf-8")
                names.append(frozenset(named.split(_NAMES_SEP)) if named else frozenset())
            del mapped
        return ids, names

    def chunks(self, budget: int) -> Iterator[np.ndarray]:
        """All articles in order, in runs of about ``budget`` entries."""
        ends = np.cumsum(self.lens, dtype=np.int64)
        start = 0
        while start < self.n:
            stop = int(np.searchsorted(ends, ends[start] - self.lens[start] + budget,
                                       side="right"))
            stop = max(stop, start + 1)
            yield np.arange(start, stop, dtype=np.int64)
            start = stop


def _concat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype=dtype)


def _starts(lengths: np.ndarray) -> np.ndarray:
    ends = np.cumsum(lengths, dtype=np.int64)
    return ends - lengths


def _batches(items: list[int], groups: list[np.ndarray], lens: np.ndarray,
             budget: int) -> Iterator[list[int]]:
    """Consecutive ``items``, each a group of article numbers, in batches of about ``budget``
    entries (a larger group on its own)."""
    batch: list[int] = []
    size = 0
    for item in items:
        batch.append(item)
        size += int(lens[groups[item]].sum())
        if size >= budget:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# --- Clustering ------------------------------------------------------------------------------


def cluster_spooled(spool: StorySpool, window_entries: int = WINDOW_ENTRIES,
                    batch_entries: int = BATCH_ENTRIES) -> dict[str, str]:
    """article id → story id, as :func:`~searchsvc.ingest.stories.cluster` gives for the same
    articles in the same order, in memory bounded by the busiest date window (see the module
    docstring). The spool's files stay; ``close`` it when done."""
    spool.finish()
    col = _Spooled(spool.parts)
    if col.n < 2:
        return {}
    rep, stats = _statistics(col, window_entries)
    sizes = _key_sizes(col, rep, stats, window_entries)
    a, b, sims = _pairs(col, rep, stats, sizes, window_entries)
    return _stories(col, rep, stats, a, b, sims, batch_entries)


def _statistics(col: _Spooled, budget: int) -> tuple[np.ndarray, _Stats]:
    """Each article's first copy (itself if it has none) and the collection's statistics over
    distinct articles, as :func:`~searchsvc.ingest.stories._matrix` makes them."""
    n, n_terms = col.n, col.n_terms
    df_all = np.zeros(n_terms, dtype=np.int64)
    digest = np.zeros(n, dtype=np.int64)
    # The same order-independent hash of (term, count) entries as _first_copies.
    salt = np.random.default_rng(0).integers(1, 2**63, size=max(n_terms, 1), dtype=np.uint64)
    for seqs in col.chunks(budget):
        docs = col.read(seqs, sort=False)
        df_all += np.bincount(docs.terms, minlength=n_terms)
        entry = salt[docs.terms] * (docs.tf.astype(np.uint64) * np.uint64(2) + np.uint64(1))
        sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(entry, dtype=np.uint64)])
        digest[seqs] = (sums[docs.offsets[1:]] - sums[docs.offsets[:-1]]).view(np.int64)
    rep = np.arange(n, dtype=np.int64)
    dates, lens = col.dates, col.lens
    dated = np.flatnonzero((dates >= 0) & (lens > 0))
    order = dated[np.lexsort((digest[dated], lens[dated], dates[dated]))]
    same = ((dates[order][1:] == dates[order][:-1]) & (lens[order][1:] == lens[order][:-1])
            & (digest[order][1:] == digest[order][:-1]))
    del digest
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    bounds = np.append(starts, len(order))
    groups = [order[lo:hi] for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(),
                                             strict=True) if hi - lo >= 2]
    for batch in _batches(list(range(len(groups))), groups, col.lens, budget):
        seqs = np.sort(np.concatenate([groups[g] for g in batch]))
        docs = col.read(seqs)
        ids, _ = col.texts(seqs)
        at = {s: i for i, s in enumerate(seqs.tolist())}
        for group in (groups[g] for g in batch):
            members = sorted((at[s] for s in group.tolist()), key=ids.__getitem__)
            lead = members[0]
            first = slice(docs.offsets[lead], docs.offsets[lead + 1])
            for d in members[1:]:
                other = slice(docs.offsets[d], docs.offsets[d + 1])
                if (np.array_equal(docs.terms[first], docs.terms[other])
                        and np.array_equal(docs.tf[first], docs.tf[other])):
                    rep[seqs[d]] = seqs[lead]
    kept = rep == np.arange(n)
    # Statistics over distinct articles: take the copies' terms out again.
    copies = np.flatnonzero(~kept)
    for seqs in _chunked(copies, col.lens, budget):
        df_all -= np.bincount(col.read(seqs, sort=False).terms, minlength=n_terms)
    return rep, _Stats.of(df_all, int(np.count_nonzero(kept)), dates[kept & (dates >= 0)])


def _chunked(seqs: np.ndarray, lens: np.ndarray, budget: int) -> Iterator[np.ndarray]:
    ends = np.cumsum(lens[seqs], dtype=np.int64)
    start = 0
    while start < len(seqs):
        stop = max(start + 1, int(np.searchsorted(ends, ends[start] - lens[seqs[start]] + budget,
                                                  side="right")))
        yield seqs[start:stop]
        start = stop


def _key_sizes(col: _Spooled, rep: np.ndarray, stats: _Stats, budget: int) -> np.ndarray:
    """How many dated distinct articles have each term as a key term."""
    sizes = np.zeros(col.n_terms, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    for seqs in col.chunks(budget):
        docs = col.read(seqs)
        kept = rep[seqs] == seqs
        m = _weigh(docs.offsets, docs.terms, docs.tf, docs.keys, docs.doc_of, docs.dates, kept,
                   stats, empty, empty, rules=False)
        chosen = _key_entries(docs.doc_of, docs.terms, m.weights, kept[docs.doc_of], stats)
        chosen = chosen[docs.dates[docs.doc_of[chosen]] >= 0]
        sizes += np.bincount(docs.terms[chosen], minlength=col.n_terms)
    return sizes


def _pairs(col: _Spooled, rep: np.ndarray, stats: _Stats, sizes: np.ndarray,
           budget: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of articles that passes the similarity rules, with its cosine, found window
    by window in date order (article numbers, smaller first)."""
    dated = np.flatnonzero(col.dates >= 0)
    by_date = dated[np.argsort(col.dates[dated], kind="stable")]
    day = col.dates[by_date].astype(np.int64)
    ends = np.concatenate([[0], np.cumsum(col.lens[by_date], dtype=np.int64)])
    days = np.unique(day).tolist()
    found_a, found_b, found_sims = [], [], []
    empty = np.zeros(0, dtype=np.int64)
    i = 0
    while i < len(days):
        # Own the days [first, last], as many as fit with the WINDOW_DAYS on either side.
        lo = int(np.searchsorted(day, days[i] - WINDOW_DAYS))
        j = i
        while j + 1 < len(days):
            hi = int(np.searchsorted(day, days[j + 1] + WINDOW_DAYS, side="right"))
            if ends[hi] - ends[lo] > budget:
                break
            j += 1
        first, last = days[i], days[j]
        hi = int(np.searchsorted(day, last + WINDOW_DAYS, side="right"))
        i = j + 1
        seqs = np.sort(by_date[lo:hi])
        docs = col.read(seqs)
        kept = rep[seqs] == seqs
        m = _weigh(docs.offsets, docs.terms, docs.tf, docs.keys, docs.doc_of, docs.dates, kept,
                   stats, empty, empty)
        a, b = _candidate_pairs(m, docs.dates, keep=kept, sizes=sizes)
        later = np.maximum(docs.dates[a], docs.dates[b])
        own = (later >= first) & (later <= last)  # the other windows find the others
        a, b = a[own], b[own]
        if not len(a):
            continue
        _, found = col.texts(seqs)
        names = _Names(found, col.vocab, None, docs.dates, m)
        said = _said(found)
        same, sims = _passing(m, a, b, docs.dates, said, names.content_weights())
        found_a.append(seqs[a[same]])
        found_b.append(seqs[b[same]])
        found_sims.append(sims[same])
    if not found_a:
        return empty, empty, np.zeros(0)
    return np.concatenate(found_a), np.concatenate(found_b), np.concatenate(found_sims)


def _stories(col: _Spooled, rep: np.ndarray, stats: _Stats, a: np.ndarray, b: np.ndarray,
             sims: np.ndarray, budget: int) -> dict[str, str]:
    """Merge the passing pairs as ``cluster`` does, one connected component of them at a
    time (see the module docstring), and name the stories."""
    # cluster()'s order: strongest first, ties by the pair's article numbers.
    order = np.lexsort((b, a, -sims))
    a, b = a[order], b[order]
    del order, sims
    # Connected components of the passing pairs.
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[ry] = rx
    component = np.fromiter((find(x) for x in a.tolist()), dtype=np.int64, count=len(a))
    by_component = np.argsort(component, kind="stable")  # each component's pairs in order
    bounds = np.flatnonzero(np.diff(component[by_component])) + 1
    pair_groups = np.split(by_component, bounds) if len(a) else []
    doc_groups = [np.unique(np.concatenate([a[g], b[g]])) for g in pair_groups]
    stories: dict[str, str] = {}
    empty = np.zeros(0, dtype=np.int64)
    for batch in _batches(list(range(len(doc_groups))), doc_groups, col.lens, budget):
        seqs = np.unique(np.concatenate([doc_groups[c] for c in batch]))
        docs = col.read(seqs)
        ids, found = col.texts(seqs)
        m = _weigh(docs.offsets, docs.terms, docs.tf, docs.keys, docs.doc_of, docs.dates,
                   rep[seqs] == seqs, stats, empty, empty, rules=False)
        names = _Names(found, col.vocab, None, docs.dates, m)
        pairs = np.concatenate([pair_groups[c] for c in batch])
        joined = _join(np.searchsorted(seqs, a[pairs]).tolist(),
                       np.searchsorted(seqs, b[pairs]).tolist(), m, names, docs.dates, ids,
                       _said(found), names.content_weights())
        groups: dict[int, list[int]] = defaultdict(list)
        for d in range(len(seqs)):
            groups[_root(joined, d)].append(d)
        for group in groups.values():
            if len(group) < 2:
                continue
            earliest = min(group, key=lambda d: (docs.dates[d], ids[d]))
            for d in group:
                stories[ids[d]] = ids[earliest]
    # A copy joins whatever story its first copy is in (the first copy's id sorts before its
    # copies', so it never names the story): with none, the copies are its story.
    copies = np.flatnonzero(rep != np.arange(col.n))
    if len(copies):
        originals = rep[copies]
        wanted = np.unique(np.concatenate([copies, originals]))
        ids, _ = col.texts(wanted)
        id_of = dict(zip(wanted.tolist(), ids, strict=True))
        for copy, original in zip(copies.tolist(), originals.tolist(), strict=True):
            first = id_of[original]
            stories[id_of[copy]] = stories.setdefault(first, first)
    return stories
