"""Writing Whoosh segments fast: postings built in memory, encoded straight into W3 blocks.

Whoosh's ``SegmentWriter`` sends every posting through a pickled on-disk pool and writes it one
Python call at a time. :class:`FastSegmentWriter` keeps one segment's postings in memory,
takes each article's terms from the shared analysis instead of analysing again, and writes
each term's postings in one piece: text fields as ``codec.ArrayCodec`` array records, the other
fields directly in the W3 block format (:func:`_encode_postings`, byte-identical to Whoosh's
own writer, which a test checks). The segments are ``ArrayCodec`` segments, readable by any
Whoosh searcher.

A text field's postings are held as its token stream (:class:`TokenStream`: each token's term
number, document after document), which costs two C-level calls per document and four bytes a
token; one sort at flush groups the stream by term into documents, frequencies and positions
(:meth:`TokenStream.grouped`). Keeping a term → positions list per document and appending it
to per-term arrays was two fifths of a build worker's time.

A writer can also delete documents of the index's existing segments (it is a
``SegmentWriter``), which is how updates and catch-ups are applied.
"""

from __future__ import annotations

import hashlib
import pickle
from array import array
from collections import defaultdict
from collections.abc import Iterator
from itertools import count, repeat
from operator import sub
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.filedb.filetables import _lengths as _KEY_VALUE_LENGTHS
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from searchsvc.engine import FACETS, TEXT_FIELDS, IndexedArticle
from searchsvc.engines.whoosh.codec import ArrayCodec, record_head
from searchsvc.engines.whoosh.packs import pack_lexicon, pack_strings, story_key, write_pack
from searchsvc.engines.whoosh.schema import document

PACK = ".arrays"         # a segment's per-document columns (packs.py)
STORIES_PACK = ".stories"  # its story ids, when written after the segment (full builds)
# What a held text token costs at the segment's flush, where the writer's memory peaks (about
# 20 bytes measured): the sort key (8), then the sorted positions, documents and term numbers
# (12) and where each posting starts, then the postings and their bytes; the stream's own 4
# bytes are let go of first.
TOKEN_BYTES = 24
TERM_BYTES = 120  # a term's entry in its field's numbering, and its sorted list and record
_FLUSH_CHUNK = 1 << 20  # tokens per step where a flush converts its arrays piece by piece


