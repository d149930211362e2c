"""Builds: lock → plan → diff → enrich → the engine's writer → publish → report.

**A full build** plans the whole sources (JSONL parsed here, text files read by the engine's
writer processes), lets the engine write a new generation while stories are clustered, then —
holding the write lock only for this last step — catches up with whatever changed in the
sources while it ran (an article ingested over HTTP meanwhile is in the new generation), checks
the safety rail and publishes. The rail: a full build that would leave the served index with no
articles, or with fewer than half of them, changes nothing and fails unless ``allow_shrink``.

**An update** compares the sources with the manifest of the served generation: files with the
same size, modification time and inode are not read again; changed and new files are parsed,
and only articles whose content hash changed are written, as one new segment. New articles join
a story incrementally; words are counted in and out of the spelling vocabulary. An update that
finds nothing to change publishes nothing.

Every build leaves a record (``records``); its report says what it indexed, updated, removed,
skipped (with reasons) and how long it took.
"""

from __future__ import annotations

import datetime as dt
import functools
import multiprocessing
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from searchsvc.analysis import spelling_words
from searchsvc.engine import Collector, Engine, IndexedArticle
from searchsvc.errors import BuildError, ShrinkRefused, UsageError, write_failed
from searchsvc.ingest import records
from searchsvc.ingest.locks import BUILD_LOCK, WRITE_LOCK, Lock, release_inherited
from searchsvc.ingest.prepare import (
    Gathered,
    Work,
    file_of,
    headline_phrases,
    index_article,
    origin_of,
    prepare,
)
from searchsvc.ingest.readers import Article, Problem, line_spans, read_jsonl_file
from searchsvc.ingest.sources import SourceFile, duplicate, iter_files, read_file, text_id
from searchsvc.ingest.story_spool import cluster_spooled
from searchsvc.ingest.story_updates import assign_stories, hand_on_stories

Progress = Callable[[str, int, int], None]
WRITE_WAIT = 120.0  # seconds an update waits for another to publish
MANIFEST_VERSION = 1
# (ids of changed files) × (files) past which a diff takes one pass over every id instead.
FULL_DIFF_AT = 20_000_000
# A JSONL file at least this large is planned in pieces read at once (forking costs less).
PLAN_SPLIT_BYTES = 32 * 2**20


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
    build_id: str | None = None
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.skipped]

    def summary(self) -> dict:
        return {"mode": self.mode, "indexed": self.indexed, "updated": self.updated,
                "removed": self.removed, "unchanged": self.unchanged,
                "skipped": len(self.skipped), "warnings": len(self.warnings),
                "documents": self.documents, "seconds": round(self.seconds, 3),
                "generation": self.generation}

    def problem_list(self) -> list[dict]:
        return [{"path": p.path, "line": p.line, "reason": p.reason, "skipped": p.skipped}
                for p in self.problems]

    def to_dict(self) -> dict:
        out = self.summary()
        out["skipped"] = [{"path": p.path, "line": p.line, "reason": p.reason}
                          for p in self.skipped]
        out["warnings"] = [{"path": p.path, "line": p.line, "reason": p.reason}
                           for p in self.warnings]
        return out


# -- planning --------------------------------------------------------------------------------


@dataclass
class Plan:
    work: list[Work]
    problems: list[Problem]
    files: dict[str, SourceFile]                  # every article file seen, by manifest key
    file_ids: dict[str, dict[str, str | None]]    # file → every id it holds (hash if known)
    articles: int = 0                             # articles the work items hold


