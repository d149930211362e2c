"""Sources: the folders and files articles come from, every file accounted for.

A source is a folder (walked in sorted order, so ids and duplicate resolution are stable) or a
single file. Article files are recognised by extension, in any case: ``.txt`` (seed text),
``.jsonl`` and ``.jsonl.gz``. Inside a folder every other file is reported as skipped ("not an
article file"), so a folder of ``.md`` notes is never silently "indexed 0"; hidden files and
folders are ignored, and symlinks are followed only within the source folder (a source must not
be a way to index arbitrary files of the machine).

A file's state (size, modification time, inode) is what ``--update`` compares with the
manifest of the served generation: an unchanged file is not read again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from searchsvc.ingest.readers import Article, Problem, read_jsonl_file, read_text_file

TEXT_SUFFIX = ".txt"
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
NOT_ARTICLE = "not an article file (expected .txt, .jsonl or .jsonl.gz)"


def kind_of(name: str) -> str | None:
    """``text``, ``jsonl`` or None for a file name (extensions in any case)."""
    low = name.lower()
    if low.endswith(TEXT_SUFFIX):
        return "text"
    if low.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


def text_id(path: Path | str, root: Path) -> str:
    """A text file's id: its path under the source folder, without ``.txt``, with ``/``."""
    rel = os.path.relpath(path, os.path.abspath(root)).replace(os.sep, "/")
    return rel[: -len(TEXT_SUFFIX)]


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    ino: int

    @classmethod
    def of(cls, path: Path) -> FileState:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)

    def to_json(self) -> list[int]:
        return [self.size, self.mtime_ns, self.ino]


@dataclass(frozen=True)
class SourceFile:
    """An article file: ``key`` is its absolute path (its name in manifests: builds may run
    from anywhere), ``root`` the source folder its id is relative to."""

    key: str
    root: Path
    kind: str
    state: FileState

    @property
    def path(self) -> Path:
        return Path(self.key)


def iter_files(source: Path) -> Iterator[SourceFile | Problem]:
    """Every article file under ``source`` (sorted), and a problem for every other file."""
    if source.is_file():
        kind = kind_of(source.name)
        if kind is None:
            yield Problem(str(source), NOT_ARTICLE)
            return
        yield SourceFile(str(source.absolute()), source.parent, kind, FileState.of(source))
        return
    if not source.is_dir():
        yield Problem(str(source), "no such file or folder")
        return
    yield from _walk_dir(os.path.abspath(source), str(source), source, source.resolve())


def _walk_dir(folder: str, shown: str, root: Path, real_root: Path,
              ) -> Iterator[SourceFile | Problem]:
    """One folder, entries in sorted order, subfolders depth-first (``os.scandir``: one
    ``stat`` per file, the symlink check from the directory entry). Problems name files as
    the source was given (``shown``); manifests by absolute path."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield Problem(shown, f"cannot read: {exc.strerror or exc}")
        return
    subfolders = []
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue  # hidden files and folders
        path = entry.path
        display = os.path.join(shown, name)
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            yield Problem(display.encode("utf-8", "replace").decode("utf-8"),
                          "file name is not valid UTF-8 (an id must be text)")
            continue
        try:
            link = entry.is_symlink()
            if entry.is_dir():
                if link:
                    yield Problem(display, "symlinked folder not followed")
                else:
                    subfolders.append((path, display))
                continue
        except OSError as exc:
            yield Problem(display, f"cannot read: {exc.strerror or exc}")
            continue
        if name.endswith((".tmp", ".part", ".new")):
            continue  # files being written (an ingest, an editor)
        kind = kind_of(name)
        if kind is None:
            yield Problem(display, NOT_ARTICLE)
            continue
        if link and not Path(path).resolve().is_relative_to(real_root):
            yield Problem(display, "symlink points outside the source folder")
            continue
        try:
            st = entry.stat()
        except OSError as exc:
            yield Problem(display, f"cannot read: {exc.strerror or exc}")
            continue
        yield SourceFile(path, root, kind, FileState(st.st_size, st.st_mtime_ns, st.st_ino))
    for sub, sub_shown in subfolders:
        yield from _walk_dir(sub, sub_shown, root, real_root)


def read_file(found: SourceFile, max_bytes: int) -> Iterator[Article | Problem]:
    if found.kind == "text":
        yield from read_text_file(found.path, text_id(found.key, found.root), max_bytes)
    else:
        yield from read_jsonl_file(found.path, max_bytes)


def read_sources(sources: Iterable[Path | str], max_bytes: int = 10 * 1024 * 1024,
                 ) -> Iterator[Article | Problem]:
    """Read every article of every source, in a stable order. Duplicate ids are not resolved
    here (see :func:`collect`)."""
    for source in sources:
        for item in iter_files(Path(source)):
            if isinstance(item, Problem):
                yield item
            else:
                yield from read_file(item, max_bytes)


def collect(items: Iterable[Article | Problem]) -> tuple[dict[str, Article], list[Problem]]:
    """Resolve duplicate ids (the later article wins, with a warning) and split out problems."""
    articles: dict[str, Article] = {}
    problems: list[Problem] = []
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        earlier = articles.pop(item.id, None)
        if earlier is not None:
            problems.append(duplicate(item.path, item.id, earlier.path))
        articles[item.id] = item
    return articles, problems


def duplicate(path: str, article_id: str, earlier: str) -> Problem:
    return Problem(path, f"duplicate id {article_id!r}: replaces the article from {earlier}",
                   skipped=False)