class ColumnsWriter:
    """One segment's per-document columns, gathered as articles are added, written as a pack:
    ``date`` (ordinal, -1 undated), ``len_title``/``len_body`` (tokens), per facet ``f:name``
    (CSR: offsets and value numbers; the values in the pack's meta), ``story_key`` and the
    ``story`` ids, the ``id``s, content ``hash``es and ``origin``s; and each text field's
    sorted terms (``lex:<field>``, set when the postings are written)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.dates: list[int] = []
        self.lengths: list[list[int]] = [[], []]
        self.facet_index: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        self.facet_vals: dict[str, list[int]] = {f: [] for f in FACETS}
        self.facet_off: dict[str, list[int]] = {f: [0] for f in FACETS}
        self.stories: list[str] = []
        self.hashes: list[str] = []
        self.origins: list[str] = []
        self.lexicons: dict[str, list[str]] = {}

    def add(self, article: IndexedArticle, lengths: list[int]) -> None:
        self.ids.append(article.id)
        self.dates.append(article.date.toordinal() if article.date else -1)
        for i, n in enumerate(lengths):
            self.lengths[i].append(n)
        for name in FACETS:
            index = self.facet_index[name]
            vals = self.facet_vals[name]
            for value in article.facets.get(name, []):
                vals.append(index.setdefault(value, len(index)))
            self.facet_off[name].append(len(vals))
        self.stories.append(article.story)
        self.hashes.append(article.content_hash)
        self.origins.append(article.origin)

    def write(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "date": np.asarray(self.dates, dtype=np.int32),
            "len_title": np.asarray(self.lengths[0], dtype=np.uint32),
            "len_body": np.asarray(self.lengths[1], dtype=np.uint32),
        }
        for name in FACETS:
            arrays[f"f:{name}:off"] = np.asarray(self.facet_off[name], dtype=np.uint32)
            arrays[f"f:{name}:val"] = np.asarray(self.facet_vals[name], dtype=np.uint32)
        arrays.update(story_arrays(self.stories))
        for name, values in (("id", self.ids), ("hash", self.hashes),
                             ("origin", self.origins)):
            blob, off = pack_strings(values)
            arrays[f"{name}:blob"], arrays[f"{name}:off"] = blob, off
        for fieldname in TEXT_FIELDS:
            for part, array_ in pack_lexicon(self.lexicons.get(fieldname, [])).items():
                arrays[f"lex:{fieldname}:{part}"] = array_
        write_pack(path, arrays, {"facets": {f: list(ix) for f, ix in self.facet_index.items()}})


def story_arrays(stories: list[str]) -> dict[str, np.ndarray]:
    blob, off = pack_strings(stories)
    return {"story_key": np.fromiter((story_key(s) for s in stories), dtype=np.int64,
                                     count=len(stories)),
            "story:blob": blob, "story:off": off}


class TokenStream:
    """One text field's postings in a segment being written, as its token stream: each token's
    term number (numbered as first seen), document after document, and each document's length.
    Adding a document is a ``map`` over its terms, with no Python call per token or term."""

    def __init__(self) -> None:
        self.numbers: defaultdict[str, int] = defaultdict(count().__next__)
        self.stream = array("I")
        self.lengths = array("I")  # tokens per document, by document number

    def add(self, terms: list[str]) -> int:
        """Add the next document's terms; returns how many terms were new to the segment."""
        before = len(self.numbers)
        self.stream.extend(map(self.numbers.__getitem__, terms))
        self.lengths.append(len(terms))
        return len(self.numbers) - before

    def grouped(self) -> Grouped:
        """The postings grouped by term, in term order (the stream is let go of on the way).

        Each token's key is (its term's rank in sorted order, its place in the stream), so one
        sort of the keys orders the tokens by term, then document, then position."""
        n, count = len(self.stream), len(self.numbers)
        assert n < 1 << 32  # a token's place fits the key's low half
        terms = sorted(self.numbers)
        rank = np.empty(count, dtype=np.uint64)
        rank[np.fromiter(map(self.numbers.__getitem__, terms), dtype=np.int64,
                         count=count)] = np.arange(count, dtype=np.uint64) << np.uint64(32)
        key = rank[np.frombuffer(self.stream, dtype=np.uint32)] if n else \
            np.empty(0, dtype=np.uint64)
        self.stream = array("I")
        del rank
        for a in range(0, n, _FLUSH_CHUNK):
            key[a: a + _FLUSH_CHUNK] |= np.arange(a, min(a + _FLUSH_CHUNK, n), dtype=np.uint64)
        key.sort()
        place = np.empty(n, dtype=np.uint32)   # the token's place in the stream
        term = np.empty(n, dtype=np.uint32)    # its term's rank
        for a in range(0, n, _FLUSH_CHUNK):  # (no name for a slice: it would keep key alive)
            place[a: a + _FLUSH_CHUNK] = key[a: a + _FLUSH_CHUNK] & np.uint64(0xFFFFFFFF)
            term[a: a + _FLUSH_CHUNK] = key[a: a + _FLUSH_CHUNK] >> np.uint64(32)
        del key
        lengths = np.frombuffer(self.lengths, dtype=np.uint32)
        starts = np.zeros(len(lengths), dtype=np.uint32)
        np.cumsum(lengths[:-1], dtype=np.uint32, out=starts[1:])
        doc = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)[place]
        for a in range(0, n, _FLUSH_CHUNK):  # the place in the stream → the position in its doc
            place[a: a + _FLUSH_CHUNK] -= starts[doc[a: a + _FLUSH_CHUNK]]
        # A posting (term, document) starts where the term or the document changes.
        change = np.ones(n, dtype=bool)
        np.not_equal(doc[1:], doc[:-1], out=change[1:])
        change[1:] |= term[1:] != term[:-1]
        first = np.flatnonzero(change)
        del change
        ranks = np.arange(count + 1, dtype=np.uint32)
        at = np.searchsorted(term, ranks)  # (bincount would copy the terms as int64)
        by_term = np.searchsorted(term[first], ranks)
        del term
        docs = doc[first]
        del doc
        tfs = np.empty(len(first), dtype=np.uint32)
        np.subtract(first[1:], first[:-1], out=tfs[:-1], casting="unsafe")
        tfs[-1:] = n - first[-1:]
        del first
        return Grouped(terms, docs, tfs, place, by_term, at,
                       np.fromiter(map(length_to_byte, self.lengths), dtype=np.uint8,
                                   count=len(self.lengths)))


