"""Phase ``index``: full builds of the corpus by each engine, each in a fresh subprocess.

Inputs: the extracted seed-format text files, the JSONL file (1x), and the JSONL replicated
5 times with distinct ids (5x). Engines: ``read`` (searchsvc's readers only — the floor every
engine pays, since all read through them), ``searchsvc`` (``indexer.build(procs=2)``),
``tantivy`` (2 writer threads, 256 MB heap) and ``fts5``.

Runs are interleaved (run 1 of every engine and input, then the 5x builds, then runs 2 and 3,
each followed by another searchsvc 5x build) so that a burst of load on the shared machine hits
all engines alike. Runs 2 and 3 of an input
are skipped when the phase's time budget would be exceeded; the report says how many runs each
median is of.
"""

from __future__ import annotations

import json
import shutil
import sys
import time

from bench.common import ChildResult, Workspace, log, median, rnd, run_measured
from bench.engines import index_size

BUILD_ENGINES = ("read", "searchsvc", "tantivy", "fts5")
METRICS = ("wall_s", "process_wall_s", "cpu_s", "maxrss_mb", "peak_tree_pss_mb",
           "peak_tree_rss_mb", "size_mb")


def build_once(ws: Workspace, engine: str, corpus: str, run: int,
               timeout: float = 1200) -> dict:
    c = ws.corpus(corpus)
    out = ws.root / "builds" / f"{corpus}-{engine}-{run}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "bench.build_one", engine, str(out), *map(str, c.sources)]
    res: ChildResult = run_measured(cmd, timeout=timeout)
    record = {
        "engine": engine, "corpus": corpus, "run": run, "returncode": res.returncode,
        "process_wall_s": rnd(res.wall_s), "cpu_s": rnd(res.cpu_s),
        "maxrss_mb": rnd(res.maxrss_mb, 1), "peak_tree_pss_mb": rnd(res.peak_tree_pss_mb, 1),
        "peak_tree_rss_mb": rnd(res.peak_tree_rss_mb, 1),
    }
    if res.timed_out:
        record["error"] = [f"timed out after {timeout:.0f} s (killed)"]
        log(f"  {engine} on {corpus} timed out after {timeout:.0f} s")
        return record
    if res.returncode != 0:
        record["error"] = res.stderr.strip().splitlines()[-5:]
        log(f"  {engine} on {corpus} FAILED: {record['error']}")
        return record
    info = json.loads(res.stdout.strip().splitlines()[-1])
    record["wall_s"] = rnd(info["seconds"])
    record["documents"] = info["documents"]
    if engine != "read":
        record["size_mb"] = rnd(index_size(engine, out) / 1e6, 2)
        previous = ws.indexes.get((engine, corpus))
        ws.indexes[(engine, corpus)] = out
        if previous and previous != out:
            shutil.rmtree(previous, ignore_errors=True)
    else:
        shutil.rmtree(out, ignore_errors=True)
    log(f"  {engine:<9} {corpus:<6} run {run}: {record['wall_s']:.2f} s wall, "
        f"{record['cpu_s']:.2f} s CPU, peak PSS {record['peak_tree_pss_mb']:.0f} MB")
    return record