def plan(sources: Iterable[Path], max_bytes: int, procs: int = 1) -> Plan:
    """What a full build will index, holding no article in memory: the writer's processes
    read the files. Text-file ids come from paths; JSONL files are read once here to find
    their ids (and report bad lines), keeping only the line numbers of the articles to index.
    Duplicate ids are resolved now — the later source wins — so a bad duplicate cannot
    displace a good article. Each JSONL file becomes ``procs`` work items (every procs-th
    article), so its articles spread over the writer's processes."""
    winners: dict[str, tuple[int, int | None, str]] = {}  # id → (file, line, where)
    order: list[SourceFile] = []
    problems: list[Problem] = []
    files: dict[str, SourceFile] = {}
    file_ids: dict[str, dict[str, str | None]] = {}
    for source in sources:
        for found in iter_files(Path(source)):
            if isinstance(found, Problem):
                problems.append(found)
                continue
            files[found.key] = found
            fileno = len(order)
            order.append(found)
            ids = file_ids.setdefault(found.key, {})
            if found.kind == "text":
                key = text_id(found.key, found.root)
                if key in winners:
                    # A duplicate text file: read it now, so a bad one cannot displace a good
                    # article with the same id.
                    parsed = list(read_file(found, max_bytes))
                    problems.extend(p for p in parsed if isinstance(p, Problem))
                    good = [a for a in parsed if isinstance(a, Article)]
                    if not good:
                        continue
                    ids[key] = good[0].content_hash
                else:
                    ids[key] = None
                entries: list[tuple[str, int | None, str]] = [(key, None, str(found.path))]
            else:
                entries = []
                for got in _planned_lines(found, max_bytes, procs):
                    if isinstance(got, Problem):
                        problems.append(got)
                    else:
                        article_id, content_hash, lineno = got
                        ids[article_id] = content_hash
                        entries.append((article_id, lineno, f"{found.path}:{lineno}"))
            for key, line, where in entries:
                earlier = winners.pop(key, None)
                if earlier is not None:
                    problems.append(duplicate(where, key, earlier[2]))
                winners[key] = (fileno, line, where)
    # Work: a text file each; a JSONL file's chosen lines in procs interleaved shares.
    lines: dict[int, list[int]] = {}
    texts: list[int] = []
    for fileno, line, _ in winners.values():
        if line is None:
            texts.append(fileno)
        else:
            lines.setdefault(fileno, []).append(line)
    del winners
    work = [Work(order[f]) for f in sorted(texts)]
    for fileno in sorted(lines):
        chosen = sorted(lines[fileno])
        for share in range(max(procs, 1)):
            part = chosen[share::max(procs, 1)]
            if part:
                work.append(Work(order[fileno], lines=array("I", part)))
    return Plan(work, problems, files, file_ids, len(texts) + sum(map(len, lines.values())))


def _planned_lines(found: SourceFile, max_bytes: int, procs: int,
                   ) -> Iterator[Problem | tuple[str, str, int]]:
    """(id, content hash, line number) of each article of a JSONL file, and its problems, in
    file order. A large uncompressed file is read in ``procs`` pieces at once, the first here
    and the others in forked processes (reading it is all a build does before its writers
    start: a minute at a million articles, with a core idle)."""
    spans = [None] if found.path.name.lower().endswith(".gz") or procs < 2 \
        or found.state.size < PLAN_SPLIT_BYTES else line_spans(found.path, procs)
    if len(spans) == 1:
        yield from _lines_of(found.path, max_bytes, spans[0])
        return
    with ProcessPoolExecutor(len(spans) - 1, mp_context=multiprocessing.get_context("fork"),
                             initializer=release_inherited) as pool:
        later = [pool.submit(_read_lines, found.path, max_bytes, span) for span in spans[1:]]
        yield from _lines_of(found.path, max_bytes, spans[0])
        for piece in later:
            yield from piece.result()


def _lines_of(path: Path, max_bytes: int, span: tuple[int, int] | None,
              ) -> Iterator[Problem | tuple[str, str, int]]:
    for got in read_jsonl_file(path, max_bytes, span=span):
        if isinstance(got, Problem):
            yield got
        else:
            yield got.id, got.content_hash, int(got.path.rsplit(":", 1)[1])


def _read_lines(path: Path, max_bytes: int, span: tuple[int, int] | None,
                ) -> list[Problem | tuple[str, str, int]]:
    return list(_lines_of(path, max_bytes, span))


def _check_sources(sources: Sequence[Path]) -> None:
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        # A mistyped path must not replace the served index with an empty one.
        raise UsageError(f"no such source: {', '.join(missing)}; index unchanged")
    if not sources:
        raise UsageError("no source given, and the index records none; name a folder or file")


def _check_strict(strict: bool, problems: list[Problem]) -> None:
    skipped = [p for p in problems if p.skipped]
    if strict and skipped:
        refused = BuildError(f"--strict: {len(skipped)} file(s) skipped, index unchanged:\n"
                             + "\n".join(f"  {p}" for p in skipped[:50]))
        refused.problems = []  # listed in the message
        raise refused


