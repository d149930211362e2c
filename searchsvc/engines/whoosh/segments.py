"""Writing Whoosh segments fast: postings built in memory, encoded straight into W3 blocks.

Whoosh's ``SegmentWriter`` sends every posting through a pickled on-disk pool and writes it one
Python call at a time. :class:`FastSegmentWriter` keeps one segment's postings in memory
(docnums arrive in increasing order, so each term's list is already sorted), takes each
article's term → positions from the shared analysis instead of analysing again, and writes
each term's postings in one piece: text fields as ``codec.ArrayCodec`` array records, the other
fields directly in the W3 block format (:func:`_encode_postings`, byte-identical to Whoosh's
own writer, which a test checks). The segments are ``ArrayCodec`` segments, readable by any
Whoosh searcher.

A writer can also delete documents of the index's existing segments (it is a
``SegmentWriter``), which is how updates and catch-ups are applied.
"""

from __future__ import annotations

import hashlib
import pickle
from array import array
from collections import defaultdict
from itertools import repeat
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
from searchsvc.engines.whoosh.codec import ArrayCodec, encode_record
from searchsvc.engines.whoosh.packs import pack_lexicon, pack_strings, story_key, write_pack
from searchsvc.engines.whoosh.schema import document

PACK = ".arrays"         # a segment's per-document columns (packs.py)
STORIES_PACK = ".stories"  # its story ids, when written after the segment (full builds)


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


class FastSegmentWriter(SegmentWriter):
    """Whoosh's SegmentWriter for one new segment, with its posting pool kept in memory."""

    def __init__(self, ix, **kwargs):
        # compression=0: Whoosh zlib-compresses every posting block, even the one-posting
        # blocks of rare terms (its "too small to compress" check is overwritten on the next
        # line of _write_block); that was ~10% of a worker's time for a modestly larger file.
        super().__init__(ix, _lk=False, compound=False, codec=ArrayCodec(compression=0),
                         **kwargs)
        # field → term → postings. Text terms are kept as str (UTF-8 byte order is code-point
        # order, so they sort the same) and encoded once at flush time.
        self._terms: dict[str, dict[str | bytes, Any]] = defaultdict(dict)
        self._lengths: dict[str, dict[int, int]] = defaultdict(dict)
        self._indexed_values: dict[tuple, list] = {}
        self.held = 0  # bytes of postings held in memory (what a flush budget counts)
        self.columns = ColumnsWriter()

    def add_article(self, article: IndexedArticle) -> None:
        docnum = self.docnum
        self._add(document(article), article.analysis)
        # _add counted each text field's length (its positions) as it went.
        self.columns.add(article, [self._lengths[f].get(docnum, 0) for f in TEXT_FIELDS])

    def _finalize_segment(self):
        segment = super()._finalize_segment()
        self.columns.write(Path(self.storage.folder) / segment.make_filename(PACK))
        return segment

    def _add(self, fields: dict, analysed: dict[str, dict[str, list[int]]]) -> None:
        perdoc = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        terms = self._terms
        perdoc.start_doc(docnum)
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if fieldname in TEXT_FIELDS:
                # A text term's postings are two machine arrays — (doc, tf) pairs and the
                # positions — ~12 bytes a posting instead of ~150 as Python tuples of lists;
                # the array record is cut from them at flush (codec.encode_record).
                poses = analysed.get(fieldname, {})
                field_terms = terms[fieldname]
                held = 0
                for term, poslist in poses.items():
                    entry = field_terms.get(term)
                    if entry is None:
                        entry = field_terms[term] = (array("I"), array("I"))
                        held += 160  # two arrays and a dictionary slot
                    freq = len(poslist)
                    entry[0].extend((docnum, freq))
                    entry[1].extend(poslist)
                    length += freq
                    held += 8 + 4 * freq
                self.held += held
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
            encode = _text_record if fieldname in TEXT_FIELDS else _encode_postings
            ordered = sorted(field_terms)
            if fieldname in TEXT_FIELDS:
                self.columns.lexicons[fieldname] = ordered
            for term in ordered:
                data, info = encode(field_terms[term], lengths, fixed, limit, offset)
                chunks.append(data)
                offset += len(data)
                rows.append((prefix + (term.encode("utf-8") if isinstance(term, str) else term),
                             info))
            postfile.write(b"".join(chunks))
            fw.finish_field()
        _add_term_rows(fw._tindex, rows)
        fw.close()


def _text_record(entry: tuple[array, array], lengths: dict[int, int],
                 _fixed: int | None, _limit: int, offset: int) -> tuple[bytes, bytes]:
    """A text term's postings as an array record (``codec``), and the W3 terminfo for it
    (the statistics Whoosh's own writer keeps, so term dictionaries stay W3's)."""
    pairs, positions = entry
    docs, tfs = pairs[0::2], pairs[1::2]
    body = encode_record(docs, tfs, positions)
    doc_lengths = [lengths.get(d, 0) for d in docs] if len(docs) < 64 else \
        list(map(lengths.get, docs, repeat(0)))
    present = [x for x in doc_lengths if x]
    terminfo = W3TermInfo._struct.pack(
        0, float(sum(tfs)), len(docs), length_to_byte(min(present)) if present else 0,
        length_to_byte(max(doc_lengths)), float(max(tfs)), docs[0], docs[-1],
    ) + pack_long(offset) + pack_int(len(body))
    return body, terminfo


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


