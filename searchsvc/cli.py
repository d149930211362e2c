"""The ``searchsvc`` command (contract §2): index, serve, search, stats.

Options name the settings of ``config.SETTINGS`` and read the same ``SEARCHSVC_*`` environment
variables, so a flag beats the environment, which beats the default.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import click

from searchsvc import config
from searchsvc.errors import ServiceError


def _option(name: str, *decls: str, **kwargs):
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


class _Progress:
    """A one-line progress display, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.1:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6)
        of = f"/{total:,}" if total else ""
        sys.stderr.write(f"\r{phase}: {done:,}{of} articles ({rate:,.0f}/s)   ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """searchsvc: full-text search for news archives."""
    _quiet_whoosh()


def run_build(index: str, sources: list[str], update: bool = False, strict: bool = False,
              max_file_mb: float = 10.0, procs: int = 2, quiet: bool = False) -> int:
    from searchsvc.indexer import BuildError, build

    progress = _Progress()
    try:
        report = build(index, sources, update=update, strict=strict,
                       max_bytes=int(max_file_mb * 1024 * 1024), procs=procs, progress=progress)
    except BuildError as exc:
        progress.close()
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    progress.close()
    for p in report.skipped:
        click.echo(f"skipped {p}", err=True)
    for p in report.warnings:
        click.echo(f"warning {p}", err=True)
    if not quiet:
        rate = report.indexed / report.seconds if report.seconds else 0
        click.echo(
            f"{report.mode} build: indexed {report.indexed:,}, updated {report.updated:,}, "
            f"removed {report.removed:,}, unchanged {report.unchanged:,}, "
            f"skipped {len(report.skipped):,}, warnings {len(report.warnings):,}; "
            f"{report.documents:,} documents in {report.seconds:.2f} s "
            f"({rate:,.0f} articles/s)")
    return 0


@main.command()
@click.argument("sources", nargs=-1, type=click.Path(path_type=str))
@_option("index")
@click.option("--update", is_flag=True, help="Add new and changed articles, remove deleted ones.")
@click.option("--strict", is_flag=True, help="Fail (exit 1, index untouched) if any file is "
                                             "skipped.")
@_option("max_file_mb")
@_option("build_procs", "--procs")
def index(sources: tuple[str, ...], index: str, update: bool, strict: bool, max_file_mb: float,
          build_procs: int) -> None:
    """Build the index from SOURCES (folders or files; default: the configured source)."""
    srcs = list(sources) or [config.setting("source")]
    sys.exit(run_build(index, srcs, update, strict, max_file_mb, build_procs))


@main.command()
@_option("host")
@_option("port")
@_option("index")
@_option("source")
@_option("workers")
def serve(host: str, port: int, index: str, source: str, workers: int) -> None:
    """Serve the API and the search page (builds the index first if there is none)."""
    from searchsvc.indexer import current_generation

    if current_generation(index) is None:
        click.echo(f"no index in {index}: building it from {source}", err=True)
        code = run_build(index, [source])
        if code != 0 and current_generation(index) is None:
            sys.exit(code)
    from searchsvc.server import run

    run(host=host, port=port, index=index, source=source, workers=workers)


@main.command()
@click.argument("query", default="")
@_option("index")
@click.option("--from", "date_from", help="Inclusive start date.")
@click.option("--to", "date_to", help="Inclusive end date.")
@click.option("--sort", type=click.Choice(["relevance", "newest", "oldest"]))
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--collapse/--no-collapse", default=True, show_default=True,
              help="Show each story once, with its other versions listed under it.")
@click.option("--json", "as_json", is_flag=True, help="Print the GET /api/search document.")
def search(query: str, index: str, date_from: str | None, date_to: str | None,
           sort: str | None, limit: int, collapse: bool, as_json: bool) -> None:
    """Search from the terminal."""
    from searchsvc import search as core
    from searchsvc.query import parse_search_args
    from searchsvc.searcher import Engine

    args = {"q": query, "from": date_from, "to": date_to, "sort": sort, "per_page": str(limit),
            "collapse": str(collapse).lower()}
    try:
        sq = parse_search_args({k: v for k, v in args.items() if v is not None})
        engine = Engine(index)
        view = engine.view()
        result = core.search(view, sq)
    except ServiceError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2 if exc.status == 400 else 1)
    try:
        _print_results(result, view, collapse, as_json)
    finally:
        engine.close()


def _print_results(result, view, collapse: bool, as_json: bool) -> None:
    from searchsvc import search as core

    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    n = result.total_stories
    stories = f" in {n:,} {'story' if n == 1 else 'stories'}" if collapse else ""
    click.echo(f"{result.total:,} articles{stories} ({result.took_ms} ms)")
    for n, hit in enumerate(result.hits, start=1):
        click.echo(f"\n{n:>3}. {click.style(hit.title, bold=True)}")
        click.echo(f"     {hit.date or 'undated'}  {hit.id}")
        for snippet in hit.snippets[:1]:
            text = snippet.replace("<mark>", "\x1b[1m").replace("</mark>", "\x1b[0m")
            import html

            text = html.unescape(text)
            if not sys.stdout.isatty():
                text = text.replace("\x1b[1m", "").replace("\x1b[0m", "")
            click.echo(f"     {text}")
        others = (hit.story or {}).get("others", [])
        for other in others[:3]:
            version = core.get_article(view, other)
            click.echo(f"     + {version.date or 'undated'}  {version.title}  ({other})")
        if len(others) > 3:
            click.echo(f"     + {len(others) - 3} more versions of this story")
    if result.did_you_mean:
        click.echo(f"\nDid you mean: {result.did_you_mean['q']}")


@main.command()
@_option("index")
@click.option("--json", "as_json", is_flag=True, help="Print the GET /api/stats document.")
def stats(index: str, as_json: bool) -> None:
    """Documents, date range, facet values, index size and build time."""
    from searchsvc import search as core
    from searchsvc.searcher import Engine

    engine = Engine(index)
    try:
        doc = core.stats(engine.view())
    except ServiceError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)
    finally:
        engine.close()
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    idx = doc["index"]
    click.echo(f"documents   {doc['documents']:,}")
    click.echo(f"dates       {doc['date_range']['min']} … {doc['date_range']['max']}"
               f" ({doc['undated']:,} undated)")
    click.echo(f"index       {Path(index) / idx['generation']}, "
               f"{idx['size_bytes'] / 1e6:.1f} MB, {idx['segments']} segment(s), "
               f"vocabulary {idx['vocabulary']:,} words")
    click.echo(f"built       {idx['built_at']} in {idx['build_seconds']} s from "
               f"{', '.join(idx['sources'])}")
    for name, values in doc["facets"].items():
        if values:
            top = ", ".join(f"{v['value']} ({v['count']:,})" for v in values[:8])
            click.echo(f"{name:<11} {top}")


if __name__ == "__main__":
    main()
