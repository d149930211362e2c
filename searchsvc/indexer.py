"""Building the index: full builds beside the old index with an atomic swap, ``--update``, the lock.

Layout of the index directory::

    index/
      .lock                  flock()ed by the one build allowed at a time (released by the kernel
                             if the build dies, so a killed build never leaves a stale lock)
      current -> gen-…       symlink to the generation being served; replaced atomically
      gen-20261121T1330-…/   a complete Whoosh index plus build.json
      gen-….tmp/             a build in progress (removed by the next build if it was killed)

A full build writes a new generation, then points ``current`` at it with one ``rename()``, so a
reader sees either the old index or the new one, never a partial one. ``--update`` hard-links the
current generation into a new one (Whoosh never modifies a segment file after writing it) and
applies deletions and additions there, then swaps the same way. The two most recent older
generations are kept so searchers that are still open on them finish their requests.

Large builds are split across worker processes: each forked worker inherits its share of the
parsed articles (no pickling; text files it reads itself) and writes one Whoosh segment with its
own posting encoder; the parent then commits one table of contents listing all segments. This is
Whoosh's own ``MpWriter(multisegment=True)`` strategy without its per-document pickling through
temporary files. Workers send their term counts before writing their segments, so the parent
clusters stories while they write.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import gc
import hashlib
import json
import multiprocessing
import os
import pickle
import queue
import shutil
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from operator import sub
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3TermInfo
from whoosh.filedb.filetables import _lengths as _KEY_VALUE_LENGTHS
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from searchsvc.articles import (
    Article,
    Problem,
    collect,
    iter_files,
    read_jsonl_file,
    read_sources,
    read_text_file,
    text_id,
)
from searchsvc.schema import NewsAnalyzer, analyze, build_schema, decode_meta, document, words
from searchsvc.stories import DocTerms, TermTable, cluster

CURRENT = "current"
LOCK = ".lock"
BUILD_INFO = "build.json"
VOCABULARY = "vocabulary.json"
STORIES = "stories.json"
KEEP_OLD = 2
PARALLEL_MIN_ARTICLES = 2000

Progress = Callable[[str, int, int], None]


class BuildError(Exception):
    """A build that did not happen; the index being served is unchanged."""

    exit_code = 1


class LockedError(BuildError):
    pass


class UsageError(BuildError):
    exit_code = 2


@dataclass
class BuildReport:
    mode: str
    indexed: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    generation: str | None = None
    documents: int = 0

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.skipped]

    def to_dict(self) -> dict:
        return {
            "mode": self.mode, "indexed": self.indexed, "updated": self.updated,
            "removed": self.removed, "unchanged": self.unchanged, "documents": self.documents,
            "seconds": round(self.seconds, 3), "generation": self.generation,
            "skipped": [{"path": p.path, "line": p.line, "reason": p.reason}
                        for p in self.skipped],
            "warnings": [{"path": p.path, "line": p.line, "reason": p.reason}
                         for p in self.warnings],
        }


# -- locating generations ------------------------------------------------------------------------


def current_generation(index_dir: Path | str) -> Path | None:
    """The directory of the generation being served, or None if there is no built index."""
    link = Path(index_dir) / CURRENT
    try:
        target = os.readlink(link)
    except OSError:
        return None
    path = Path(index_dir) / target
    return path if path.is_dir() else None


def read_build_info(generation: Path) -> dict:
    try:
        return json.loads((generation / BUILD_INFO).read_text("utf-8"))
    except (OSError, ValueError):
        return {}


# -- the lock --------------------------------------------------------------------------------------


_HELD_LOCKS: set[int] = set()


def _detach_from_parent(parent: int) -> None:
    """In a forked build worker: let the lock go with the parent, and die with it.

    A forked child shares the parent's open lock file, so it would hold the flock after the
    parent is killed; closing its copy leaves the parent's as the only one. PR_SET_PDEATHSIG
    makes the kernel kill the worker if the parent dies, instead of it writing on for nobody.
    """
    for fd in list(_HELD_LOCKS):
        os.close(fd)
    _HELD_LOCKS.clear()
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    except (OSError, AttributeError):
        pass


class BuildLock:
    """An exclusive, non-blocking flock on ``index/.lock``; the holder's pid is written into it."""

    def __init__(self, index_dir: Path):
        self.path = index_dir / LOCK
        self.fd: int | None = None

    def __enter__(self) -> BuildLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BuildError(f"cannot use {self.path.parent} as an index directory: "
                             f"{_describe_os_error(exc)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            raise LockedError(
                f"another build is running on {self.path.parent} ({holder or 'unknown holder'});"
                " try again when it has finished") from None
        _HELD_LOCKS.add(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {dt.datetime.now():%Y-%m-%d %H:%M:%S}".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            _HELD_LOCKS.discard(self.fd)
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _clean_stale(index_dir: Path) -> None:
    """Remove what killed builds left behind and generations no reader can still be using."""
    current = current_generation(index_dir)
    gens = sorted(p for p in index_dir.glob("gen-*") if p.is_dir() and not p.name.endswith(".tmp"))
    old = [g for g in gens if current is None or g.resolve() != current.resolve()]
    for stale in list(index_dir.glob("gen-*.tmp")) + old[:-KEEP_OLD]:
        shutil.rmtree(stale, ignore_errors=True)
    for leftover in index_dir.glob(CURRENT + ".*.new"):
        leftover.unlink(missing_ok=True)


def _swap(index_dir: Path, generation: Path) -> None:
    tmp_link = index_dir / f"{CURRENT}.{os.getpid()}.new"
    tmp_link.unlink(missing_ok=True)
    os.symlink(generation.name, tmp_link)
    os.replace(tmp_link, index_dir / CURRENT)
    _fsync_dir(index_dir)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_generation_dir(index_dir: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    path = index_dir / f"gen-{stamp}-{os.getpid()}.tmp"
    path.mkdir(parents=True)
    return path


def _finish_generation(index_dir: Path, tmp: Path, info: dict) -> Path:
    (tmp / BUILD_INFO).write_text(json.dumps(info, indent=2), "utf-8")
    final = tmp.with_name(tmp.name[: -len(".tmp")])
    os.rename(tmp, final)
    _swap(index_dir, final)
    return final


def _describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write ({exc.filename or 'index directory'})"
    return exc.strerror or str(exc)


# -- writing -------------------------------------------------------------------------------------


class _FastSegmentWriter(SegmentWriter):
    """Whoosh's SegmentWriter for fresh segments, with its posting pool kept in memory.

    Whoosh's ``PostingPool`` pickles every posting into size-limited sorted runs on disk and
    merges them back, and its flush looks up each posting's field length through the column
    files. For a build that fits in memory (one worker's share of a corpus) both are pure
    overhead: here postings are appended to per-term lists (docnums arrive in increasing order,
    so the lists are already sorted) and field lengths are remembered as documents are added.
    Text fields are analysed once per document for both their postings and the spelling
    vocabulary. The segment files are the same codec's, in the same format.
    """

    def __init__(self, ix, **kwargs):
        # compression=0: Whoosh zlib-compresses every posting block, even the one-posting
        # blocks of rare terms (its "too small to compress" check is overwritten on the next
        # line of _write_block); that was ~10% of a worker's time for a modestly larger file.
        super().__init__(ix, _lk=False, compound=False, codec=W3Codec(compression=0),
                         **kwargs)
        # field → term → postings. Text terms are kept as str (UTF-8 byte order is code-point
        # order, so they sort the same) and encoded once at flush time.
        self._terms: dict[str, dict[str | bytes, list]] = defaultdict(dict)
        self._lengths: dict[str, dict[int, int]] = defaultdict(dict)
        self.vocabulary: Counter = Counter()
        self._single: dict[int, bytes] = {}
        self._indexed_values: dict[tuple, list] = {}

    def add_document(self, **fields):
        perdoc = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        terms = self._terms
        doc_words: set[str] = set()
        analysed: list[dict[str, list[int]]] = []
        perdoc.start_doc(docnum)
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed and isinstance(field.analyzer, NewsAnalyzer):
                poses, found = analyze(value)
                analysed.append(poses)
                doc_words |= found
                encode = field.format.encode
                single = self._single
                field_terms = terms[fieldname]
                for term, poslist in poses.items():
                    freq = len(poslist)
                    if freq == 1:  # most postings: their encoding is memoised
                        vbytes = single.get(poslist[0])
                        if vbytes is None:
                            vbytes = single[poslist[0]] = encode(poslist)
                    else:
                        vbytes = encode(poslist)
                    posting = (docnum, float(freq), vbytes)
                    found_list = field_terms.get(term)
                    if found_list is None:
                        field_terms[term] = [posting]
                    else:
                        found_list.append(posting)
                    length += freq
                self._lengths[fieldname][docnum] = length
            elif field.indexed:
                field_terms = terms[fieldname]
                for tbytes, freq, weight, vbytes in self._index_value(fieldname, field, value):
                    field_terms.setdefault(tbytes, []).append((docnum, weight, vbytes))
                    length += freq
                if field.scorable:
                    self._lengths[fieldname][docnum] = length
                else:
                    length = 0
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type,
                                        field.to_column_value(value))
        perdoc.finish_doc()
        self.vocabulary.update(doc_words)
        # Term frequencies over all text fields, for story clustering.
        doc_tf = {term: len(p) for term, p in analysed[0].items()} if analysed else {}
        for poses in analysed[1:]:
            for term, p in poses.items():
                doc_tf[term] = doc_tf.get(term, 0) + len(p)
        self.last_tf = doc_tf
        self._added = True
        self.docnum += 1

    def _index_value(self, fieldname: str, field, value) -> list:
        """``field.index(value)``, remembered for repeated values: dates and facet values
        repeat across articles, and a DATETIME value alone is eight tiered terms to compute."""
        if field.unique:  # ids: never repeated
            return list(field.index(value))
        key = (fieldname, tuple(value) if isinstance(value, list) else value)
        found = self._indexed_values.get(key)
        if found is None:
            if len(self._indexed_values) > 100_000:
                self._indexed_values.clear()
            found = self._indexed_values[key] = list(field.index(value))
        return found

    def _flush_segment(self):
        self.perdocwriter.close()
        fw = self.fieldwriter
        postfile = fw._postfile
        offset = postfile.tell()
        limit = fw._codec._blocklimit
        rows: list[tuple[bytes, bytes]] = []
        for fieldname in sorted(self._terms):
            field_terms = self._terms[fieldname]
            if not field_terms:
                continue
            fieldobj = self.schema[fieldname]
            fw.start_field(fieldname, fieldobj)
            prefix = pack_ushort(fw._fieldid)
            lengths = self._lengths.get(fieldname, {})
            fixed = fieldobj.format.fixed_value_size()
            chunks = []
            for term in sorted(field_terms):
                data, info = _encode_postings(field_terms[term], lengths, fixed, limit, offset)
                chunks.append(data)
                offset += len(data)
                rows.append((prefix + (term.encode("utf-8") if isinstance(term, str) else term),
                             info))
            postfile.write(b"".join(chunks))
            fw.finish_field()
        _add_term_rows(fw._tindex, rows)
        fw.close()
        # The posting pool is not cleared: this writer's worker exits next, and freeing
        # millions of tuples one by one took longer than writing them.


@dataclass
class _Built:
    """What writing a set of articles produced (one worker's share, or a whole build)."""

    vocabulary: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    documents: int = 0
    doc_terms: TermTable = field(default_factory=TermTable)
    segment: object = None
    stories: dict[str, str] | None = None  # when already clustered (parallel builds)

    def add(self, other: _Built) -> None:
        self.vocabulary.update(other.vocabulary)
        self.problems.extend(other.problems)
        self.documents += other.documents
        self.doc_terms.merge(other.doc_terms)


def _encode_postings(postings: list[tuple[int, float, bytes]], lengths: dict[int, int],
                     fixed: int | None, limit: int, offset: int) -> tuple[bytes, bytes]:
    """One term's postings in Whoosh's W3 format: (its bytes in the postings file, its terminfo).

    The same blocks and statistics as ``W3PostingsWriter`` fed one ``add_posting`` at a time
    and ``W3TermInfo.to_bytes`` (uncompressed blocks), without a Python call, type assertion
    and file write per posting: at ~50,000 terms per worker those were a third of a build.
    """
    count = len(postings)
    if count == 1:  # most terms: the general loop below, specialised
        docnum, weight, value = postings[0]
        length = lengths.get(docnum, 0)
        packed = array("f", (weight,))[0]
        if fixed is None or fixed < 0:
            mini_values = (value,) if value else ()
        else:
            mini_values = None if fixed == 0 else value
        data = pickle.dumps(((docnum,), None if packed == 1.0 else packed, mini_values), 2)
        info = pickle.dumps((1, docnum, weight, 0, length_to_byte(length),
                             length_to_byte(length)), 2)
        body = b"".join((WHOOSH3_HEADER_MAGIC, pack_int(-len(info) - len(data)), info, data))
        terminfo = W3TermInfo._struct.pack(
            0, packed, 1, length_to_byte(length), length_to_byte(length),
            max(0.0, weight), docnum, docnum) + pack_long(offset) + pack_int(len(body))
        return body, terminfo
    parts = [WHOOSH3_HEADER_MAGIC]
    total_weight = 0.0
    min_length: int | None = None
    max_length = 0
    max_weight = 0.0
    for start in range(0, count, limit):
        ids, weights, values = zip(*postings[start:start + limit], strict=True)
        packed = array("f", weights)  # Whoosh keeps weights as float32
        total_weight += sum(packed)
        block_max = max(weights)
        max_weight = max(max_weight, block_max)
        block_lengths = list(map(lengths.get, ids, repeat(0)))
        present = list(filter(None, block_lengths))
        block_min = min(present) if present else None
        if block_min is not None:
            min_length = block_min if min_length is None else min(min_length, block_min)
        max_length = max(max_length, max(block_lengths))
        if packed.count(1.0) == len(packed):
            mini_weights = None
        elif packed.count(packed[0]) == len(packed):
            mini_weights = packed[0]
        else:
            mini_weights = tuple(packed)
        if fixed is None or fixed < 0:
            mini_values = tuple(filter(None, values))
        elif fixed == 0:
            mini_values = None
        else:
            mini_values = b"".join(values)
        deltas = tuple(map(sub, ids, (0,) + ids[:-1]))
        data = pickle.dumps((deltas, mini_weights, mini_values), 2)
        info = pickle.dumps((len(ids), ids[-1], block_max, 0, length_to_byte(block_min),
                             length_to_byte(max(block_lengths))), 2)
        size = len(info) + len(data)
        parts += [pack_int(-size if start + limit >= count else size), info, data]
    body = b"".join(parts)
    terminfo = W3TermInfo._struct.pack(
        0, total_weight, count, 0 if min_length is None else length_to_byte(min_length),
        length_to_byte(max_length), max_weight, postings[0][0], postings[-1][0],
    ) + pack_long(offset) + pack_int(len(body))
    return body, terminfo


def _add_term_rows(tindex, rows: list[tuple[bytes, bytes]]) -> None:
    """``OrderedHashWriter.add`` for every (key, terminfo) row, keys in order, in one write."""
    if tindex.hashtype != 0:  # not the MD5 hash this shortcut computes
        for key, value in rows:
            tindex.add(key, value)
        return
    dbfile = tindex.dbfile
    pos = dbfile.tell()
    buckets = tindex.buckets
    index = tindex.index
    records = []
    for key, value in rows:
        index.append(pos)
        record = _KEY_VALUE_LENGTHS.pack(len(key), len(value)) + key + value
        records.append(record)
        # filetables.md5_hash: the low 32 bits of the key's MD5
        h = int.from_bytes(hashlib.md5(key).digest()[12:], "big")
        buckets[h & 255].append((h, pos))
        pos += len(record)
    dbfile.write(b"".join(records))
    if rows:
        tindex.lastkey = rows[-1][0]


# Work for the forked workers: set just before fork, inherited copy-on-write.
_WORK: list[Article | tuple[Path, str]] = []


def _load(item: Article | tuple[Path, str], max_bytes: int) -> Iterator[Article | Problem]:
    """An article already parsed (JSONL, read by the parent), or a text file to read here."""
    if isinstance(item, Article):
        yield item
    else:
        yield from read_text_file(item[0], item[1], max_bytes)


def _write_slice(gen_dir: str, start: int, step: int, max_bytes: int, counter, results,
                 parent: int) -> None:
    _detach_from_parent(parent)
    # A worker allocates millions of small tuples and frees none until it exits: the cyclic
    # collector would rescan them over and over, and finding no garbage.
    gc.disable()
    try:
        ix = whoosh_index.open_dir(gen_dir)
        writer = _FastSegmentWriter(ix)
        problems: list[Problem] = []
        doc_terms = TermTable()
        for n, item in enumerate(_WORK[start::step], start=1):
            for got in _load(item, max_bytes):
                if isinstance(got, Problem):
                    problems.append(got)
                else:
                    writer.add_document(**document(got))
                    doc_terms.add(got.id, _ordinal(got), writer.last_tf)
            if n % 200 == 0:
                with counter.get_lock():
                    counter.value += 200
        # The term counts go first: the parent clusters stories while workers write segments.
        results.put(("terms", start, doc_terms))
        # Whoosh's MpWriter does the same: finish this worker's segment and hand the segment
        # object to the parent, which lists every worker's segment in one table of contents.
        segment = writer._finalize_segment()
        results.put(("ok", start, _Built(writer.vocabulary, problems, writer.docnum,
                                         segment=segment)))
        results.close()
        results.join_thread()
        os._exit(0)  # the result is sent; freeing the posting pool object by object is waste
    except BaseException as exc:  # reported to the parent, which fails the build
        if isinstance(exc, OSError):
            reason = f"build failed, index unchanged: {_describe_os_error(exc)}"
        else:
            reason = f"an indexing worker failed: {type(exc).__name__}: {exc}"
        results.put(("error", start, reason))
        results.close()
        results.join_thread()
        os._exit(1)  # the parent reports it; no worker traceback on the terminal


def _write_parallel(gen_dir: Path, work: list, procs: int, max_bytes: int,
                    progress: Progress | None) -> _Built:
    global _WORK
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    results = ctx.Queue()
    _WORK = work
    tables: dict[int, TermTable] = {}
    finished: dict[int, _Built] = {}
    built = _Built()
    try:
        workers = [ctx.Process(target=_write_slice,
                               args=(str(gen_dir), i, procs, max_bytes, counter, results,
                                     os.getpid()),
                               daemon=True) for i in range(procs)]
        for w in workers:
            w.start()
        while len(finished) < procs:
            try:
                status, worker, payload = results.get(timeout=0.2)
            except queue.Empty:
                if progress:
                    progress("index", min(counter.value, len(work)), len(work))
                if any(w.exitcode not in (None, 0) for w in workers) and results.empty():
                    raise BuildError("an indexing worker died") from None
                continue
            if status == "error":
                raise BuildError(payload)
            if status == "terms":
                tables[worker] = payload
                if len(tables) == procs:  # in worker order, so every build numbers alike
                    for i in sorted(tables):
                        built.doc_terms.merge(tables.pop(i))
                    built.stories = cluster(built.doc_terms)
            else:
                finished[worker] = payload
        for w in workers:
            w.join()
    finally:
        _WORK = []
    # Segments in worker order: the same documents get the same numbers in every build.
    segments = [finished[i].segment for i in sorted(finished) if finished[i].documents]
    for i in sorted(finished):
        built.add(finished[i])
    ix = whoosh_index.open_dir(str(gen_dir))
    writer = SegmentWriter(ix)
    # A fresh index has no segments of its own: commit a TOC that lists the workers' segments.
    writer._close_segment()
    writer._commit_toc(segments)
    writer._finish()
    return built


def _add_articles(writer, articles: Iterable[Article], vocabulary: Counter,
                  tick: Callable[[int], None]) -> list[DocTerms]:
    doc_terms = []
    for n, article in enumerate(articles, start=1):
        writer.add_document(**document(article))
        doc_terms.append(_doc_terms(article.id, article.date, article.title, article.body,
                                    vocabulary))
        if n % 200 == 0:
            tick(n)
    return doc_terms


def _ordinal(article: Article) -> int | None:
    return article.date.toordinal() if article.date else None


def _doc_terms(article_id: str, date: dt.date | int | None, title: str, body: str,
               vocabulary: Counter | None = None) -> DocTerms:
    poses, found = analyze(f"{title}\n{body}")
    if vocabulary is not None:
        vocabulary.update(found)
    ordinal = date.toordinal() if isinstance(date, dt.date) else date
    return DocTerms(article_id, ordinal, {t: len(p) for t, p in poses.items()})


def _write_serial(gen_dir: Path, articles: list[Article], progress: Progress | None) -> _Built:
    ix = whoosh_index.open_dir(str(gen_dir))
    writer = ix.writer(limitmb=256)
    built = _Built(documents=len(articles))
    try:
        built.doc_terms = TermTable.of(_add_articles(
            writer, articles, built.vocabulary,
            lambda n: progress and progress("index", n, len(articles))))
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    return built


def write_stories(generation: Path,
                  doc_terms: list[DocTerms] | TermTable | dict[str, str]) -> None:
    """Cluster ``doc_terms`` (or take the article id → story id map already made) and save."""
    stories = doc_terms if isinstance(doc_terms, dict) else cluster(doc_terms)
    (generation / STORIES).write_text(json.dumps(stories, separators=(",", ":")), "utf-8")


def read_stories(generation: Path) -> dict[str, str]:
    """article id → story id for the articles that share a story with another."""
    try:
        return json.loads((generation / STORIES).read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def write_vocabulary(generation: Path, vocabulary: Counter) -> None:
    """The spelling source: every distinct unstemmed word with its document frequency."""
    items = sorted((w, n) for w, n in vocabulary.items() if n > 0)
    data = {"words": [w for w, _ in items], "df": [n for _, n in items]}
    (generation / VOCABULARY).write_text(json.dumps(data, separators=(",", ":")), "utf-8")


def read_vocabulary(generation: Path) -> Counter:
    try:
        data = json.loads((generation / VOCABULARY).read_text("utf-8"))
    except (OSError, ValueError):
        return Counter()
    return Counter(dict(zip(data["words"], data["df"], strict=True)))


def plan(sources: Iterable[Path], max_bytes: int) -> tuple[list, list[Problem]]:
    """What a full build will index, without reading text files yet (workers read them).

    JSONL files are parsed here (one fast pass; their ids are inside). Text-file ids come from
    paths, so duplicates are resolved now: the later source wins, as in :func:`collect`.
    """
    items: dict[str, Article | tuple[Path, str]] = {}
    problems: list[Problem] = []
    for source in sources:
        for found in iter_files(Path(source)):
            if isinstance(found, Problem):
                problems.append(found)
                continue
            path, root = found
            if path.name.endswith(".txt"):
                entries: Iterable = [(path, text_id(path, root))]
            else:
                entries = read_jsonl_file(path, max_bytes)
            for entry in entries:
                if isinstance(entry, Problem):
                    problems.append(entry)
                    continue
                key = entry.id if isinstance(entry, Article) else entry[1]
                if key in items and not isinstance(entry, Article):
                    # A duplicate: read the later file now, so a bad one cannot displace a
                    # good article with the same id.
                    parsed = list(read_text_file(entry[0], key, max_bytes))
                    problems.extend(p for p in parsed if isinstance(p, Problem))
                    good = [a for a in parsed if isinstance(a, Article)]
                    if not good:
                        continue
                    entry = good[0]
                earlier = items.pop(key, None)
                if earlier is not None:
                    where = earlier.path if isinstance(earlier, Article) else str(earlier[0])
                    here = entry.path if isinstance(entry, Article) else str(entry[0])
                    problems.append(Problem(
                        here, f"duplicate id {key!r}: replaces the article from {where}",
                        skipped=False))
                items[key] = entry
    return list(items.values()), problems


def _read(sources: Iterable[Path | str], max_bytes: int,
          progress: Progress | None) -> tuple[dict[str, Article], list[Problem]]:
    def counted():
        for n, item in enumerate(read_sources(sources, max_bytes), start=1):
            if progress and n % 1000 == 0:
                progress("read", n, 0)
            yield item
    return collect(counted())


def build(index_dir: Path | str, sources: Iterable[Path | str], *, update: bool = False,
          strict: bool = False, max_bytes: int = 10 * 1024 * 1024, procs: int = 2,
          progress: Progress | None = None) -> BuildReport:
    """Build (or ``update``) the index in ``index_dir`` from ``sources``.

    Raises :class:`BuildError` (and leaves the served index untouched) when the build cannot be
    done: another build holds the lock, ``strict`` and a file was skipped, a write failed.
    """
    index_dir = Path(index_dir)
    sources = [Path(s) for s in sources]
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        # A mistyped path must not replace the served index with an empty one.
        raise UsageError(f"no such source: {', '.join(missing)}; index unchanged")
    started = time.perf_counter()
    with BuildLock(index_dir):
        _clean_stale(index_dir)
        previous = current_generation(index_dir)
        update = update and previous is not None
        report = BuildReport(mode="update" if update else "full")
        if update:
            articles, report.problems = _read(sources, max_bytes, progress)
        else:
            work, report.problems = plan(sources, max_bytes)
        _check_strict(strict, report)
        if update and _nothing_changed(previous, articles, report):
            # Nothing to write: the served generation stays (searchers keep their caches).
            report.seconds = time.perf_counter() - started
            report.generation = previous.name
            return report
        try:
            tmp = _new_generation_dir(index_dir)
        except OSError as exc:
            raise BuildError(f"build failed, index unchanged: {_describe_os_error(exc)}") from None
        try:
            if update:
                _apply_update(previous, tmp, articles, report, progress)
            else:
                whoosh_index.create_in(str(tmp), build_schema())
                if procs > 1 and len(work) >= PARALLEL_MIN_ARTICLES:
                    built = _write_parallel(tmp, work, procs, max_bytes, progress)
                else:
                    articles, late = collect(a for item in work for a in _load(item, max_bytes))
                    built = _write_serial(tmp, list(articles.values()), progress)
                    built.problems = late
                report.indexed = built.documents
                report.problems.extend(built.problems)
                _check_strict(strict, report)
                if not built.documents and report.skipped and previous is not None:
                    raise BuildError(f"every article was skipped ({len(report.skipped)} "
                                     "problems); the served index is left as it was:\n"
                                     + "\n".join(f"  {p}" for p in report.skipped[:20]))
                write_vocabulary(tmp, built.vocabulary)
                write_stories(tmp, built.doc_terms if built.stories is None
                              else built.stories)
            report.documents = whoosh_index.open_dir(str(tmp)).doc_count()
            report.seconds = time.perf_counter() - started
            info = {
                "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "seconds": round(report.seconds, 3),
                "sources": [str(s) for s in sources],
                "documents": report.documents,
                "mode": report.mode,
                "skipped": len(report.skipped),
            }
            final = _finish_generation(index_dir, tmp, info)
            report.generation = final.name
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BuildError(f"build failed, index unchanged: {_describe_os_error(exc)}") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _clean_stale(index_dir)
    return report


def _check_strict(strict: bool, report: BuildReport) -> None:
    if strict and report.skipped:
        raise BuildError(f"--strict: {len(report.skipped)} file(s) skipped, index unchanged:\n"
                         + "\n".join(f"  {p}" for p in report.skipped))


def _link_copy(src: Path, dst: Path) -> None:
    for entry in src.iterdir():
        if entry.is_file() and entry.name not in (BUILD_INFO, VOCABULARY, STORIES):
            try:
                os.link(entry, dst / entry.name)
            except OSError:
                shutil.copy2(entry, dst / entry.name)


def indexed_hashes(ix) -> dict[str, str]:
    """id → content hash of every live document, read from columns (no stored-field reads)."""
    with ix.reader() as reader:
        if not reader.doc_count_all():
            return {}
        ids = reader.column_reader("id")
        metas = reader.column_reader("meta")
        return {ids[d]: decode_meta(metas[d])["h"] for d in reader.all_doc_ids()}


def _nothing_changed(previous: Path, articles: dict[str, Article], report: BuildReport) -> bool:
    old = indexed_hashes(whoosh_index.open_dir(str(previous)))
    if old.keys() != articles.keys() or any(old[i] != a.content_hash
                                            for i, a in articles.items()):
        return False
    report.unchanged = report.documents = len(articles)
    return True


def _apply_update(previous: Path, tmp: Path, articles: dict[str, Article], report: BuildReport,
                  progress: Progress | None) -> None:
    _link_copy(previous, tmp)
    ix = whoosh_index.open_dir(str(tmp))
    old = indexed_hashes(ix)
    removed = [i for i in old if i not in articles]
    changed = [a for i, a in articles.items() if i in old and old[i] != a.content_hash]
    added = [a for i, a in articles.items() if i not in old]
    report.removed, report.updated, report.indexed = len(removed), len(changed), len(added)
    report.unchanged = len(articles) - len(changed) - len(added)
    vocabulary = read_vocabulary(previous)
    if removed or changed or added:
        with ix.searcher() as searcher:
            for article_id in removed + [a.id for a in changed]:
                old = searcher.document(id=article_id) or {}
                vocabulary.subtract(words(old.get("title", "")) | words(old.get("body", "")))
        writer = ix.writer(limitmb=256)
        try:
            for article_id in removed:
                writer.delete_by_term("id", article_id)
            _add_articles(writer, _updating(writer, changed) + added, vocabulary,
                          lambda n: progress and progress("index", n, len(changed) + len(added)))
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
    write_vocabulary(tmp, vocabulary)
    # Stories are recomputed over the whole collection: a new article can join an old story.
    write_stories(tmp, _all_doc_terms(whoosh_index.open_dir(str(tmp))))


def _all_doc_terms(ix) -> list[DocTerms]:
    with ix.searcher() as searcher:
        reader = searcher.reader()
        metas = reader.column_reader("meta")
        return [_doc_terms(stored["id"], decode_meta(metas[d])["d"], stored.get("title", ""),
                           stored.get("body", ""))
                for d, stored in reader.iter_docs()]


def _updating(writer, changed: list[Article]) -> list[Article]:
    for article in changed:
        writer.delete_by_term("id", article.id)
    return changed