class Grouped:
    """A text field's postings grouped by term: for the ``i``-th term (``terms`` is sorted),
    ``docs`` and ``tfs`` from ``by_term[i]`` to ``by_term[i + 1]`` and ``positions`` from
    ``at[i]`` to ``at[i + 1]``, as its array record holds them; ``length_bytes`` is each
    document's field length as Whoosh's one-byte code (its term statistics keep those)."""

    def __init__(self, terms: list[str], docs: np.ndarray, tfs: np.ndarray,
                 positions: np.ndarray, by_term: np.ndarray, at: np.ndarray,
                 length_bytes: np.ndarray) -> None:
        self.terms = terms
        self.docs, self.tfs, self.positions = docs, tfs, positions
        self.by_term, self.at = by_term, at
        self.length_bytes = length_bytes

    def records(self, offset: int) -> Iterator[tuple[bytes, bytes]]:
        """Each term's (array record, W3 terminfo), the records laid out from ``offset``: the
        statistics Whoosh's own writer keeps, so term dictionaries stay W3's."""
        if not self.terms:
            return
        starts = self.by_term[:-1]
        lengths = self.length_bytes[self.docs]
        widest = np.maximum.reduceat(self.positions, self.at[:-1]) > 0xFFFF
        stats = zip(np.diff(self.at).tolist(), np.diff(self.by_term).tolist(),
                    np.minimum.reduceat(lengths, starts).tolist(),
                    np.maximum.reduceat(lengths, starts).tolist(),
                    np.maximum.reduceat(self.tfs, starts).tolist(),
                    self.docs[starts].tolist(), self.docs[self.by_term[1:] - 1].tolist(),
                    widest.tolist(), strict=True)
        # Byte views, not copies: int32 and uint32 are the records' little-endian types.
        docs = self.docs.data.cast("B")
        tfs = self.tfs.data.cast("B")
        narrow = self.positions.astype("<u2").data.cast("B")
        wide = self.positions.data.cast("B")
        pack = W3TermInfo._struct.pack
        r = p = 0
        for weight, df, min_len, max_len, max_tf, min_id, max_id, is_wide in stats:
            pos = wide[4 * p: 4 * (p + weight)] if is_wide else narrow[2 * p: 2 * (p + weight)]
            body = b"".join((record_head(df, is_wide), docs[4 * r: 4 * (r + df)],
                             tfs[4 * r: 4 * (r + df)], pos))
            yield body, pack(0, float(weight), df, min_len, max_len, float(max_tf), min_id,
                             max_id) + pack_long(offset) + pack_int(len(body))
            offset += len(body)
            r += df
            p += weight


