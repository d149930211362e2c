"""A Whoosh codec whose text posting lists are arrays: read by memory map, no decoding.

Whoosh's W3 codec pickles each posting block (document numbers, weights, and every posting's
positions as a pickled list); decoding them one block and one position list at a time was
most of a first-run query and three quarters of the index. :class:`ArrayCodec` is W3 with one
change: a term of a text field (``title``, ``body``) has one record in the postings file::

    uint32 n  |  uint8 position width (2 or 4)  |  3 bytes padding
    int32  docs[n]          document numbers within the segment, ascending
    uint32 tfs[n]           term frequencies (how many positions each document has)
    uint16/32 pos[sum(tfs)] the positions, document by document, ascending within each

so a posting list is three array views of a memory-mapped file (:func:`read_record`), phrase
and proximity matching run on arrays, and positions take two bytes instead of a pickle. Keyword,
id and date fields keep W3's blocks. The codec travels inside each segment's entry in the table
of contents, as every Whoosh codec does, so a Whoosh searcher opened on these segments uses it:
:class:`ArrayMatcher` serves Whoosh's matcher interface from the same arrays.
"""

from __future__ import annotations

import struct
import sys
from array import array

import numpy as np
from whoosh.codec.whoosh3 import W3Codec
from whoosh.formats import Positions
from whoosh.matching import ListMatcher

TEXT_FIELDS = ("title", "body")
_HEAD = struct.Struct("<IB3x")
RECORD_HEAD = _HEAD.size  # bytes before a record's document numbers
assert sys.byteorder == "little" and array("I").itemsize == 4 and array("H").itemsize == 2


def record_head(count: int, wide: bool) -> bytes:
    """The head of a record of ``count`` documents, its positions 4 bytes wide or 2."""
    return _HEAD.pack(count, 4 if wide else 2)


def record_bytes(docs: np.ndarray, tfs: np.ndarray, positions: np.ndarray) -> bytes:
    """One text term's postings as an array record (see the module docstring), from numpy
    arrays (a merge's concatenated postings)."""
    wide = bool(len(positions)) and int(positions.max()) > 0xFFFF
    return b"".join((record_head(len(docs), wide),
                     np.asarray(docs, dtype="<i4").tobytes(),
                     np.asarray(tfs, dtype="<u4").tobytes(),
                     np.asarray(positions, dtype="<u4" if wide else "<u2").tobytes()))


def read_record(buffer, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(docs, tfs, positions) of the record at ``offset`` in ``buffer`` (views, no copy)."""
    n, width = _HEAD.unpack_from(buffer, offset)
    at = offset + _HEAD.size
    docs = np.frombuffer(buffer, dtype="<i4", count=n, offset=at)
    at += 4 * n
    tfs = np.frombuffer(buffer, dtype="<u4", count=n, offset=at)
    at += 4 * n
    total = int(tfs.sum()) if n else 0
    pos = np.frombuffer(buffer, dtype="<u4" if width == 4 else "<u2", count=total, offset=at)
    return docs, tfs, pos


def read_record_from(dbfile, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`read_record` with file reads instead of a memory map (a merge reads each
    record once: mapped, the pages would stay in the process)."""
    dbfile.seek(offset)
    n, width = _HEAD.unpack(dbfile.read(_HEAD.size))
    arrays = dbfile.read(8 * n)
    docs = np.frombuffer(arrays, dtype="<i4", count=n)
    tfs = np.frombuffer(arrays, dtype="<u4", count=n, offset=4 * n)
    total = int(tfs.sum()) if n else 0
    pos = np.frombuffer(dbfile.read(total * width), dtype="<u4" if width == 4 else "<u2",
                        count=total)
    return docs, tfs, pos


class _EncodedPositions:
    """Whoosh's encoded position values of each posting, made when asked for."""

    def __init__(self, tfs: np.ndarray, pos: np.ndarray):
        self.starts = np.concatenate([[0], np.cumsum(tfs)]).astype(np.int64)
        self.pos = pos
        self.format = Positions()

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, i: int) -> bytes:
        return self.format.encode(self.pos[self.starts[i]: self.starts[i + 1]].tolist())


class ArrayMatcher(ListMatcher):
    """Whoosh's matcher interface over an array record (for Whoosh's own searchers)."""

    def __init__(self, dbfile, offset: int, format_, term=None, scorer=None, terminfo=None):
        # The record is read whole: a term's arrays are small next to what Whoosh's own
        # matcher allocates per posting.
        docs, tfs, pos = read_record_from(dbfile, offset)
        super().__init__(docs.tolist(), [float(t) for t in tfs.tolist()],
                         _EncodedPositions(tfs, pos), format_, scorer=scorer, term=term,
                         terminfo=terminfo)


class ArrayCodec(W3Codec):
    """W3, with array records for the text fields' postings."""

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if term is not None and term[0] in TEXT_FIELDS:
            offset, _length = terminfo.extent()
            return ArrayMatcher(dbfile, offset, format_, term=term, scorer=scorer,
                                terminfo=terminfo)
        return super().postings_reader(dbfile, terminfo, format_, term, scorer)
