"""Array packs: several named numpy arrays (and a little JSON) in one file, read by mmap.

A segment's per-document columns (dates, field lengths, facet values, stories, ids, content
hashes, origins) are written once, beside the segment (``MAIN_<segment>.arrays``), and read
back as array views of the mapped file: opening a generation costs no decoding, and every
worker process shares the pages. Layout::

    b"SSPK" | uint32 header length | header (JSON: {"meta": …, "arrays": {name: [dtype,
    count, offset]}}) | the arrays, each at an offset aligned to 8 bytes

Whoosh removes a segment's files (``MAIN_<segment>.*``) with the segment, so a pack lives and
dies with its segment. Strings are stored as one UTF-8 blob plus offsets
(:func:`pack_strings`, :class:`Strings`).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MAGIC = b"SSPK"
_LEN = struct.Struct("<I")


def write_pack(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    header: dict = {"meta": meta, "arrays": {}}
    offset = 0
    for name, array in arrays.items():
        a = np.ascontiguousarray(array)
        header["arrays"][name] = [a.dtype.str, int(a.size), offset]
        offset += -(-a.nbytes // 8) * 8
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    start = -(-(len(MAGIC) + _LEN.size + len(text)) // 8) * 8
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(MAGIC + _LEN.pack(len(text)) + text)
        fh.write(b"\0" * (start - fh.tell()))
        for array in arrays.values():
            data = np.ascontiguousarray(array).tobytes()
            fh.write(data)
            fh.write(b"\0" * (-len(data) % 8))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_pack(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a pack; the arrays are read-only views of the mapped file."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        buffer = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
    if buffer[:4] != MAGIC:
        raise ValueError(f"{path} is not an array pack")
    (length,) = _LEN.unpack_from(buffer, 4)
    header = json.loads(buffer[8: 8 + length].decode("utf-8"))
    start = -(-(8 + length) // 8) * 8
    arrays = {name: np.frombuffer(buffer, dtype=np.dtype(dtype), count=count,
                                  offset=start + offset)
              for name, (dtype, count, offset) in header["arrays"].items()}
    return header["meta"], arrays


def pack_strings(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(blob, offsets) of a list of strings: string i is ``blob[off[i]:off[i+1]]``."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.uint64)
    if encoded:
        offsets[1:] = np.cumsum([len(e) for e in encoded])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def concat_strings(parts: Sequence[tuple[Strings, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(blob, offsets) of the kept strings (``keep``: a bool per string) of several packed
    lists, in order, cut and joined as bytes: a merge of a million articles' ids, hashes and
    origins made no Python string of them (as lists they were most of the merge's memory)."""
    blobs: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    for strings, keep in parts:
        off = np.asarray(strings.offsets, dtype=np.int64)
        sizes = np.diff(off)
        blob = strings.blob[int(off[0]): int(off[-1])] if len(off) else strings.blob[:0]
        if keep.all():
            blobs.append(blob)
            lengths.append(sizes)
        else:
            blobs.append(blob[np.repeat(keep, sizes)])
            lengths.append(sizes[keep])
    offsets = np.zeros(sum(len(n) for n in lengths) + 1, dtype=np.uint64)
    if len(offsets) > 1:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    return (np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)).astype(np.uint8), offsets


class Strings:
    """A packed list of strings, decoded one at a time (or all at once when asked)."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray):
        self.blob = blob
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.blob[lo:hi].tobytes().decode("utf-8")

    def all(self) -> list[str]:
        text = self.blob.tobytes()
        bounds = self.offsets.tolist()
        return [text[a:b].decode("utf-8") for a, b in zip(bounds, bounds[1:], strict=False)]


LEXICON_KEY_BYTES = 32


def pack_lexicon(terms: Sequence[str]) -> dict[str, np.ndarray]:
    """A segment's sorted terms of one field: ``keys`` (each term's first
    :data:`LEXICON_KEY_BYTES` UTF-8 bytes, fixed width, for binary search in the mapped file)
    and the full terms as packed strings."""
    return pack_encoded_lexicon([t.encode("utf-8") for t in terms])


def pack_encoded_lexicon(encoded: Sequence[bytes]) -> dict[str, np.ndarray]:
    """:func:`pack_lexicon` of terms already UTF-8 (a merge reads them so)."""
    width = max(1, min(LEXICON_KEY_BYTES, max(map(len, encoded), default=1)))
    keys = np.array([b[:width] for b in encoded], dtype=f"S{width}")
    off = np.zeros(len(encoded) + 1, dtype=np.uint64)
    np.cumsum([len(b) for b in encoded], out=off[1:])
    return {"keys": keys, "blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
            "off": off}


class Lexicon:
    """One segment's sorted terms of a field, searched in place: expanding a prefix, wildcard
    or fuzzy term costs a few binary searches in the mapped keys, not reading every term of
    the segment into Python (at a million articles that read was most of a fuzzy query)."""

    def __init__(self, keys: np.ndarray, blob: np.ndarray, offsets: np.ndarray):
        self.keys = keys
        self.width = keys.dtype.itemsize
        self.terms = Strings(blob, offsets)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> str:
        return self.terms[i]

    def find(self, term: str) -> int:
        """The position of the first term ≥ ``term`` (UTF-8 byte order is code-point order,
        so this is Python's string order)."""
        # numpy's fixed-width bytes drop trailing NULs (the automaton asks for "term\0",
        # the next possible string), and keys are cut at ``width``: either way the terms that
        # share the key are then ordered by their full text.
        key = term.encode("utf-8")[: self.width].rstrip(b"\0")
        i = int(np.searchsorted(self.keys, np.bytes_(key), "left"))
        n = len(self.keys)
        while i < n and self.keys[i] == key and self.terms[i] < term:
            i += 1
        return i

    def span(self, prefix: str) -> tuple[int, int]:
        """Positions [lo, hi) of the terms starting with ``prefix``."""
        if not prefix:
            return 0, len(self.keys)
        return self.find(prefix), self.find(prefix + "\U0010ffff")


def story_key(story: str) -> int:
    """A 63-bit number for a story id: collapse and story counts compare these, across
    segments, without a dictionary of every story id."""
    import hashlib

    return int.from_bytes(hashlib.blake2b(story.encode("utf-8"), digest_size=8).digest(),
                          "little") >> 1