class FastSegmentWriter(SegmentWriter):
    """Whoosh's SegmentWriter for one new segment, with its posting pool kept in memory."""

    def __init__(self, ix, **kwargs):
        # compression=0: Whoosh zlib-compresses every posting block, even the one-posting
        # blocks of rare terms (its "too small to compress" check is overwritten on the next
        # line of _write_block); that was ~10% of a worker's time for a modestly larger file.
        super().__init__(ix, _lk=False, compound=False, codec=ArrayCodec(compression=0),
                         **kwargs)
        self._text = {fieldname: TokenStream() for fieldname in TEXT_FIELDS}
        # The other fields: field → term → postings (docnums arrive in increasing order, so
        # each term's list is already sorted).
        self._terms: dict[str, dict[bytes, Any]] = defaultdict(dict)
        self._lengths: dict[str, dict[int, int]] = defaultdict(dict)
        self._indexed_values: dict[tuple, list] = {}
        self.held = 0  # bytes of postings held in memory (what a flush budget counts)
        self.columns = ColumnsWriter()

    def add_article(self, article: IndexedArticle) -> None:
        self._add(document(article), article.analysis)
        self.columns.add(article, [self._text[f].lengths[-1] for f in TEXT_FIELDS])

    def _finalize_segment(self):
        segment = super()._finalize_segment()
        self.columns.write(Path(self.storage.folder) / segment.make_filename(PACK))
        return segment

    def _add(self, fields: dict, analysed: dict[str, list[str]]) -> None:
        perdoc = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        terms = self._terms
        perdoc.start_doc(docnum)
        text_lengths = {}
        for fieldname, stream in self._text.items():  # every document, to keep numbering
            found: list[str] = (analysed.get(fieldname, [])
                                if fields.get(fieldname) is not None else [])
            new = stream.add(found)
            text_lengths[fieldname] = len(found)
            self.held += TOKEN_BYTES * len(found) + TERM_BYTES * new
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if fieldname in text_lengths:
                length = text_lengths[fieldname]
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
        for fieldname in sorted(set(self._terms) | set(self._text)):
            fieldobj = self.schema[fieldname]
            chunks: list[bytes] = []
            if fieldname in self._text:
                grouped = self._text[fieldname].grouped()
                if not grouped.terms:
                    continue
                fw.start_field(fieldname, fieldobj)
                prefix = pack_ushort(fw._fieldid)
                self.columns.lexicons[fieldname] = grouped.terms
                for term, (data, info) in zip(grouped.terms, grouped.records(offset),
                                              strict=True):
                    chunks.append(data)
                    offset += len(data)
                    rows.append((prefix + term.encode("utf-8"), info))
                    if len(chunks) == 4096:  # the records are written as they are made
                        postfile.write(b"".join(chunks))
                        chunks = []
                del grouped
            else:
                field_terms = self._terms[fieldname]
                if not field_terms:
                    continue
                fw.start_field(fieldname, fieldobj)
                prefix = pack_ushort(fw._fieldid)
                lengths = self._lengths.get(fieldname, {})
                fixed = fieldobj.format.fixed_value_size()
                for term in sorted(field_terms):
                    data, info = _encode_postings(field_terms[term], lengths, fixed, limit,
                                                  offset)
                    chunks.append(data)
                    offset += len(data)
                    rows.append((prefix + term, info))
            postfile.write(b"".join(chunks))
            fw.finish_field()
        _add_term_rows(fw._tindex, rows)
        fw.close()


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
        single: object
        if fixed is None or fixed < 0:
            single = (value,) if value else ()
        else:
            single = None if fixed == 0 else value
        data = pickle.dumps(((docnum,), None if packed == 1.0 else packed, single), 2)
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
        block = array("f", weights)  # Whoosh keeps weights as float32
        total_weight += sum(block)
        block_max = max(weights)
        max_weight = max(max_weight, block_max)
        block_lengths = list(map(lengths.get, ids, repeat(0)))
        present = list(filter(None, block_lengths))
        block_min = min(present) if present else None
        if block_min is not None:
            min_length = block_min if min_length is None else min(min_length, block_min)
        max_length = max(max_length, max(block_lengths))
        mini_weights: object
        if block.count(1.0) == len(block):
            mini_weights = None
        elif block.count(block[0]) == len(block):
            mini_weights = block[0]
        else:
            mini_weights = tuple(block)
        mini_values: object
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


