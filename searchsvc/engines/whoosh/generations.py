"""Generations: complete index directories side by side, one of them served.

Layout of the index directory (the state directory of ``searchsvc.ingest`` holds it too)::

    index/
      current -> gen-…       symlink to the generation being served; replaced atomically
      gen-20261121T133000…/  a complete Whoosh index plus build.json, manifest.json,
                             vocabulary.json, phrases.json, stories.json
      gen-….tmp/             a generation being written (removed by the next writer if its
                             writer was killed)

A new generation is written beside the served one and made current with one ``rename()`` of a
symlink, so a reader sees the old index or the new one, never a mix. An update hard-links the
current generation's files into the new one (Whoosh never changes a segment file once written;
sidecar files are replaced, never edited, so the links stay intact) and adds a segment.
The :data:`KEEP_OLD` most recent other generations are kept: searchers still open on them
finish their requests, and ``rollback`` can return to them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

CURRENT = "current"
BUILD_INFO = "build.json"
MANIFEST = "manifest.json"
KEEP_OLD = 2
# What a generation's files look like (array postings and column packs since 2); an index
# written by an older searchsvc is not opened but rebuilt.
FORMAT = 2


def current_generation(index_dir: Path | str) -> Path | None:
    """The directory of the generation being served, or None if there is no built index."""
    link = Path(index_dir) / CURRENT
    try:
        target = os.readlink(link)
    except OSError:
        return None
    path = Path(index_dir) / target
    return path if path.is_dir() else None


def current_name(index_dir: Path | str) -> str | None:
    try:
        return os.readlink(Path(index_dir) / CURRENT)
    except OSError:
        return None


def read_json(path: Path, default: object = None) -> object:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return default


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def write_bytes(path: Path, data: bytes) -> None:
    """Write a new file and rename it over ``path`` (never edit a possibly hard-linked file:
    the generation it was linked from would change with it)."""
    tmp = path.with_name(path.name + ".new")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data: object) -> None:
    # dumps, not dump: json.dump streams through the pure-Python encoder (10x slower).
    write_bytes(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def read_record(generation: Path) -> dict:
    found = read_json(generation / BUILD_INFO, {})
    return found if isinstance(found, dict) else {}


def generations(index_dir: Path | str) -> list[Path]:
    """Every complete generation, oldest first."""
    root = Path(index_dir)
    return sorted(p for p in root.glob("gen-*")
                  if p.is_dir() and not p.name.endswith(".tmp") and (p / BUILD_INFO).exists())


def new_generation_dir(index_dir: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    path = index_dir / f"gen-{stamp}-{os.getpid()}.tmp"
    path.mkdir(parents=True)
    return path


def link_copy(src: Path, dst: Path) -> None:
    """Every file of generation ``src`` into ``dst`` as hard links (copies where impossible)."""
    for entry in src.iterdir():
        if entry.is_file() and not entry.name.endswith(".new"):
            try:
                os.link(entry, dst / entry.name)
            except OSError:
                shutil.copy2(entry, dst / entry.name)


def compatible(generation: Path) -> bool:
    return read_record(generation).get("format") == FORMAT


def publish(index_dir: Path, tmp: Path, record: dict) -> Path:
    """Seal ``tmp`` (its record written, renamed to its final name) and make it current."""
    write_json(tmp / BUILD_INFO, {**record, "format": FORMAT})
    final = tmp.with_name(tmp.name[: -len(".tmp")])
    os.rename(tmp, final)
    swap(index_dir, final)
    return final


def swap(index_dir: Path, generation: Path) -> None:
    tmp_link = index_dir / f"{CURRENT}.{os.getpid()}.new"
    tmp_link.unlink(missing_ok=True)
    os.symlink(generation.name, tmp_link)
    os.replace(tmp_link, index_dir / CURRENT)
    fsync_dir(index_dir)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_stale(index_dir: Path) -> None:
    """Remove what killed writers left behind and generations beyond the kept ones."""
    current = current_generation(index_dir)
    kept = [g for g in generations(index_dir)
            if current is None or g.resolve() != current.resolve()]
    abandoned = [t for t in index_dir.glob("gen-*.tmp") if not _writer_alive(t)]
    for stale in abandoned + kept[:-KEEP_OLD]:
        shutil.rmtree(stale, ignore_errors=True)
    for leftover in index_dir.glob(CURRENT + ".*.new"):
        leftover.unlink(missing_ok=True)


def _writer_alive(tmp: Path) -> bool:
    """Is the process that is writing ``gen-…-<pid>.tmp`` still running? (A full build writes
    its generation while updates publish theirs.)"""
    try:
        pid = int(tmp.name[: -len(".tmp")].rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


