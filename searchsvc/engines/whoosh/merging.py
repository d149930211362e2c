"""Merging segments by copying their postings, as Lucene merges: no article is read again.

A merge writes one segment holding the live documents of several, in their order (so every
document keeps its place relative to the others). Everything is taken from the segments as
written, one term at a time:

* a text term's array records (``codec``) are concatenated — documents renumbered, term
  frequencies and positions copied — and a term only one segment has is copied as it is,
  its document numbers shifted;
* a keyword, id or date term's W3 blocks are read back (an id's term info already holds its
  one document) and written again as ``segments._encode_postings`` writes any term;
* a text term found in one segment without deletions (most terms) is copied whole, its
  statistics taken from its term info and its document numbers shifted;
* each document's stored fields are copied as Whoosh compressed them, field lengths go
  through Whoosh's per-document writer, and the array pack (dates, lengths, facets, stories,
  ids, hashes, origins, lexicons) is concatenated as arrays — strings as bytes, facet value
  numbers mapped onto the merged list of values — so no column becomes Python objects.

The terms of all the segments are walked in order together (``heapq.merge`` over each
segment's term dictionary), and a term's postings are read with plain file reads, not the
searcher's memory maps: a merge's memory is one term's postings and the merged term
dictionary Whoosh keeps until the segment is closed, not the segments' files.

A merge is one term after another in Python, so a large one (a full build's, of two workers'
segments) splits the fields: a forked helper merges every field after ``body`` in name order
into files of its own while the merging process merges ``body``; the merging process then
appends the helper's postings and adds its term rows, their postings' offsets moved by where
the helper's postings now start. Fields are written in name order either way, so the segment
is byte for byte the one a single process writes.

What used to be the only merge — rebuilding each article from its stored fields and analysing
its text again — cost about as much as indexing the articles; a build that flushed under its
memory budget could not afford to merge what it flushed, and a million-article archive was
served from 58 segments, each searched term by term. The old way stays for segments this
one cannot copy (:func:`can_copy`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import heapq
import itertools
import multiprocessing
import os
import pickle
import struct
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from whoosh.codec.whoosh3 import STORED_COLUMN, W3LeafMatcher, W3TermInfo
from whoosh.columns import VarBytesColumn
from whoosh.reading import SegmentReader
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from searchsvc.engine import FACETS, TEXT_FIELDS
from searchsvc.engines.whoosh.codec import (
    RECORD_HEAD,
    ArrayCodec,
    read_record_from,
    record_bytes,
)
from searchsvc.engines.whoosh.columns import SegmentData, segment_data
from searchsvc.engines.whoosh.forking import detach_from_parent
from searchsvc.engines.whoosh.packs import (
    Strings,
    concat_strings,
    pack_encoded_lexicon,
    pack_strings,
    story_key,
    write_pack,
)
from searchsvc.engines.whoosh.segments import (
    _KEY_VALUE_LENGTHS,
    PACK,
    FastSegmentWriter,
    _add_term_rows,
    _encode_postings,
)

ROWS_PER_WRITE = 65_536  # term dictionary rows gathered before they are written
READ_BYTES = 1 << 22  # a segment's term dictionary is read in pieces of this size
# A merge of this many documents or more has a helper process merge some of its fields.
HELPER_MIN_DOCS = 10_000
SPLIT_AFTER = "body"  # the last field (by name) the merging process merges itself
_TERMINFO = W3TermInfo._struct  # a W3 term info: its statistics, then where its postings are
_EXTENT = struct.Struct("!qi")  # whoosh.system's pack_long and pack_int: offset, length


@dataclass
class _Source:
    """One segment being merged: its reader, columns, which documents stay, their numbers."""

    reader: SegmentReader
    data: SegmentData
    keep: np.ndarray        # bool per document of the segment: live
    renumber: np.ndarray    # int64 per document: its number in the merged segment (-1: gone)
    base: int               # the merged number of the segment's first document
    whole: bool             # no deletions: renumbering is adding ``base``
    postings: IO[bytes]     # the segment's postings file, read with plain reads


def can_copy(ix, segments: Sequence) -> bool:
    """Whether :func:`merge` can copy these segments: array-codec segments with array packs,
    and a schema whose non-text fields keep no lengths and no columns (as
    ``schema.build_schema``'s)."""
    folder = Path(ix.storage.folder)
    for segment in segments:
        if not isinstance(segment.codec(), ArrayCodec) or \
                not (folder / segment.make_filename(PACK)).exists():
            return False
    for name, field in ix.schema.items():
        if field.column_type:
            return False
        if name not in TEXT_FIELDS and field.indexed and field.scorable:
            return False  # its lengths would have to be merged as the text fields' are
    return True


def merge(ix, segments: Sequence, stories: dict[str, str], helper: bool = False) -> object:
    """One new segment with the live documents of ``segments``, in order. Story ids in
    ``stories`` (the generation's overrides) are written into the merged segment and removed
    from ``stories``. With ``helper``, a merge of :data:`HELPER_MIN_DOCS` documents or more
    has a forked process merge some of the fields meanwhile (:class:`_Helper`). Returns the
    new segment (not yet in any table of contents)."""
    sources: list[_Source] = []
    base = 0
    try:
        for segment in segments:
            reader = SegmentReader(ix.storage, ix.schema, segment)
            try:
                n = segment.doc_count_all()
                keep = np.ones(n, bool)
                keep[list(segment.deleted_docs()) if segment.has_deletions() else []] = False
                renumber = np.full(n, -1, np.int64)
                renumber[keep] = base + np.arange(int(keep.sum()))
                postings = open(Path(ix.storage.folder) / segment.make_filename(".pst"), "rb")
            except BaseException:
                reader.close()
                raise
            sources.append(_Source(reader, segment_data(reader), keep, renumber, base,
                                   bool(keep.all()), postings))
            base += int(keep.sum())
        writer = _MergeWriter(ix, sources, stories, helper and base >= HELPER_MIN_DOCS)
        try:
            writer.copy_documents()
            return writer._finalize_segment()
        except BaseException:
            writer.cancel()
            raise
    finally:
        for source in sources:
            source.postings.close()
            source.reader.close()


class _MergeWriter(FastSegmentWriter):
    """A segment writer fed from other segments instead of articles."""

    def __init__(self, ix, sources: list[_Source], stories: dict[str, str],
                 parallel: bool = False):
        super().__init__(ix)
        self.sources = sources
        self.stories = stories
        self.parallel = parallel
        # exact token counts per text field, by merged document number
        self.field_lengths = {f: np.concatenate([s.data.lengths[f][s.keep] for s in sources])
                              .astype(np.int64) for f in TEXT_FIELDS}
        self.merged_lexicons: dict[str, list[bytes]] = {}  # UTF-8, as the dictionary holds them

    def copy_documents(self) -> None:
        """Stored fields and field lengths, document by document. A document's stored
        fields are copied as the segment holds them: Whoosh pickles and compresses each
        document's fields into one value of its ``_stored`` column, and undoing that only to
        do it again was a third of a merge's time."""
        perdoc = self.perdocwriter
        # The column writers Whoosh's per-document writer made, and the compressed bytes
        # under its pickling (PickleColumn over CompressedBytesColumn, whoosh3.STORED_COLUMN).
        stored_out = perdoc._colwriters["_stored"]._child
        schema = self.schema
        docnum = 0
        for source in self.sources:
            lengths = [source.data.lengths[f] for f in TEXT_FIELDS]
            stored_in = source.reader._perdoc._cached_reader("_stored", STORED_COLUMN)._child
            keep = source.keep.tolist()
            for local, raw in enumerate(VarBytesColumn.Reader.__iter__(stored_in)):
                if not keep[local]:
                    continue
                perdoc.start_doc(docnum)
                for i, fieldname in enumerate(TEXT_FIELDS):
                    perdoc.add_field(fieldname, schema[fieldname], None,
                                     int(lengths[i][local]))
                perdoc.finish_doc()
                if raw:  # a document without stored fields has no value
                    VarBytesColumn.Writer.add(stored_out, docnum, raw)
                docnum += 1
        self.docnum = docnum
        self._added = True

    def _flush_segment(self):
        self.perdocwriter.close()
        fw = self.fieldwriter
        names = _field_names(self.sources)
        here, there = _split_fields(names) if self.parallel else (names, [])
        helper = _Helper(self, there) if there else None
        try:
            for fieldname, terms in self._fields(here):
                fw.start_field(fieldname, self.schema[fieldname])
                postfile = fw._postfile
                prefix = _field_prefix(fw)
                rows: list[tuple[bytes, bytes]] = []
                lexicon = self.merged_lexicons[fieldname] = [] \
                    if fieldname in TEXT_FIELDS else None
                for tbytes, body, info in self._written(fieldname, terms, postfile):
                    postfile.write(body)
                    rows.append((prefix + tbytes, info))
                    if lexicon is not None:
                        lexicon.append(tbytes)
                    if len(rows) >= ROWS_PER_WRITE:
                        _add_term_rows(fw._tindex, rows)
                        rows = []
                _add_term_rows(fw._tindex, rows)
                fw.finish_field()
            if helper is not None:
                self._take(*helper.result())
        finally:
            if helper is not None:
                helper.close()
        fw.close()

    def _fields(self, names: Sequence[str]) -> Iterator[tuple[str, Iterator]]:
        """(field, its terms' (term, [(source, term info)])) for the given fields, in order."""
        for fieldname, group in itertools.groupby(_merged_terms(self.sources, set(names)),
                                                  key=lambda e: e[0]):
            yield fieldname, ((tbytes, parts) for _, tbytes, parts in group)

    def _written(self, fieldname: str, terms: Iterator, postfile: IO[bytes],
                 ) -> Iterator[tuple[bytes, bytes, bytes]]:
        """(term, postings, term info) of each merged term of a field, the term info
        pointing at where ``postfile`` is when it is yielded (the caller writes the postings
        there before asking for the next)."""
        if fieldname in TEXT_FIELDS:
            return self._text_written(terms, self.field_lengths[fieldname], postfile)
        return self._keyword_written(fieldname, terms, postfile)

    def _text_written(self, terms: Iterator, lengths: np.ndarray, postfile: IO[bytes],
                      ) -> Iterator[tuple[bytes, bytes, bytes]]:
        for tbytes, parts in terms:
            if len(parts) == 1 and self.sources[parts[0][0]].whole:
                # Most terms: in one segment, none of whose documents is deleted. Its
                # record and statistics are the merged ones, the documents shifted.
                source = self.sources[parts[0][0]]
                body, info = _shifted(source.postings, parts[0][1], source.base,
                                      postfile.tell())
                yield tbytes, body, info
                continue
            body, docs, tfs = _text_postings(self.sources, parts)
            if not len(docs):
                continue  # every document with it was deleted
            doc_lengths = lengths[docs]
            present = doc_lengths[doc_lengths > 0]
            info = _TERMINFO.pack(
                0, float(tfs.sum()), len(docs),
                length_to_byte(int(present.min())) if len(present) else 0,
                length_to_byte(int(doc_lengths.max())), float(tfs.max()),
                int(docs[0]), int(docs[-1]),
            ) + _EXTENT.pack(postfile.tell(), len(body))
            yield tbytes, body, info

    def _keyword_written(self, fieldname: str, terms: Iterator, postfile: IO[bytes],
                         ) -> Iterator[tuple[bytes, bytes, bytes]]:
        limit = self.fieldwriter._codec._blocklimit
        fixed = self.schema[fieldname].format.fixed_value_size()
        for tbytes, parts in terms:
            postings: list[tuple[int, float, bytes]] = []
            for i, info in parts:
                postings.extend(_keyword_postings(self.sources[i], fieldname, tbytes,
                                                   W3TermInfo.from_bytes(info), fixed))
            if not postings:
                continue
            body, info = _encode_postings(postings, {}, fixed, limit, postfile.tell())
            yield tbytes, body, info

    def write_fields(self, names: Sequence[str], postings_path: str, rows_path: str) -> None:
        """In the helper process: the given fields' postings into a file of their own (term
        infos pointing into it from 0) and their term rows, a field's in batches of
        (field, [(term, term info)]), into another (see :class:`_Helper`)."""
        with open(postings_path, "wb") as postfile, open(rows_path, "wb") as out:
            for fieldname, terms in self._fields(names):
                batch: list[tuple[bytes, bytes]] = []
                for tbytes, body, info in self._written(fieldname, terms, postfile):
                    postfile.write(body)
                    batch.append((tbytes, info))
                    if len(batch) >= ROWS_PER_WRITE:
                        pickle.dump((fieldname, batch), out, pickle.HIGHEST_PROTOCOL)
                        batch = []
                pickle.dump((fieldname, batch), out, pickle.HIGHEST_PROTOCOL)

    def _take(self, postings_path: str, rows_path: str) -> None:
        """The helper's fields, after this process's: its postings appended to the segment's,
        its rows added to the dictionary with their postings moved by where they now start."""
        fw = self.fieldwriter
        postfile = fw._postfile
        shift = postfile.tell()
        with open(postings_path, "rb") as fh:
            while chunk := fh.read(READ_BYTES):
                postfile.write(chunk)
        current = None
        prefix = b""
        with open(rows_path, "rb") as fh:
            while True:
                try:
                    fieldname, batch = pickle.load(fh)
                except EOFError:
                    break
                if fieldname != current:
                    if current is not None:
                        fw.finish_field()
                    fw.start_field(fieldname, self.schema[fieldname])
                    prefix, current = _field_prefix(fw), fieldname
                if fieldname in TEXT_FIELDS:
                    self.merged_lexicons.setdefault(fieldname, []).extend(
                        tbytes for tbytes, _ in batch)
                _add_term_rows(fw._tindex, [(prefix + tbytes, _moved(info, shift))
                                            for tbytes, info in batch])
        if current is not None:
            fw.finish_field()

    def _finalize_segment(self):
        segment = SegmentWriter._finalize_segment(self)
        arrays, meta = merged_columns(self.sources, self.stories, self.merged_lexicons)
        write_pack(Path(self.storage.folder) / segment.make_filename(PACK), arrays, meta)
        return segment


def _field_names(sources: Sequence[_Source]) -> list[str]:
    """Every field with terms in any of the segments, in name order (the order a merge
    writes them in)."""
    return sorted({name for source in sources for name in source.reader._terms._fieldmap})


def _split_fields(names: list[str]) -> tuple[list[str], list[str]]:
    """The fields this process merges and those a helper merges meanwhile: a run each, in
    name order, so the helper's postings go after this process's as one piece. The bodies'
    terms are about half of a merge's work (``body`` is the first field by name)."""
    here = [name for name in names if name <= SPLIT_AFTER]
    return here, names[len(here):]


def _moved(info: bytes, shift: int) -> bytes:
    """A term info whose postings were written ``shift`` bytes further on."""
    offset, length = _EXTENT.unpack_from(info, len(info) - _EXTENT.size)
    return info[:-_EXTENT.size] + _EXTENT.pack(offset + shift, length)


class _Helper:
    """A forked process merging some of the fields (``_MergeWriter.write_fields``) while this
    one merges the others: a merge is one term after another in Python, and the second core
    had nothing to do. It opens the segments again (an inherited file is shared with the
    parent, and so is its position), writes into two files beside the segment, and the
    parent appends them (``_MergeWriter._take``): the segment is the same, byte for byte, as
    one process writes."""

    def __init__(self, writer: _MergeWriter, names: list[str]) -> None:
        stem = str(Path(writer.storage.folder) / f"{writer.newsegment.segment_id()}.helper")
        self.paths = (stem + ".pst", stem + ".rows")
        ctx = multiprocessing.get_context("fork")
        self.conn, sending = ctx.Pipe(duplex=False)
        gc.freeze()  # the helper's collector then leaves the parent's objects (and pages) be
        try:
            self.process = ctx.Process(target=_help, daemon=True,
                                       args=(writer, names, self.paths, sending, os.getpid()))
            self.process.start()
        finally:
            gc.unfreeze()
            sending.close()

    def result(self) -> tuple[str, str]:
        """The helper's two files, once it has written them."""
        try:
            status, detail = self.conn.recv()
        except EOFError:
            status, detail = "error", f"it died (exit code {self.process.exitcode})"
        self.process.join()
        if status != "ok":
            raise OSError(f"a merge's helper process failed: {detail}")
        return self.paths

    def close(self) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        for path in self.paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _help(writer: _MergeWriter, names: list[str], paths: tuple[str, str], conn,
          parent: int) -> None:
    detach_from_parent(parent)
    try:
        writer.sources = [_reopened(writer, source) for source in writer.sources]
        writer.write_fields(names, *paths)
        conn.send(("ok", None))
        os._exit(0)  # not a word more: the parent's open files are this process's too
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        os._exit(1)


def _reopened(writer: _MergeWriter, source: _Source) -> _Source:
    return dataclasses.replace(
        source, reader=SegmentReader(writer.storage, writer.schema, source.reader.segment()),
        postings=open(source.postings.name, "rb"))


def _field_prefix(fw) -> bytes:
    from whoosh.system import pack_ushort

    return pack_ushort(fw._fieldid)


def _merged_terms(sources: Sequence[_Source], fields: Container[str],
                  ) -> Iterator[tuple[str, bytes, list[tuple[int, bytes]]]]:
    """(field, term, [(source, term info bytes), …]) for every term of the given fields of
    every source, in field and term order, the sources in their order. A segment's term
    dictionary is read in its own order: by field (numbered in name order as both writers
    start them), then term."""
    def entries(i: int, source: _Source) -> Iterator[tuple[str, bytes, int, bytes]]:
        last: tuple[str, bytes] | None = None
        for fieldname, tbytes, info in _dictionary(source.reader, fields):
            if last is not None and (fieldname, tbytes) <= last:
                raise ValueError(f"segment {source.reader.segment()} lists its terms out of "
                                 "field order: it cannot be merged by copying")
            last = (fieldname, tbytes)
            yield fieldname, tbytes, i, info

    key: tuple[str, bytes] | None = None
    parts: list[tuple[int, bytes]] = []
    for fieldname, tbytes, i, info in heapq.merge(
            *(entries(i, s) for i, s in enumerate(sources)), key=lambda e: e[:3]):
        if (fieldname, tbytes) != key:
            if key is not None:
                yield key[0], key[1], parts
            key, parts = (fieldname, tbytes), []
        parts.append((i, info))
    if key is not None:
        yield key[0], key[1], parts


def _dictionary(reader: SegmentReader, fields: Container[str],
                ) -> Iterator[tuple[str, bytes, bytes]]:
    """(field, term, term info bytes) of the given fields in a segment's term dictionary, in
    file order. The dictionary is Whoosh's ordered hash file: records of (key length, value
    length, key — the field's number, then the term —, value) between its header and its
    hash tables, and an index of the records' places in key order. Read here in large
    pieces: Whoosh's own iteration reads each record with three seeks and decodes each term
    info, a third of a merge's time. The fields a segment numbers in name order are a run of
    its records: read from the first one's (found with the index) to past the last."""
    terms = reader._terms
    tindex, unmap = terms._tindex, terms._fieldunmap
    numbers = [n for name, n in terms._fieldmap.items() if name in fields]
    if not numbers:
        return
    start = tindex.closest_key_pos(min(numbers).to_bytes(2, "big"))
    if start is None:
        return
    dbfile, end = tindex.dbfile, tindex.endofdata
    base, buf, at = start, b"", 0  # ``buf`` holds the file's bytes from ``base``
    lengths = _KEY_VALUE_LENGTHS
    while base + at < end:
        if at + lengths.size > len(buf):
            buf, base, at = _refill(dbfile, buf, base, at, lengths.size, end)
        keylen, datalen = lengths.unpack_from(buf, at)
        size = lengths.size + keylen + datalen
        if at + size > len(buf):
            buf, base, at = _refill(dbfile, buf, base, at, size, end)
        key = at + lengths.size
        fieldname = unmap[int.from_bytes(buf[key:key + 2], "big")]
        if fieldname not in fields:
            return
        yield fieldname, buf[key + 2:key + keylen], buf[key + keylen:key + keylen + datalen]
        at += size


def _refill(dbfile, buf: bytes, base: int, at: int, need: int, end: int,
            ) -> tuple[bytes, int, int]:
    """The rest of ``buf`` from ``at`` and the next piece of the file: at least ``need``
    bytes from ``at``, up to :data:`READ_BYTES` more."""
    start = base + len(buf)
    more = dbfile.get(start, min(end - start, max(need, READ_BYTES)))
    return buf[at:] + more, base + at, 0


def _extent(info: bytes) -> tuple[int, int]:
    """(offset, length) of a term's postings, from its W3 term info bytes."""
    return _EXTENT.unpack_from(info, _TERMINFO.size)


def _shifted(postings: IO[bytes], info: bytes, base: int, offset: int,
             ) -> tuple[bytes, bytes]:
    """A text term's record and term info (written at ``offset``) with its documents
    numbered from ``base``."""
    flags, weight, df, min_length, max_length, max_weight, min_id, max_id = \
        _TERMINFO.unpack_from(info)
    at, length = _extent(info)
    postings.seek(at)
    body = postings.read(length)
    if base:
        docs = np.frombuffer(body, dtype="<i4", count=df, offset=RECORD_HEAD)
        body = b"".join((body[:RECORD_HEAD], (docs + base).astype("<i4").tobytes(),
                         body[RECORD_HEAD + 4 * df:]))
    packed = _TERMINFO.pack(flags, weight, df, min_length, max_length, max_weight,
                            min_id + base, max_id + base) + _EXTENT.pack(offset, len(body))
    return body, packed


def _text_postings(sources: Sequence[_Source], parts: list[tuple[int, bytes]],
                   ) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A text term's merged array record, its (merged) documents and term frequencies."""
    docs_parts, tfs_parts, pos_parts = [], [], []
    for i, info in parts:
        source = sources[i]
        docs, tfs, pos = read_record_from(source.postings, _extent(info)[0])
        if source.whole:
            docs = docs.astype(np.int64) + source.base
        else:
            kept = source.keep[docs]
            if not kept.all():
                starts = np.concatenate([[0], np.cumsum(tfs, dtype=np.int64)])
                counts = tfs[kept].astype(np.int64)
                offsets = np.cumsum(counts) - counts
                pos = pos[np.repeat(starts[:-1][kept] - offsets, counts)
                          + np.arange(int(counts.sum()))]
                docs, tfs = docs[kept], tfs[kept]
            docs = source.renumber[docs]
        docs_parts.append(docs)
        tfs_parts.append(tfs)
        pos_parts.append(pos)
    docs = np.concatenate(docs_parts) if len(docs_parts) > 1 else docs_parts[0]
    tfs = np.concatenate(tfs_parts) if len(tfs_parts) > 1 else tfs_parts[0]
    pos = np.concatenate([p.astype(np.uint32) for p in pos_parts]) \
        if len(pos_parts) > 1 else pos_parts[0]
    return record_bytes(docs, tfs, pos), docs, tfs


def _keyword_postings(source: _Source, fieldname: str, tbytes: bytes, info: W3TermInfo,
                      fixed: int | None) -> list[tuple[int, float, bytes]]:
    """(merged document, weight, value) of a keyword term's postings in one source."""
    if info.doc_frequency() == 1 and fixed == 0:  # ids: the term info holds the one posting
        ids: list[int] = [info.min_id()]
        weights: list[float] = [info.weight()]
        values: list[bytes] = [b""]
    else:
        ids, weights, values = [], [], []
        m = source.reader.postings(fieldname, tbytes)
        if isinstance(m, W3LeafMatcher):
            while m.is_active():
                m._read_ids()
                m._read_weights()
                m._read_values()
                ids.extend(m._ids)
                weights.extend(m._weights)
                values.extend(v or b"" for v in m._values)
                m._next_block()
        else:
            while m.is_active():
                ids.append(m.id())
                weights.append(m.weight())
                values.append(m.value() or b"")
                m.next()
    if source.whole:
        return [(d + source.base, w, v) for d, w, v in zip(ids, weights, values, strict=True)]
    renumber = source.renumber
    return [(int(renumber[d]), w, v) for d, w, v in zip(ids, weights, values, strict=True)
            if renumber[d] >= 0]


def merged_columns(sources: Sequence[_Source], stories: dict[str, str],
                   lexicons: Mapping[str, list[bytes]]) -> tuple[dict[str, np.ndarray], dict]:
    """The merged segment's array pack: every column of the sources' live documents."""
    arrays: dict[str, np.ndarray] = {
        "date": np.concatenate([s.data.date[s.keep] for s in sources]).astype(np.int32),
        "len_title": np.concatenate([s.data.lengths["title"][s.keep] for s in sources])
        .astype(np.uint32),
        "len_body": np.concatenate([s.data.lengths["body"][s.keep] for s in sources])
        .astype(np.uint32),
    }
    meta: dict = {"facets": {}}
    for name in FACETS:
        values: dict[str, int] = {}
        offsets, vals = [np.zeros(1, np.uint64)], []
        at = 0
        for s in sources:
            own, off, val = s.data.facets[name]
            mapping = np.array([values.setdefault(v, len(values)) for v in own], np.uint32)
            counts: np.ndarray = np.diff(np.asarray(off, dtype=np.int64))
            entry_kept = np.repeat(s.keep, counts)
            vals.append(mapping[val[entry_kept]] if len(mapping) else val[entry_kept])
            kept_counts = counts[s.keep]
            offsets.append(at + np.cumsum(kept_counts, dtype=np.uint64))
            at += int(kept_counts.sum())
        arrays[f"f:{name}:off"] = np.concatenate(offsets).astype(np.uint32)
        arrays[f"f:{name}:val"] = (np.concatenate(vals) if vals else np.zeros(0)) \
            .astype(np.uint32)
        meta["facets"][name] = list(values)
    keys = np.concatenate([s.data.story_key[s.keep] for s in sources]).astype(np.int64)
    arrays["story_key"] = keys
    for name, column in (("id", "ids"), ("story", "stories"), ("hash", "hashes"),
                         ("origin", "origins")):
        arrays[f"{name}:blob"], arrays[f"{name}:off"] = concat_strings(
            [(getattr(s.data, column), s.keep) for s in sources])
    if stories:
        # The generation's overrides (an update handing a story on) become the segment's own.
        ids = Strings(arrays["id:blob"], arrays["id:off"]).all()
        story_ids = Strings(arrays["story:blob"], arrays["story:off"]).all()
        for k, article_id in enumerate(ids):
            story = stories.pop(article_id, None)
            if story is not None and story != story_ids[k]:
                story_ids[k] = story
                keys[k] = story_key(story)
        arrays["story:blob"], arrays["story:off"] = pack_strings(story_ids)
    for fieldname in TEXT_FIELDS:
        for part, array_ in pack_encoded_lexicon(lexicons.get(fieldname, [])).items():
            arrays[f"lex:{fieldname}:{part}"] = array_
    return arrays, meta