def _served_documents(engine: Engine) -> int:
    if not engine.has_index():
        return 0
    try:
        return engine.snapshot().info().documents
    except Exception:
        return 0


def _check_shrink(before: int, after: int, allow_shrink: bool, skipped: int) -> None:
    if allow_shrink or before == 0:
        return
    if after == 0:
        why = f" ({skipped} file(s) skipped)" if skipped else ""
        raise ShrinkRefused(
            f"this build found no articles{why}; the served index has {before:,}. Nothing was "
            "changed. Check the source, or pass --allow-shrink to replace it anyway")
    if after < before / 2:
        raise ShrinkRefused(
            f"this build has {after:,} articles, fewer than half of the {before:,} the served "
            "index has. Nothing was changed. Check the source, or pass --allow-shrink to "
            "replace it anyway")


# -- manifests -------------------------------------------------------------------------------


def _manifest(sources: Sequence[Path], files: dict[str, SourceFile],
              file_ids: dict[str, dict[str, str | None]],
              indexed: dict[str, dict[str, str]], carried: dict[str, dict] | None = None,
              order: Sequence[str] | None = None, problems: Sequence[Problem] = ()) -> dict:
    # What was skipped in each file is kept with it: an update does not read an unchanged
    # file again, and must still report (and, with --strict, refuse) what stays skipped.
    skipped: dict[str, list[dict]] = {}
    for p in problems:
        if p.skipped:
            skipped.setdefault(str(Path(p.path).absolute()), []).append(
                {"reason": p.reason, "line": p.line})
    out = {}
    for key in order if order is not None else files:
        if carried and key in carried:
            out[key] = carried[key]
            continue
        found = files[key]
        ids = {i: h for i, h in file_ids.get(key, {}).items() if h is not None}
        ids.update(indexed.get(key, {}))
        out[key] = {"kind": found.kind, "state": found.state.to_json(), "ids": ids}
        if key in skipped:
            out[key]["skipped"] = skipped[key]
    return {"version": MANIFEST_VERSION, "sources": [str(Path(s).absolute()) for s in sources],
            "files": out}


@dataclass
class Changes:
    """What differs between a manifest and the sources now."""

    add: list[IndexedArticle | Article] = field(default_factory=list)
    change: list[Article] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: dict[str, SourceFile] = field(default_factory=dict)
    file_ids: dict[str, dict[str, str | None]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # id → origin of added/changed
    carried: dict[str, dict] = field(default_factory=dict)  # manifest entries kept as they are
    order: list[str] = field(default_factory=list)  # every file, in source order

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.delete)


def _walk(sources: Sequence[Path], paths: Sequence[Path] | None, old_files: dict,
          recorded: Sequence[str] = ()) -> Iterable[SourceFile | Problem | str]:
    """The files to compare: every file of the sources, or — when the caller knows what it
    changed (an ingest) — the manifest's files as they were (their keys) plus ``paths``, and
    every file of a source the manifest does not ``recorded`` yet."""
    if paths is None:
        for source in sources:
            yield from iter_files(Path(source))
        return
    wanted = {str(Path(p).absolute()) for p in paths}
    roots = [Path(s).absolute() for s in sources]
    for key in old_files:
        if key not in wanted:
            yield key
    for root in roots:
        if str(root) in recorded:
            continue
        # A source new to this index (the ingest folder, the first time it holds anything)
        # may hold more than the caller changed: articles ingested while a full build that
        # did not read the folder ran, and were left out of what it published. Read it all,
        # or they would stay out until the next full build.
        for found in iter_files(root):
            if isinstance(found, Problem) or (found.key not in old_files
                                              and found.key not in wanted):
                yield found
    for p in paths:
        path = Path(p).absolute()
        if not path.exists():
            continue
        root = next((r for r in roots if path.is_relative_to(r)), path.parent)
        yield from (f if isinstance(f, Problem) else SourceFile(f.key, root, f.kind, f.state)
                    for f in iter_files(path))


