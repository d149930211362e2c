"""The ``searchsvc`` command (contract §2 and §5): index, serve, search, stats, generations,
rollback.

Options name the settings of ``config.SETTINGS`` and read the same ``SEARCHSVC_*`` environment
variables, so a flag beats the environment, which beats the default. Every failure is a
:class:`~searchsvc.errors.ServiceError`: printed as ``error: …`` with the exit code it carries
(1 for a failure, 2 for a usage error), never a traceback.
"""

from __future__ import annotations

import functools
import html
import json
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from searchsvc import config
from searchsvc.errors import ServiceError


def _option(name: str, *decls: str, **kwargs: Any) -> Callable:
    s = config.BY_NAME[name]
    kwargs.setdefault("default", s.default)
    kwargs.setdefault("show_default", True)
    if s.type is not str and "type" not in kwargs:
        kwargs["type"] = s.type
    return click.option(*(decls or (f"--{name.replace('_', '-')}",)), name, envvar=s.envvar,
                        help=s.help, **kwargs)


def _quiet_whoosh() -> None:
    # Whoosh 2.7.4 compiles regexes with invalid escapes; its SyntaxWarnings are not ours.
    warnings.filterwarnings("ignore", category=SyntaxWarning, module=r"whoosh(\..*)?")


def _fails_cleanly(command: Callable) -> Callable:
    """Print a ServiceError as ``error: …`` and exit with its code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ServiceError as exc:
            click.echo(f"error: {exc.detail}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _engine_options(command: Callable) -> Callable:
    for name in reversed(("engine", "opensearch_url", "opensearch_user", "opensearch_password",
                          "opensearch_ca", "opensearch_index", "opensearch_shards",
                          "opensearch_replicas", "max_terms")):
        command = _option(name)(command)
    return command


def _settings(index: str, **given: Any) -> dict[str, Any]:
    settings = config.from_env()
    settings["INDEX"] = index
    settings.update({k.upper(): v for k, v in given.items() if v is not None})
    return settings


def _engine(settings: dict[str, Any]):
    from searchsvc.engines import open_engine

    return open_engine(settings)


class _Progress:
    """A one-line progress display, only when stderr is a terminal: what the build is doing
    (reading, indexing, clustering stories, writing segments) and how far it is."""

    LABELS = {"index": "indexing", "write": "writing segments", "stories": "clustering stories",
              "read": "reading"}

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0
        self.phase = ""
        self.left: set[str] = set()
        self.width = 0
        self.started = time.monotonic()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        # Counts within a phase are throttled (a redraw every 0.1 s is enough to see them
        # move), but a new phase is always shown: phases can follow each other within
        # microseconds, and the line must not go on naming one that has ended. A phase once
        # left is not shown again: a parallel build keeps reporting its finished indexing
        # count while it clusters stories and writes segments.
        if phase in self.left or (phase == self.phase and now - self.last < 0.1):
            return
        if phase != self.phase and self.phase:
            self.left.add(self.phase)
        self.last = now
        self.phase = phase
        of = f"/{total:,}" if total else ""
        label = self.LABELS.get(phase, phase)
        rate = done / max(now - self.started, 1e-6)
        speed = f" ({rate:,.0f}/s)" if phase == "index" and rate >= 1 else ""
        line = f"{label}: {done:,}{of} articles{speed}"
        # Padded to the previous line's width, so a shorter line leaves none of it behind.
        sys.stderr.write("\r" + line.ljust(self.width))
        self.width = len(line)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def summary_line(report) -> str:
    counts = (f"indexed {report.indexed:,}, updated {report.updated:,}, "
              f"removed {report.removed:,}, unchanged {report.unchanged:,}, "
              f"skipped {len(report.skipped):,}, warnings {len(report.warnings):,}")
    rate = ""
    written = report.indexed + report.updated
    if report.seconds and written >= 100:
        rate = f" ({written / report.seconds:,.0f} articles/s)"
    return (f"{report.mode} build: {counts}; {_plural(report.documents, 'document')} in "
            f"{report.seconds:.2f} s{rate}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """searchsvc: full-text search for news archives."""
    _quiet_whoosh()


def run_build(settings: dict[str, Any], sources: list[str], update: bool = False,
              strict: bool = False, allow_shrink: bool = False, quiet: bool = False,
              build_id: str | None = None, changed_only: bool = False) -> int:
    from searchsvc.ingest import build, ingested

    progress = _Progress()
    index_dir = Path(settings["INDEX"])
    folder = ingested.ingest_dir(index_dir, settings.get("INGEST_DIR"))
    engine = _engine(settings)
    max_bytes = int(float(settings["MAX_FILE_MB"]) * 1024 * 1024)
    try:
        if update:
            srcs = ingested.with_ingest_dir(sources, folder) if sources else None
            recorded = ingested.recorded_sources(engine) if srcs is None else []
            note = None
            if recorded and ingested.missed(recorded, folder):
                # Articles were ingested (their files written) but the index does not record
                # the ingest folder yet: the first ingest was cut short (a killed server), or
                # ran during a full build. They were accepted: apply them with the recorded
                # sources (serve runs this update when it starts).
                srcs = ingested.with_ingest_dir(recorded, folder)
                note = ("using the sources recorded in the index: "
                        + ", ".join(str(s) for s in recorded) + f"; and the ingest folder {folder}")
            report = build.update(engine, index_dir, srcs, strict=strict,
                                  allow_shrink=allow_shrink, max_bytes=max_bytes,
                                  progress=progress, build_id=build_id,
                                  procs=int(settings["BUILD_PROCS"]))
            if note:
                report.notes.insert(0, note)
        else:
            srcs = ingested.with_ingest_dir(sources, folder)
            report = build.full_build(engine, index_dir, srcs,
                                      strict=strict, allow_shrink=allow_shrink,
                                      max_bytes=max_bytes, procs=int(settings["BUILD_PROCS"]),
                                      progress=progress, build_id=build_id)
            if ingested.missed(srcs, folder):
                # The ingest folder was empty when the build started, so it read none of it;
                # articles posted while it ran were searchable, and are not in what it
                # published. Apply them now, so no accepted article is lost.
                caught = build.update(engine, index_dir, ingested.with_ingest_dir(srcs, folder),
                                      allow_shrink=allow_shrink, max_bytes=max_bytes,
                                      procs=int(settings["BUILD_PROCS"]))
                report.notes.append(f"caught up with {caught.indexed} article(s) ingested "
                                    f"while building, from {folder}")
                report.documents, report.generation = caught.documents, caught.generation
    except ServiceError as exc:
        progress.close()
        click.echo(f"error: {exc.detail}", err=True)
        for p in getattr(exc, "problems", None) or ():
            click.echo(f"{'skipped' if p.skipped else 'warning'} {p}", err=True)
        return exc.exit_code
    finally:
        engine.close()
    progress.close()
    if changed_only and not (report.indexed or report.updated or report.removed):
        return 0  # --watch: a look that found nothing new says nothing
    for note in report.notes:
        click.echo(note, err=True)
    for p in report.skipped:
        click.echo(f"skipped {p}", err=True)
    for p in report.warnings:
        click.echo(f"warning {p}", err=True)
    if not quiet:
        click.echo(summary_line(report))
    return 0


@main.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=str))
@_option("index")
@click.option("--update", is_flag=True,
              help="Add new and changed articles, remove deleted ones (default sources: the "
                   "ones the index was built from).")
@click.option("--strict", is_flag=True, help="Fail (exit 1, index untouched) if any file is "
                                             "skipped.")
@click.option("--allow-shrink", is_flag=True,
              help="Let this build replace the served index with one that has no articles or "
                   "fewer than half of them.")
@click.option("--watch", is_flag=True, help="Keep looking for changes and apply them "
                                            "(every --watch-seconds).")
@_option("watch_seconds")
@_option("max_file_mb")
@_option("build_procs", "--procs")
@_option("build_memory_mb", "--memory-mb")
@_option("ingest_dir")
@click.option("--build-id", hidden=True, help="Record the build under this id (reindex).")
@_engine_options
def index(sources: tuple[str, ...], index: str, update: bool, strict: bool, allow_shrink: bool,
          watch: bool, watch_seconds: float, max_file_mb: float, build_procs: int,
          build_memory_mb: float, ingest_dir: str, build_id: str | None, **engine: Any) -> None:
    """Build the index from SOURCES (folders or files; default: the configured source, or for
    --update the sources the index records)."""
    settings = _settings(index, max_file_mb=max_file_mb, build_procs=build_procs,
                         build_memory_mb=build_memory_mb, ingest_dir=ingest_dir, **engine)
    srcs = list(sources)
    if not srcs and not update:
        srcs = [config.setting("source")]
    code = run_build(settings, srcs, update, strict, allow_shrink, build_id=build_id)
    if not watch or code not in (0,):
        sys.exit(code)
    click.echo(f"watching for changes every {watch_seconds:g} s (Ctrl-C to stop)", err=True)
    # Ctrl-C (or SIGTERM) stops the watch once the update under way has published: an
    # interrupt raised inside it could land in library code that swallows it, and the watch
    # would go on. A second Ctrl-C interrupts at once.
    stop = threading.Event()

    def stopping(signum: int, _frame: object) -> None:
        stop.set()
        signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM
                      else signal.default_int_handler)

    signal.signal(signal.SIGINT, stopping)
    signal.signal(signal.SIGTERM, stopping)
    try:
        while not stop.wait(max(watch_seconds, 0.1)):
            run_build(settings, srcs, True, strict, allow_shrink, changed_only=True)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


@main.command()
@_option("host")
@_option("port")
@_option("index")
@_option("source")
@_option("workers")
@_option("ingest_dir")
@_option("postings_cache_mb")
@_engine_options
def serve(host: str, port: int, index: str, source: str, workers: int, ingest_dir: str,
          postings_cache_mb: float, **engine: Any) -> None:
    """Serve the API and the search page (builds the index first if there is none)."""
    settings = _settings(index, source=source, ingest_dir=ingest_dir,
                         postings_cache_mb=postings_cache_mb, **engine)
    from searchsvc.server import run

    try:
        run(host=host, port=port, settings=settings, workers=workers, build=run_build)
    except ServiceError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(exc.exit_code)


@main.command()
@click.argument("query", default="")
@_option("index")
@click.option("--from", "date_from", help="Inclusive start date (a day, month or year).")
@click.option("--to", "date_to", help="Inclusive end date (a day, month or year).")
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]))
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--collapse/--no-collapse", default=True, show_default=True,
              help="Show each story once, with its other versions listed under it.")
@click.option("--json", "as_json", is_flag=True, help="Print the GET /api/search document.")
@_engine_options
@_fails_cleanly
def search(query: str, index: str, date_from: str | None, date_to: str | None,
           sort: str | None, limit: int, collapse: bool, as_json: bool, **engine: Any) -> None:
    """Search from the terminal."""
    from searchsvc.core import search as core
    from searchsvc.core.params import parse_search_args
    from searchsvc.errors import InvalidParameter

    settings = _settings(index, **engine)
    # The server's limit, so a query the API would refuse is refused here too; named as the
    # command line names it (QUERY), not as the API's q.
    most = int(settings["MAX_QUERY_CHARS"])
    if len(query.strip()) > most:
        raise InvalidParameter(f"QUERY is longer than {most:,} characters "
                               "(SEARCHSVC_MAX_QUERY_CHARS)", code="query_too_long")
    args = {"q": query, "from": date_from, "to": date_to, "sort": sort, "per_page": str(limit),
            "collapse": str(collapse).lower()}
    sq = parse_search_args({k: v for k, v in args.items() if v is not None}, most)
    eng = _engine(settings)
    try:
        snap = eng.snapshot()
        result = core.search(snap, sq)
        _print_results(result, snap, collapse, as_json)
    finally:
        eng.close()


def _print_results(result, snap, collapse: bool, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    stories = f" in {_plural(result.total_stories, 'story', 'stories')}" if collapse else ""
    click.echo(f"{_plural(result.total, 'article')}{stories} ({result.took_ms} ms)")
    if result.interpreted_as:
        plain = result.interpreted_as["plain"]
        click.echo(f"searched for {result.interpreted_as['query']}; as plain words "
                   f"\u201c{plain['q']}\u201d finds {plain['total']:,}")
    tty = sys.stdout.isatty()
    for n, hit in enumerate(result.hits, start=1):
        click.echo(f"\n{n:>3}. {click.style(hit.title, bold=True)}")
        click.echo(f"     {hit.date or 'undated'}  {hit.id}")
        for snippet in hit.snippets[:1]:
            text = snippet.replace("<mark>", "\x1b[1m" if tty else "")
            text = text.replace("</mark>", "\x1b[0m" if tty else "")
            click.echo(f"     {html.unescape(text)}")
        others = (hit.story or {}).get("others", [])
        for version in snap.documents(others[:3]):
            if version is not None:
                click.echo(f"     + {version.date or 'undated'}  {version.title}  "
                           f"({version.id})")
        if len(others) > 3:
            click.echo(f"     + {_plural(len(others) - 3, 'more version')} of this story")
    if result.did_you_mean:
        click.echo(f"\nDid you mean: {result.did_you_mean['q']}")


@main.command()
@_option("index")
@click.option("--json", "as_json", is_flag=True, help="Print the GET /api/stats document.")
@_engine_options
@_fails_cleanly
def stats(index: str, as_json: bool, **engine: Any) -> None:
    """Documents, date range, facet values, index size, and the last build."""
    from searchsvc.core import documents
    from searchsvc.ingest import records

    eng = _engine(_settings(index, **engine))
    try:
        doc = documents.stats(eng.snapshot())
    finally:
        eng.close()
    last = records.last(Path(index))
    doc["last_build"] = records.public(last) if last else None
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    idx = doc["index"]
    span = doc["date_range"]
    dates = (f"{span['min']} … {span['max']}" if span["min"] else "no dated articles")
    click.echo(f"documents   {doc['documents']:,}")
    click.echo(f"dates       {dates} ({doc['undated']:,} undated)")
    click.echo(f"index       {idx['engine']} {idx['generation']}, "
               f"{idx['size_bytes'] / 1e6:.1f} MB, {_plural(idx['segments'], 'segment')}, "
               f"vocabulary {_plural(idx['vocabulary'], 'word')}")
    if idx.get("built_at"):
        click.echo(f"built       {idx['built_at']} in {idx['build_seconds']} s from "
                   f"{', '.join(idx['sources'])}")
    if last:
        s = last.get("summary") or {}
        what = (f"indexed {s.get('indexed', 0):,}, skipped {s.get('skipped', 0):,}"
                if s else "")
        click.echo(f"last build  {last['id']} {last['state']} {last.get('mode', '')} {what}"
                   + (f" — {last['error']}" if last.get("error") else ""))
        for p in (last.get("problems") or [])[:10]:
            where = f"{p['path']}:{p['line']}" if p.get("line") else p["path"]
            click.echo(f"            {'skipped' if p.get('skipped', True) else 'warning'} "
                       f"{where}: {p['reason']}")
    for name, values in doc["facets"].items():
        if values:
            top = ", ".join(f"{v['value']} ({v['count']:,})" for v in values[:8])
            click.echo(f"{name:<11} {top}")


@main.command()
@_option("index")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@_engine_options
@_fails_cleanly
def generations(index: str, as_json: bool, **engine: Any) -> None:
    """The kept generations of the index, the current one marked."""
    eng = _engine(_settings(index, **engine))
    try:
        kept = eng.generations()
    finally:
        eng.close()
    if as_json:
        click.echo(json.dumps([g.__dict__ for g in kept], ensure_ascii=False, indent=2))
        return
    if not kept:
        click.echo(f"no generations in {index}")
        return
    for g in kept:
        mark = "*" if g.current else " "
        click.echo(f"{mark} {g.id}  {g.built_at or '?':<25} {g.mode:<6} "
                   f"{_plural(g.documents, 'document'):>16}  {g.skipped:,} skipped  "
                   f"{', '.join(g.sources)}")


@main.command()
@click.argument("generation", required=False)
@_option("index")
@_engine_options
@_fails_cleanly
def rollback(generation: str | None, index: str, **engine: Any) -> None:
    """Make the previous (or the named) generation current."""
    from searchsvc.ingest.locks import WRITE_LOCK, Lock

    eng = _engine(_settings(index, **engine))
    try:
        with Lock(Path(index), WRITE_LOCK, wait=30, what="an update"):
            target = eng.rollback(generation)
    finally:
        eng.close()
    click.echo(f"current generation is now {target.id} ({_plural(target.documents, 'document')}"
               f", built {target.built_at})")


if __name__ == "__main__":
    main()
