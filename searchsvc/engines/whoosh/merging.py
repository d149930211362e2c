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

What used to be the only merge — rebuilding each article from its stored fields and analysing
its text again — cost about as much as indexing the articles; a build that flushed under its
memory budget could not afford to merge what it flushed, and a million-article archive was
served from 58 segments, each searched term by term. The old way stays for segments this
one cannot copy (:func:`can_copy`).
"""

from __future__ import annotations

import heapq
import itertools
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


def merge(ix, segments: Sequence, stories: dict[str, str]) -> object:
    """One new segment with the live documents of ``segments``, in order. Story ids in
    ``stories`` (the generation's overrides) are written into the merged segment and removed
    from ``stories``. Returns the new segment (not yet in any table of contents)."""
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
        writer = _MergeWriter(ix, sources, stories)
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

    def __init__(self, ix, sources: list[_Source], stories: dict[str, str]):
        super().__init__(ix)
        self.sources = sources
        self.stories = stories
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
        for fieldname, group in itertools.groupby(_merged_terms(self.sources),
                                                  key=lambda e: e[0]):
            fw.start_field(fieldname, self.schema[fieldname])
            terms = ((tbytes, parts) for _, tbytes, parts in group)
            if fieldname in TEXT_FIELDS:
                self.merged_lexicons[fieldname] = self._copy_text(fieldname, terms)
            else:
                self._copy_keyword(fieldname, terms)
            fw.finish_field()
        fw.close()

    def _rows(self, fieldname: str, written: Iterable[tuple[bytes, bytes, bytes]]) -> None:
        """Write (term, postings, term info) as they come, the dictionary in batches."""
        fw = self.fieldwriter
        postfile = fw._postfile
        prefix = _field_prefix(fw)
        rows: list[tuple[bytes, bytes]] = []
        for tbytes, body, info in written:
            postfile.write(body)
            rows.append((prefix + tbytes, info))
            if len(rows) >= ROWS_PER_WRITE:
                _add_term_rows(fw._tindex, rows)
                rows = []
        _add_term_rows(fw._tindex, rows)

    def _copy_text(self, fieldname: str, terms: Iterator) -> list[bytes]:
        lengths = self.field_lengths[fieldname]
        postfile = self.fieldwriter._postfile
        lexicon: list[bytes] = []

        def written() -> Iterator[tuple[bytes, bytes, bytes]]:
            for tbytes, parts in terms:
                if len(parts) == 1 and self.sources[parts[0][0]].whole:
                    # Most terms: in one segment, none of whose documents is deleted. Its
                    # record and statistics are the merged ones, the documents shifted.
                    source = self.sources[parts[0][0]]
                    body, info = _shifted(source.postings, parts[0][1], source.base,
                                          postfile.tell())
                    lexicon.append(tbytes)
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
                lexicon.append(tbytes)
                yield tbytes, body, info

        self._rows(fieldname, written())
        return lexicon

    def _copy_keyword(self, fieldname: str, terms: Iterator) -> None:
        limit = self.fieldwriter._codec._blocklimit
        fixed = self.schema[fieldname].format.fixed_value_size()
        postfile = self.fieldwriter._postfile

        def written() -> Iterator[tuple[bytes, bytes, bytes]]:
            for tbytes, parts in terms:
                postings: list[tuple[int, float, bytes]] = []
                for i, info in parts:
                    postings.extend(_keyword_postings(self.sources[i], fieldname, tbytes,
                                                       W3TermInfo.from_bytes(info), fixed))
                if not postings:
                    continue
                body, info = _encode_postings(postings, {}, fixed, limit, postfile.tell())
                yield tbytes, body, info

        self._rows(fieldname, written())

    def _finalize_segment(self):
        segment = SegmentWriter._finalize_segment(self)
        arrays, meta = merged_columns(self.sources, self.stories, self.merged_lexicons)
        write_pack(Path(self.storage.folder) / segment.make_filename(PACK), arrays, meta)
        return segment


def _field_prefix(fw) -> bytes:
    from whoosh.system import pack_ushort

    return pack_ushort(fw._fieldid)


def _merged_terms(sources: Sequence[_Source],
                  ) -> Iterator[tuple[str, bytes, list[tuple[int, bytes]]]]:
    """(field, term, [(source, term info bytes), …]) for every term of every source, in field
    and term order, the sources in their order. A segment's term dictionary is read in its
    own order: by field (numbered in name order as both writers start them), then term."""
    def entries(i: int, source: _Source) -> Iterator[tuple[str, bytes, int, bytes]]:
        last: tuple[str, bytes] | None = None
        for fieldname, tbytes, info in _dictionary(source.reader):
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


def _dictionary(reader: SegmentReader) -> Iterator[tuple[str, bytes, bytes]]:
    """(field, term, term info bytes) of a segment's term dictionary, in file order. The
    dictionary is Whoosh's ordered hash file: records of (key length, value length, key —
    the field's number, then the term —, value) between its header and its hash tables. Read
    here in large pieces: Whoosh's own iteration reads each record with three seeks and
    decodes each term info, a third of a merge's time."""
    terms = reader._terms
    tindex, unmap = terms._tindex, terms._fieldunmap
    dbfile, end = tindex.dbfile, tindex.endofdata
    base, buf, at = tindex.startofdata, b"", 0  # ``buf`` holds the file's bytes from ``base``
    lengths = _KEY_VALUE_LENGTHS
    while base + at < end:
        if at + lengths.size > len(buf):
            buf, base, at = _refill(dbfile, buf, base, at, lengths.size, end)
        keylen, datalen = lengths.unpack_from(buf, at)
        size = lengths.size + keylen + datalen
        if at + size > len(buf):
            buf, base, at = _refill(dbfile, buf, base, at, size, end)
        key = at + lengths.size
        yield (unmap[int.from_bytes(buf[key:key + 2], "big")], buf[key + 2:key + keylen],
               buf[key + keylen:key + keylen + datalen])
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