def diff(manifest: dict, sources: Sequence[Path], max_bytes: int,
         paths: Sequence[Path] | None = None) -> Changes:
    """Compare ``manifest`` with the sources: unchanged files are not read, and only the ids
    of files that changed (or went) are looked at — not every id of the archive — unless so
    many changed that one pass over all of them is cheaper."""
    old_files: dict = manifest.get("files", {})
    changes = Changes()
    parsed: dict[str, list[Article]] = {}
    walked: dict[str, SourceFile] = {}  # unchanged files found by the walk (not read)
    order: list[str] = []
    for found in _walk(sources, paths, old_files, manifest.get("sources", [])):
        if isinstance(found, str):  # a file the caller did not change
            order.append(found)
            changes.carried[found] = old_files[found]
            if "skipped" in old_files[found]:
                changes.problems.extend(_still_skipped(found, old_files[found]))
            continue
        if isinstance(found, Problem):
            changes.problems.append(found)
            continue
        order.append(found.key)
        old = old_files.get(found.key)
        if old is not None and old.get("state") == found.state.to_json():
            # Its manifest entry goes into the new manifest as it is.
            changes.carried[found.key] = old
            walked[found.key] = found
            if "skipped" in old:
                changes.problems.extend(_still_skipped(found.key, old))
            continue
        changes.files[found.key] = found
        articles = []
        for got in read_file(found, max_bytes):
            if isinstance(got, Problem):
                changes.problems.append(got)
            else:
                articles.append(got)
        parsed[found.key] = articles
        changes.file_ids[found.key] = {a.id: a.content_hash for a in articles}
    changes.order = order
    now = set(order)
    gone = [key for key in old_files if key not in now]

    def old_ids(key: str) -> dict:
        return old_files.get(key, {}).get("ids", {})

    def new_ids(key: str) -> dict:
        found = changes.file_ids.get(key)
        return found if found is not None else old_ids(key)

    # The ids whose article may differ: those of changed, new and removed files, before and
    # after. Every other id is held by the same unchanged files as before, so it wins from
    # the same file with the same text.
    touched: set[str] = set()
    for key in [*changes.files, *gone]:
        touched.update(old_ids(key))
        touched.update(changes.file_ids.get(key, {}))
    if not touched:  # nothing read differs: no id to look up
        old_winner, new_winner = {}, {}
    elif len(touched) * (len(old_files) + len(order)) > FULL_DIFF_AT:
        old_winner = _winners(list(old_files), old_ids)
        new_winner = _winners(order, new_ids)
    else:
        old_winner = _winners(list(old_files), old_ids, touched)
        new_winner = _winners(order, new_ids, touched)
    lost: list[str] = []
    for article_id, (key, content_hash) in new_winner.items():
        before = old_winner.get(article_id)
        if before is not None and before[1] == content_hash:
            continue
        if key not in changes.files and before is not None and before[0] == key:
            continue  # a file not read, that already won: nothing changed
        # A file not read can still win an id now: the ingested article that shadowed its
        # article is deleted, so the source's version is indexed again (as a full build of
        # the sources would), not the deleted one kept.
        found = (changes.files.get(key) or walked.get(key)
                 or _carried_file(key, old_files[key], sources))
        article = _article_from(parsed, found, article_id, max_bytes)
        if article is None:
            if before is not None:  # gone from its file since: no version of it to keep
                lost.append(article_id)
            continue
        changes.origins[article_id] = origin_of(article, found)
        if before is None:
            changes.add.append(article)
        else:
            changes.change.append(article)
    changes.delete = [i for i in old_winner if i not in new_winner] + lost
    for article_id, (key, _hash) in new_winner.items():
        earlier = old_winner.get(article_id, (key,))[0]
        # A duplicate only while the earlier file still holds the id: the source article a
        # deleted ingested one shadowed replaces nothing when it comes back.
        if (earlier != key and article_id in changes.origins
                and article_id in new_ids(earlier)):
            changes.problems.append(duplicate(key, article_id, earlier))
    return changes