def run(ws: Workspace, runs: int = 3, budget_s: float = 780) -> dict:
    started = time.perf_counter()
    records: list[dict] = []
    corpora_1x = ("jsonl", "text")
    spent: dict[str, float] = {}

    def do(corpus: str, r: int, engines: tuple[str, ...] = BUILD_ENGINES) -> None:
        t0 = time.perf_counter()
        for engine in engines:
            # No single build may take more than the phase's whole budget.
            records.append(build_once(ws, engine, corpus, r, timeout=max(budget_s, 60)))
        spent[corpus] = time.perf_counter() - t0

    for corpus in corpora_1x:
        ws.corpus(corpus)
    ws.corpus("jsonl5")
    log("indexing: run 1 of the 1x builds")
    for corpus in corpora_1x:
        do(corpus, 1)
    log(f"indexing: the {ws.corpus('jsonl5').articles:,}-article (5x) builds, one run")
    do("jsonl5", 1)
    skipped = []
    for r in range(2, runs + 1):
        for corpus in corpora_1x:
            elapsed = time.perf_counter() - started
            if elapsed + spent[corpus] > budget_s:
                skipped.append(f"{corpus} run {r}")
                log(f"indexing: skipping {corpus} run {r} (time budget {budget_s:.0f} s)")
                continue
            log(f"indexing: run {r} of the {corpus} builds")
            do(corpus, r)
        # searchsvc's own 5x cost is a target (a median of runs, like the 1x builds); the
        # peers' 5x builds are context and run once.
        if time.perf_counter() - started + spent["jsonl5"] / 2 > budget_s:
            skipped.append(f"jsonl5 run {r}")
            log(f"indexing: skipping jsonl5 run {r} (time budget {budget_s:.0f} s)")
            continue
        log(f"indexing: run {r} of the searchsvc 5x build")
        do("jsonl5", r, ("searchsvc",))
    return {
        "runs_requested": runs,
        "skipped_runs": skipped,
        "budget_s": budget_s,
        "seconds": rnd(time.perf_counter() - started, 1),
        "corpora": {name: {"articles": c.articles, "input_mb": rnd(c.input_bytes / 1e6, 2),
                           "note": c.note} for name, c in ws.corpora.items()},
        "records": records,
        "summary": summarise(ws, records),
        "scaling": scaling(ws, records),
    }


def summarise(ws: Workspace, records: list[dict]) -> list[dict]:
    out = []
    for corpus in ("jsonl", "text", "jsonl5"):
        c = ws.corpora.get(corpus)
        if c is None:
            continue
        for engine in BUILD_ENGINES:
            rs = [r for r in records if r["engine"] == engine and r["corpus"] == corpus
                  and r["returncode"] == 0]
            if not rs:
                continue
            row = {"engine": engine, "corpus": corpus, "runs": len(rs),
                   "articles": c.articles}
            for m in METRICS:
                row[m] = rnd(median(r.get(m) for r in rs), 3)
            wall = row["wall_s"]
            row["articles_per_s"] = rnd(c.articles / wall, 1) if wall else None
            row["mb_per_s"] = rnd(c.input_bytes / 1e6 / wall, 2) if wall else None
            row["ms_per_article"] = rnd(wall * 1000 / c.articles, 4) if wall else None
            row["cpu_ms_per_article"] = rnd(row["cpu_s"] * 1000 / c.articles, 4)
            out.append(row)
    return out


def scaling(ws: Workspace, records: list[dict]) -> dict:
    """Per-article cost at 5x over per-article cost at 1x (JSONL), per engine."""
    rows = {(r["engine"], r["corpus"]): r for r in summarise(ws, records)}
    out = {}
    for engine in BUILD_ENGINES:
        one, five = rows.get((engine, "jsonl")), rows.get((engine, "jsonl5"))
        if not one or not five:
            continue
        n1, n5 = one["articles"], five["articles"]
        entry = {
            "articles_1x": n1, "articles_5x": n5, "runs_1x": one["runs"], "runs_5x": five["runs"],
            "wall_s_1x": one["wall_s"], "wall_s_5x": five["wall_s"],
            "cpu_s_1x": one["cpu_s"], "cpu_s_5x": five["cpu_s"],
            "cost_ratio_wall": rnd((five["wall_s"] / n5) / (one["wall_s"] / n1)),
            "cost_ratio_cpu": rnd((five["cpu_s"] / n5) / (one["cpu_s"] / n1)),
            "peak_pss_mb_1x": one["peak_tree_pss_mb"], "peak_pss_mb_5x": five["peak_tree_pss_mb"],
            "maxrss_mb_1x": one["maxrss_mb"], "maxrss_mb_5x": five["maxrss_mb"],
        }
        if one.get("size_mb") and five.get("size_mb"):
            entry.update(size_mb_1x=one["size_mb"], size_mb_5x=five["size_mb"],
                         size_ratio=rnd((five["size_mb"] / n5) / (one["size_mb"] / n1)))
        out[engine] = entry
    return out
