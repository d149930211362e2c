"""``python -m bench [--smoke] [index|query|http|quality|all] [--corpus DIR] [--out DIR]``.

See bench/README.md. Each sub-command writes its part into ``OUT/report.json`` (keeping the
parts of earlier runs it did not redo) and renders ``OUT/RESULTS.md`` from the whole; with the
default ``--out`` the Markdown is also copied to ``bench/RESULTS.md``, the committed report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench.common import DEFAULT_CORPUS, DEFAULT_OUT, QUERIES, ROOT, Workspace, log, machine_info

PHASES = ("index", "query", "http", "quality")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmark searchsvc against tantivy and SQLite "
        "FTS5 on Reuters-21578 and Cranfield; writes report.json and RESULTS.md.")
    ap.add_argument("command", nargs="?", default="all", choices=(*PHASES, "all", "report"),
                    help="phase to run (default: all); report: only re-render RESULTS.md from "
                         "OUT/report.json")
    ap.add_argument("--smoke", action="store_true",
                    help="everything, tiny, on the bundled seeds (a few seconds)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                    help="folder with the Reuters tarball and JSONL (default: ../shared/corpora)")
    ap.add_argument("--cranfield", type=Path, default=None,
                    help="Cranfield folder (default: CORPUS/../relevance/cranfield)")
    ap.add_argument("--out", type=Path, default=None,
                    help="where report.json and RESULTS.md go (default: bench/results/, "
                         "or bench/results/smoke/ with --smoke)")
    ap.add_argument("--queries", type=Path, default=QUERIES, help="query set (JSON Lines)")
    ap.add_argument("--runs", type=int, default=None, help="runs per measurement (default 3)")
    ap.add_argument("--http-seconds", type=float, default=None,
                    help="duration of each HTTP load level (default 10)")
    ap.add_argument("--index-budget", type=float, default=780,
                    help="seconds after which the indexing phase skips its later runs")
    ap.add_argument("--kind-budget", type=float, default=15,
                    help="seconds of query time per query kind and engine")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    args = parse_args(argv)
    from bench import indexing, latency, load, quality, report
    from bench.make_queries import generate, write

    out = (args.out or (DEFAULT_OUT / "smoke" if args.smoke else DEFAULT_OUT)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cranfield = args.cranfield or args.corpus.parent / "relevance" / "cranfield"
    runs = args.runs or (1 if args.smoke else 3)
    http_seconds = args.http_seconds or (0.3 if args.smoke else 10)
    levels = (1, 2) if args.smoke else (1, 8, 32)
    kind_budget = 2 if args.smoke else args.kind_budget
    if (not args.smoke and args.command != "report"
            and not (args.corpus / "reuters21578.jsonl.gz").exists()):
        print(f"error: no Reuters corpus in {args.corpus} (use --corpus, or --smoke)",
              file=sys.stderr)
        return 2

    ws = Workspace(corpus_dir=args.corpus.resolve(), cranfield_dir=cranfield.resolve(),
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
    phases = {"all": PHASES, "report": ()}.get(args.command, (args.command,))
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
                result = indexing.run(ws, runs=runs, budget_s=args.index_budget)
            elif phase == "query":
                result = latency.run(ws, queries, queries_path, runs=runs,
                                     budget_per_kind=kind_budget)
            elif phase == "http":
                result = load.run(ws, queries, seconds=http_seconds, levels=levels)
            else:
                result = quality.run(ws)
            result["finished"] = dt.datetime.now().isoformat(timespec="seconds")
            result["machine"] = machine_info()
            ws.results[phase] = result
            data["phases"][phase] = result
            log(f"phase {phase} done in {time.perf_counter() - t0:.0f} s")
            _write(data, out, args, report)
        if not phases:
            _write(data, out, args, report)
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


def _write(data: dict, out: Path, args: argparse.Namespace, report) -> None:
    if args.command != "report":
        data["generated"] = dt.datetime.now().isoformat(timespec="seconds")
        data["command"] = "python -m bench " + " ".join(sys.argv[1:])
    data["targets"] = report.targets(data)
    data["capacity"] = report.capacity(data)
    (out / "report.json").write_text(json.dumps(data, indent=1, ensure_ascii=False), "utf-8")
    markdown = report.render(data)
    (out / "RESULTS.md").write_text(markdown, "utf-8")
    if out == DEFAULT_OUT.resolve() and not args.smoke:
        shutil.copyfile(out / "RESULTS.md", ROOT / "bench" / "RESULTS.md")


if __name__ == "__main__":
    sys.exit(main())