def _carried_file(key: str, entry: dict, sources: Sequence[Path]) -> SourceFile:
    """A file of the manifest that was not looked at, as :func:`_walk` would have found it
    (a text file's id is its path under the source folder holding it)."""
    from searchsvc.ingest.sources import FileState  # here: the module's imports are shared

    path = Path(key)
    roots = [Path(s).absolute() for s in sources]
    root = next((r for r in roots if r.is_dir() and path.is_relative_to(r)), path.parent)
    size, mtime_ns, ino = (list(entry.get("state") or []) + [0, 0, 0])[:3]
    return SourceFile(key, root, entry.get("kind", "text"), FileState(size, mtime_ns, ino))


def _still_skipped(key: str, entry: dict) -> list[Problem]:
    """What the manifest says was skipped in an unchanged file (it is not read again)."""
    return [Problem(key, p.get("reason", "skipped"), p.get("line")) for p in
            entry.get("skipped", []) if isinstance(p, dict)]


def _winners(order: list[str], ids_of: Callable[[str], dict],
             among: set[str] | None = None) -> dict[str, tuple[str, str | None]]:
    """id → (file, content hash) of the article each id (of ``among``, default all) is
    indexed from: the last file, in source order, that holds it."""
    out: dict[str, tuple[str, str | None]] = {}
    for key in order:
        held = ids_of(key)
        if among is None:
            out.update((i, (key, h)) for i, h in held.items())
        elif len(held) <= len(among):
            out.update((i, (key, h)) for i, h in held.items() if i in among)
        else:
            out.update((i, (key, held[i])) for i in among if i in held)
    return out


def _article_from(parsed: dict[str, list[Article]], found: SourceFile, article_id: str,
                  max_bytes: int) -> Article | None:
    articles = parsed.get(found.key)
    if articles is None:  # an unchanged file that now wins a duplicate id
        articles = parsed[found.key] = [a for a in read_file(found, max_bytes)
                                        if isinstance(a, Article)]
    return next((a for a in reversed(articles) if a.id == article_id), None)


# -- full builds -----------------------------------------------------------------------------


def full_build(engine: Engine, index_dir: Path | str, sources: Sequence[Path | str], *,
               strict: bool = False, allow_shrink: bool = False,
               max_bytes: int = 10 * 1024 * 1024, procs: int = 2,
               progress: Progress | None = None, build_id: str | None = None) -> BuildReport:
    index_dir = Path(index_dir)
    srcs = [Path(s) for s in sources]
    _check_sources(srcs)
    started = time.perf_counter()
    report = BuildReport(mode="full", sources=[str(s) for s in srcs])
    with Lock(index_dir, BUILD_LOCK, what="another full build"):
        record = records.start(index_dir, build_id, "full", report.sources)
        report.build_id = record["id"]
        try:
            _full(engine, index_dir, srcs, report, strict=strict, allow_shrink=allow_shrink,
                  max_bytes=max_bytes, procs=procs, progress=progress, started=started)
        except BaseException as exc:
            report.seconds = time.perf_counter() - started
            report.generation = None  # named before publish; nothing was published
            _note_problems(exc, report)
            records.finish(index_dir, record, summary=report.summary(),
                           problems=report.problem_list(), generation=None,
                           error=str(getattr(exc, "detail", exc)) or type(exc).__name__)
            raise
        records.finish(index_dir, record, summary=report.summary(),
                       problems=report.problem_list(), generation=report.generation)
    return report


