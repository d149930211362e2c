"""``python -m bench [--smoke] [index|query|http|quality|update|scale|all|report] [options]``.

See bench/README.md. Each sub-command writes its part into ``OUT/report.json`` (keeping the
parts of earlier runs it did not redo) and renders ``OUT/RESULTS.md`` from the whole; with the
default ``--out`` the Markdown is also copied to ``bench/RESULTS.md``, the committed report.

OpenSearch: with ``--opensearch URLS`` (default: the local cluster's ``.opensearch/url`` when
it answers) the ``index``, ``query`` and ``quality`` phases also run searchsvc on the
OpenSearch engine, under aliases ``bench-…`` that are deleted when the run ends. A smoke run
leaves OpenSearch out unless ``--opensearch`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench.common import DEFAULT_CORPUS, DEFAULT_OUT, QUERIES, ROOT, Workspace, log, machine_info

PHASES = ("index", "query", "http", "quality", "update", "scale")
DEFAULT_ARTICLES = 1_042_050  # 50x Reuters


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmark searchsvc (Whoosh and OpenSearch "
        "engines) against tantivy, SQLite FTS5 and the ranking lab's peers on Reuters-21578, "
        "generated archives and Cranfield/CACM/LISA; writes report.json and RESULTS.md.")
    ap.add_argument("command", nargs="*", default=["all"],
                    help="phases to run, in order: " + ", ".join(PHASES) + " (default: all); "
                         "report: only re-render RESULTS.md from OUT/report.json")
    ap.add_argument("--smoke", action="store_true",
                    help="every phase, tiny, on the bundled seeds (seconds)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                    help="folder with the Reuters tarball and JSONL (default: ../shared/corpora)")
    ap.add_argument("--relevance", type=Path, default=None,
                    help="folder with cranfield/, cacm/, lisa/ (default: CORPUS/../relevance)")
    ap.add_argument("--out", type=Path, default=None,
                    help="where report.json and RESULTS.md go (default: bench/results/, "
                         "or bench/results/smoke/ with --smoke)")
    ap.add_argument("--queries", type=Path, default=QUERIES, help="query set (JSON Lines)")
    ap.add_argument("--opensearch", default=None, metavar="URLS",
                    help="OpenSearch node URLs, comma-separated (default: .opensearch/url if "
                         "the cluster answers; 'none' to leave OpenSearch out)")
    ap.add_argument("--runs", type=int, default=None, help="runs per measurement (default 3)")
    ap.add_argument("--http-seconds", type=float, default=None,
                    help="duration of each HTTP load level (default 10)")
    ap.add_argument("--index-budget", type=float, default=1200,
                    help="seconds after which the indexing phase skips its later runs")
    ap.add_argument("--opensearch-budget", type=float, default=900,
                    help="seconds one OpenSearch build may take before it is killed")
    ap.add_argument("--kind-budget", type=float, default=15,
                    help="seconds of query time per query kind and engine")
    ap.add_argument("--update-budget", type=float, default=900,
                    help="seconds per scale of the update phase after which runs are skipped")
    ap.add_argument("--batch", type=int, default=None,
                    help="articles in the update phase's batch (default 100)")
    ap.add_argument("--scales", default=None,
                    help="scales of the scale phase: <k>x (k × 20,841), N (--articles) or a "
                         "number (default: 1x,10x,N for `scale`, 1x,10x for `all`)")
    ap.add_argument("--articles", type=int, default=None,
                    help=f"N of --scales (default {DEFAULT_ARTICLES:,} = 50x)")
    ap.add_argument("--scale-timeout", type=float, default=1800,
                    help="seconds one scale-phase build may take before it is killed")
    ap.add_argument("--max-build-gb", type=float, default=12,
                    help="peak tree PSS at which a scale-phase build is killed")
    ap.add_argument("--save-baseline", action="store_true",
                    help="save the scale phase's 1x numbers as bench/scale_baseline.json "
                         "('today', for the 1x-not-slower check of later runs)")
    ap.add_argument("--baseline-commit", default=None, metavar="REV[+FIX...]",
                    help="measure this commit's searchsvc at 1x in the same run (FIX: commits "
                         "applied on top) and check 1x against it instead of the saved baseline")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    wrong = [c for c in args.command if c not in (*PHASES, "all", "report")]
    if wrong:
        ap.error(f"unknown phase {', '.join(wrong)}: choose from {', '.join(PHASES)}, all, report")
    # One word for the whole run: "all", "report", or the phases named.
    args.phases = (PHASES if "all" in args.command else
                   () if args.command == ["report"] else
                   tuple(c for c in PHASES if c in args.command))
    args.command = ("all" if "all" in args.command else "report" if args.command == ["report"]
                    else " ".join(args.phases))
    return args


def _opensearch(args: argparse.Namespace) -> str | None:
    """The cluster of this run (its URL is passed to subprocesses in the environment)."""
    from bench import cluster
    from bench.engines import OPENSEARCH_ENV

    given = args.opensearch
    if given and given.lower() == "none":
        return None
    url = given or (None if args.smoke else cluster.default_url())
    if not url:
        return None
    ok, why = cluster.usable(url)
    if not ok:
        log(f"OpenSearch left out: {why}")
        return None
    log(f"OpenSearch: {url} ({why})")
    os.environ[OPENSEARCH_ENV] = url
    return url


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    args = parse_args(argv)
    from bench import indexing, latency, load, quality, report, report_phases, scale, updates
    from bench.make_queries import generate, write

    out = (args.out or (DEFAULT_OUT / "smoke" if args.smoke else DEFAULT_OUT)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    relevance = (args.relevance or args.corpus.parent / "relevance").resolve()
    runs = args.runs or (1 if args.smoke else 3)
    http_seconds = args.http_seconds or (0.3 if args.smoke else 10)
    levels = (1, 2) if args.smoke else (1, 8, 32)
    kind_budget = 2 if args.smoke else args.kind_budget
    if (not args.smoke and args.command != "report"
            and not (args.corpus / "reuters21578.jsonl.gz").exists()):
        print(f"error: no Reuters corpus in {args.corpus} (use --corpus, or --smoke)",
              file=sys.stderr)
        return 2
    phases = args.phases
    url = _opensearch(args) if set(phases) & {"index", "query", "quality"} else None
    base = scale.SMOKE_BASE if args.smoke else scale.BASE
    default_scales = "1x,10x" if args.command == "all" and args.articles is None else "1x,10x,N"
    scales = scale.parse_scales(args.scales or default_scales,
                                args.articles or (base * 50 if args.smoke else DEFAULT_ARTICLES),
                                base)

    ws = Workspace(corpus_dir=args.corpus.resolve(), cranfield_dir=relevance / "cranfield",
                   smoke=args.smoke)
    report_path = out / "report.json"
    data = {}
    if report_path.exists():
        try:
            data = json.loads(report_path.read_text("utf-8"))
        except ValueError:
            data = {}
    if data.get("smoke") != args.smoke:
        data = {}
    data["smoke"] = args.smoke
    data.setdefault("phases", {})
    started = time.perf_counter()
    try:
        if args.smoke:
            articles = _smoke_articles()
            queries = generate(articles, per_group=1, empty=3)
            queries_path = ws.root / "queries.smoke.jsonl"
            write(queries, queries_path)
        else:
            queries_path = args.queries.resolve()
            queries = latency.load_queries(queries_path)
        for phase in phases:
            t0 = time.perf_counter()
            log(f"phase {phase}")
            if phase == "index":
                result = indexing.run(ws, runs=runs, budget_s=args.index_budget,
                                      opensearch_budget_s=args.opensearch_budget)
            elif phase == "query":
                result = latency.run(ws, queries, queries_path, runs=runs,
                                     budget_per_kind=kind_budget)
            elif phase == "http":
                result = load.run(ws, queries, seconds=http_seconds, levels=levels)
            elif phase == "quality":
                result = quality.run(ws, relevance)
            elif phase == "update":
                result = updates.run(ws, runs=runs, batch=args.batch or (5 if args.smoke else 100),
                                     budget_s=args.update_budget,
                                     scales=("1x",) if args.smoke else ("1x", "10x"))
            else:
                result = scale.run(ws, scales, runs=runs, budget=kind_budget,
                                   build_timeout=args.scale_timeout, mem_gb=args.max_build_gb,
                                   keep=args.keep, save_baseline=args.save_baseline,
                                   baseline_commit=args.baseline_commit)
            result["finished"] = dt.datetime.now().isoformat(timespec="seconds")
            result["machine"] = machine_info()
            if phase in ("index", "query", "quality"):
                result["opensearch_url"] = url
            ws.results[phase] = result
            data["phases"][phase] = result
            log(f"phase {phase} done in {time.perf_counter() - t0:.0f} s")
            _write(data, out, args, report, report_phases)
        if not phases:
            _write(data, out, args, report, report_phases)
    finally:
        if args.keep:
            log(f"kept {ws.root}")
        else:
            ws.cleanup()
    log(f"done in {time.perf_counter() - started:.0f} s: {out / 'RESULTS.md'}")
    return 0


def _smoke_articles() -> list:
    from bench.common import seed_records, write_jsonl
    from bench.engines import read_articles

    with tempfile.TemporaryDirectory() as tmp:
        path = write_jsonl(Path(tmp) / "seeds.jsonl", seed_records())
        return read_articles([path])


def _write(data: dict, out: Path, args: argparse.Namespace, report, report_phases) -> None:
    if args.command != "report":
        data["generated"] = dt.datetime.now().isoformat(timespec="seconds")
        data["command"] = "python -m bench " + " ".join(sys.argv[1:])
    from bench.common import searchsvc_version

    data.setdefault("searchsvc", searchsvc_version())
    if args.command != "report":
        data["searchsvc"] = searchsvc_version()
    data["targets"] = report.targets(data)
    data["capacity"] = report.capacity(data)
    data["opensearch_capacity"] = report_phases.opensearch_capacity(data)
    (out / "report.json").write_text(json.dumps(data, indent=1, ensure_ascii=False), "utf-8")
    markdown = report.render(data)
    (out / "RESULTS.md").write_text(markdown, "utf-8")
    if out == DEFAULT_OUT.resolve() and not args.smoke:
        shutil.copyfile(out / "RESULTS.md", ROOT / "bench" / "RESULTS.md")


if __name__ == "__main__":
    sys.exit(main())