def _full(engine: Engine, index_dir: Path, srcs: list[Path], report: BuildReport, *,
          strict: bool, allow_shrink: bool, max_bytes: int, procs: int,
          progress: Progress | None, started: float) -> None:
    planned = plan(srcs, max_bytes, procs)
    report.problems = list(planned.problems)
    _check_strict(strict, report.problems)
    writer = engine.full_writer()
    gathered = Gathered()
    try:
        stories: dict[str, str] = {}

        def clustered(collected: Collector) -> None:  # while the engine writes segments
            assert isinstance(collected, Gathered)
            if progress:
                progress("stories", collected.documents, collected.documents)
            assert collected.spool is not None
            stories.update(cluster_spooled(collected.spool))
            collected.close()  # the spooled term counts are not needed any more

        writer.add_all(planned.work, functools.partial(prepare, max_bytes=max_bytes),
                       gathered, procs, progress, clustered, total=planned.articles)
        report.problems.extend(gathered.problems)
        report.indexed = gathered.documents
        _check_strict(strict, report.problems)
        with Lock(index_dir, WRITE_LOCK, wait=WRITE_WAIT):
            manifest = _manifest(srcs, planned.files, planned.file_ids, gathered.files,
                                 problems=report.problems)
            caught = diff(manifest, srcs, max_bytes)
            if not caught.empty:
                # Changed while this build ran (an ingest, an edit): apply it here too.
                _apply(writer, caught, gathered, stories=None, snapshot=None)
                manifest = _manifest(srcs, caught.files, caught.file_ids, {}, caught.carried,
                                     caught.order, problems=caught.problems)
                report.notes.append(f"caught up with {len(caught.add)} new, "
                                    f"{len(caught.change)} changed and {len(caught.delete)} "
                                    "removed articles while building")
            documents = gathered.documents + len(caught.add) - len(caught.delete)
            report.documents = documents
            _check_shrink(_served_documents(engine), documents, allow_shrink,
                          len(report.skipped))
            # What the manifest, the stories and the vocabulary were made from is let go
            # before publishing: the engine's last step (merging what its workers wrote) is
            # a build's largest, and at a million articles these were half a gigabyte of it.
            del planned
            gathered.files.clear()
            writer.set_stories(stories)
            stories.clear()
            writer.set_vocabulary(gathered.words, gathered.phrases)
            gathered.words, gathered.phrases = Counter(), Counter()
            report.seconds = time.perf_counter() - started
            report.generation = writer.generation
            report.generation = writer.publish(_generation_record(report), manifest)
            report.seconds = time.perf_counter() - started
    except OSError as exc:  # a write the engine did not report itself (disk full, read-only)
        writer.abort()
        raise write_failed(exc) from exc
    except BaseException:
        writer.abort()
        raise
    finally:
        gathered.close()  # the story spool's files, also when the build fails


def _note_problems(exc: BaseException, report: BuildReport) -> None:
    """A refused or failed build still says what it skipped, and why."""
    if isinstance(exc, BuildError) and exc.problems is None:
        exc.problems = list(report.problems)


def _generation_record(report: BuildReport) -> dict:
    return {
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(report.seconds, 3),
        "sources": [str(Path(s).absolute()) for s in report.sources],
        "documents": report.documents,
        "mode": report.mode,
        "build": report.build_id,
        "summary": report.summary(),
        "problems": report.problem_list(),
    }


# -- updates ---------------------------------------------------------------------------------


def update(engine: Engine, index_dir: Path | str, sources: Sequence[Path | str] | None = None,
           *, strict: bool = False, allow_shrink: bool = False,
           max_bytes: int = 10 * 1024 * 1024, progress: Progress | None = None,
           build_id: str | None = None, procs: int = 2,
           paths: Sequence[Path] | None = None) -> BuildReport:
    """Apply what changed in the sources (default: the sources the index was built from);
    with ``paths``, only those files are looked at (the caller changed nothing else).
    Like a full build, an update that would remove every article or more than half of them
    is refused unless ``allow_shrink``."""
    index_dir = Path(index_dir)
    started = time.perf_counter()
    if not engine.has_index():
        if not sources:
            raise UsageError(f"there is no index in {index_dir} to update; name a source to "
                             "build it from")
        report = full_build(engine, index_dir, sources, strict=strict, max_bytes=max_bytes,
                            procs=procs, progress=progress, build_id=build_id)
        report.notes.append("there was no index yet: built it in full")
        return report
    report = BuildReport(mode="update")
    with Lock(index_dir, WRITE_LOCK, wait=WRITE_WAIT, what="another update"):
        manifest = engine.manifest()
        if sources:
            srcs = [Path(s) for s in sources]
        else:
            srcs = [Path(s) for s in manifest.get("sources", [])]
            report.notes.append("using the sources recorded in the index: "
                                + ", ".join(str(s) for s in srcs))
        report.sources = [str(s) for s in srcs]
        _check_sources(srcs)
        changes = diff(manifest, srcs, max_bytes, paths)
        report.problems = changes.problems
        _check_strict(strict, report.problems)
        snapshot = engine.snapshot()
        # Every served article is one of the sources' (the manifest's) winners: those not
        # removed or rewritten are unchanged (counted without a pass over every id).
        report.unchanged = (snapshot.info().documents - len(changes.delete)
                            - len(changes.change))
        if changes.empty:
            report.documents = snapshot.info().documents
            report.generation = snapshot.generation
            report.seconds = time.perf_counter() - started
            return report
        record = records.start(index_dir, build_id, "update", report.sources)
        report.build_id = record["id"]
        writer = engine.update_writer()
        try:
            gathered = Gathered(stories=False)  # stories come from searching the index
            _apply(writer, changes, gathered, stories={}, snapshot=snapshot)
            report.indexed, report.updated = len(changes.add), len(changes.change)
            report.removed = len(changes.delete)
            before = snapshot.info().documents
            report.documents = before + report.indexed - report.removed
            _check_shrink(before, report.documents, allow_shrink, len(report.skipped))
            new_manifest = _manifest(srcs, changes.files, changes.file_ids, {},
                                     changes.carried, changes.order, problems=changes.problems)
            report.seconds = time.perf_counter() - started
            report.generation = writer.generation
            report.generation = writer.publish(_generation_record(report), new_manifest)
        except BaseException as exc:
            writer.abort()
            report.generation = None  # named before publish; nothing was published
            failure = write_failed(exc) if isinstance(exc, OSError) else exc
            _note_problems(failure, report)
            records.finish(index_dir, record, summary=report.summary(),
                           problems=report.problem_list(), generation=None,
                           error=str(getattr(failure, "detail", failure))
                           or type(failure).__name__)
            if failure is not exc:
                raise failure from exc
            raise
        report.seconds = time.perf_counter() - started
        records.finish(index_dir, record, summary=report.summary(),
                       problems=report.problem_list(), generation=report.generation)
    return report


def _apply(writer, changes: Changes, gathered: Gathered, *, stories: dict | None,
           snapshot) -> None:
    """Write ``changes`` through ``writer``: deletions first (a changed article's old version
    goes), then the new and changed articles as one batch, stories and vocabulary adjusted."""
    removed = changes.delete + [a.id for a in changes.change]
    articles = [a if isinstance(a, IndexedArticle) else
                index_article(a, changes.origins.get(a.id, a.path))
                for a in [*changes.add, *changes.change]]
    old = snapshot.documents(removed) if snapshot is not None else []
    writer.delete(removed)
    if snapshot is not None:
        assigned = assign_stories(snapshot, articles)
        for article in articles:
            article.story = assigned.get(article.id, article.id)
        handed = hand_on_stories(snapshot, changes.delete, {a.id for a in articles})
        writer.add_all(articles, _itself, gathered)
        writer.set_stories(handed)
        words, phrases = Counter(gathered.words), Counter(gathered.phrases)
        for gone in old:
            if gone is not None:
                words.subtract(spelling_words(f"{gone.title}\n{gone.body}"))
                phrases.subtract(headline_phrases(gone.title))
        writer.change_vocabulary(words, phrases)
    else:
        writer.add_all(articles, _itself, gathered)


def _itself(article: object) -> Iterable[object]:
    return (article,)


# -- the command line's entry --------------------------------------------------------------


def build(index_dir: Path | str, sources: Sequence[Path | str] | None = None, *,
          update_only: bool = False, strict: bool = False, allow_shrink: bool = False,
          max_bytes: int = 10 * 1024 * 1024, procs: int = 2, progress: Progress | None = None,
          engine: Engine | None = None, build_id: str | None = None) -> BuildReport:
    """A full build (or an update) of the Whoosh index in ``index_dir`` — the short way for
    tests and scripts; the CLI passes the configured engine."""
    if engine is None:
        from searchsvc.engines.whoosh.engine import WhooshEngine

        engine = WhooshEngine(index_dir)
    try:
        if update_only:
            return update(engine, index_dir, sources, strict=strict, allow_shrink=allow_shrink,
                          max_bytes=max_bytes, progress=progress, build_id=build_id,
                          procs=procs)
        return full_build(engine, index_dir, list(sources or []), strict=strict,
                          allow_shrink=allow_shrink, max_bytes=max_bytes, procs=procs,
                          progress=progress, build_id=build_id)
    finally:
        engine.close()


def origin_file(origin: str) -> str:
    return file_of(origin)
