"""Phase ``index``: full builds of the corpus by each engine, each in a fresh subprocess.

Inputs: the extracted seed-format text files, the JSONL file (1x), and the JSONL replicated
10 times with distinct ids (10x, 208,410 articles). Engines: ``read`` (searchsvc's readers only
— the floor every engine pays, since all read through them), ``searchsvc`` (Whoosh,
``ingest.build.build(procs=2)``), ``opensearch`` (searchsvc's ``full_build`` on the OpenSearch
engine, 2 shards + 1 replica, when a cluster is given), ``tantivy`` (2 writer threads, 256 MB
heap) and ``fts5``.

Runs are interleaved (run 1 of every engine and input, then the 10x builds, then runs 2 and 3
of the 1x builds, each followed by another searchsvc 10x build) so that a burst of load on the
shared machine hits all engines alike. Later runs are skipped when the phase's time budget
would be exceeded; the report says how many runs each median is of. OpenSearch builds run once
per input: on three JVMs sharing two cores they are the slowest, and their cost is measured
for the capacity model (``report.opensearch_capacity``) rather than as a target; for them the
CPU time of the cluster's JVMs (``cluster_cpu_s``) is recorded beside the client's.
"""

from __future__ import annotations

import json
import sys
import time

from bench.common import REPLICAS, ChildResult, Workspace, log, median, rnd, run_measured
from bench.engines import discard, engines_available, index_size, opensearch_store

BUILD_ENGINES = ("read", "searchsvc", "opensearch", "tantivy", "fts5")
REPLICATED = f"jsonl{REPLICAS}"
METRICS = ("wall_s", "process_wall_s", "cpu_s", "maxrss_mb", "peak_tree_pss_mb",
           "peak_tree_rss_mb", "size_mb", "cluster_cpu_s", "cluster_rss_mb", "total_size_mb")


def ratio(num: float | None, den: float | None) -> float | None:
    """``num / den``, or None when either is missing or ``den`` is 0 (a tiny smoke corpus
    builds in 0.00 s)."""
    if num is None or not den:
        return None
    return num / den


def build_once(ws: Workspace, engine: str, corpus: str, run: int,
               timeout: float = 1200) -> dict:
    c = ws.corpus(corpus)
    out = ws.root / "builds" / f"{corpus}-{engine}-{run}"
    discard(out)
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "bench.build_one", engine, str(out), *map(str, c.sources)]
    res: ChildResult = run_measured(cmd, timeout=timeout)
    record = {
        "engine": engine, "corpus": corpus, "run": run, "returncode": res.returncode,
        "process_wall_s": rnd(res.wall_s), "cpu_s": rnd(res.cpu_s),
        "maxrss_mb": rnd(res.maxrss_mb, 1), "peak_tree_pss_mb": rnd(res.peak_tree_pss_mb, 1),
        "peak_tree_rss_mb": rnd(res.peak_tree_rss_mb, 1),
    }
    if res.timed_out or res.returncode != 0:
        record["error"] = ([f"timed out after {timeout:.0f} s (killed)"] if res.timed_out
                           else res.stderr.strip().splitlines()[-5:])
        log(f"  {engine} on {corpus} FAILED: {record['error']}")
        discard(out)
        return record
    info = json.loads(res.stdout.strip().splitlines()[-1])
    record["wall_s"] = rnd(info["seconds"])
    record["documents"] = info["documents"]
    for key in ("cluster_cpu_s", "cluster_rss_mb", "cluster_nodes"):
        if key in info:
            record[key] = info[key]
    if engine != "read":
        record["size_mb"] = rnd(index_size(engine, out) / 1e6, 2)
        if engine == "opensearch":
            store = opensearch_store(out)
            record.update(total_size_mb=rnd(store["total_bytes"] / 1e6, 2),
                          shards=store["shards"], replicas=store["replicas"])
        previous = ws.indexes.get((engine, corpus))
        ws.indexes[(engine, corpus)] = out
        if previous and previous != out:
            discard(previous)
    else:
        discard(out)
    cluster = (f", cluster {record['cluster_cpu_s']:.1f} s CPU"
               if record.get("cluster_cpu_s") is not None else "")
    log(f"  {engine:<10} {corpus:<7} run {run}: {record['wall_s']:.2f} s wall, "
        f"{record['cpu_s']:.2f} s CPU{cluster}, peak PSS {record['peak_tree_pss_mb']:.0f} MB")
    return record


def run(ws: Workspace, runs: int = 3, budget_s: float = 1200,
        opensearch_budget_s: float = 900) -> dict:
    started = time.perf_counter()
    records: list[dict] = []
    corpora_1x = ("jsonl", "text")
    engines = tuple(e for e in BUILD_ENGINES if e == "read" or e in engines_available())
    spent: dict[str, float] = {}

    def do(corpus: str, r: int, which: tuple[str, ...]) -> None:
        t0 = time.perf_counter()
        for engine in which:
            # No single build may take more than its budget (OpenSearch: its own).
            limit = opensearch_budget_s if engine == "opensearch" else max(budget_s, 60)
            records.append(build_once(ws, engine, corpus, r, timeout=limit))
        spent[corpus] = time.perf_counter() - t0

    for corpus in corpora_1x:
        ws.corpus(corpus)
    ws.corpus(REPLICATED)
    log("indexing: run 1 of the 1x builds")
    for corpus in corpora_1x:
        do(corpus, 1, engines)
    log(f"indexing: the {ws.corpus(REPLICATED).articles:,}-article ({REPLICAS}x) builds, one run")
    do(REPLICATED, 1, engines)
    skipped = []
    again = tuple(e for e in engines if e != "opensearch")
    for r in range(2, runs + 1):
        for corpus in corpora_1x:
            elapsed = time.perf_counter() - started
            if elapsed + spent[corpus] > budget_s:
                skipped.append(f"{corpus} run {r}")
                log(f"indexing: skipping {corpus} run {r} (time budget {budget_s:.0f} s)")
                continue
            log(f"indexing: run {r} of the {corpus} builds")
            do(corpus, r, again)
        # searchsvc's own 10x cost is a target (a median of runs, like the 1x builds); the
        # peers' 10x builds are context and run once.
        one = next((x["process_wall_s"] for x in records if x["engine"] == "searchsvc"
                    and x["corpus"] == REPLICATED), None) or 0
        if time.perf_counter() - started + one > budget_s:
            skipped.append(f"{REPLICATED} run {r}")
            log(f"indexing: skipping the searchsvc {REPLICAS}x run {r} (time budget)")
            continue
        log(f"indexing: run {r} of the searchsvc {REPLICAS}x build")
        do(REPLICATED, r, ("searchsvc",))
    return {
        "runs_requested": runs,
        "skipped_runs": skipped,
        "budget_s": budget_s,
        "opensearch_budget_s": opensearch_budget_s,
        "replicas": REPLICAS,
        "seconds": rnd(time.perf_counter() - started, 1),
        "corpora": {name: {"articles": c.articles, "input_mb": rnd(c.input_bytes / 1e6, 2),
                           "note": c.note} for name, c in ws.corpora.items()},
        "records": records,
        "summary": summarise(ws, records),
        "scaling": scaling(ws, records),
    }


def summarise(ws: Workspace, records: list[dict]) -> list[dict]:
    out = []
    for corpus in ("jsonl", "text", REPLICATED):
        c = ws.corpora.get(corpus)
        if c is None:
            continue
        for engine in BUILD_ENGINES:
            rs = [r for r in records if r["engine"] == engine and r["corpus"] == corpus
                  and r["returncode"] == 0 and "error" not in r]
            if not rs:
                continue
            row: dict = {"engine": engine, "corpus": corpus, "runs": len(rs),
                         "articles": c.articles}
            for m in METRICS:
                row[m] = rnd(median(r.get(m) for r in rs), 3)
            wall = row["wall_s"]
            row["articles_per_s"] = rnd(ratio(c.articles, wall), 1)
            row["mb_per_s"] = rnd(ratio(c.input_bytes / 1e6, wall), 2)
            row["ms_per_article"] = rnd(ratio(wall * 1000, c.articles), 4)
            row["cpu_ms_per_article"] = rnd(ratio(row["cpu_s"] * 1000, c.articles), 4)
            if row.get("cluster_cpu_s") is not None:
                row["cluster_cpu_ms_per_article"] = rnd(
                    ratio(row["cluster_cpu_s"] * 1000, c.articles), 4)
            for key in ("shards", "replicas"):
                if rs[0].get(key) is not None:
                    row[key] = rs[0][key]
            out.append(row)
    return out


def scaling(ws: Workspace, records: list[dict]) -> dict:
    """Per-article cost at 10x over per-article cost at 1x (JSONL), per engine."""
    rows = {(r["engine"], r["corpus"]): r for r in summarise(ws, records)}
    out = {}
    for engine in BUILD_ENGINES:
        one, big = rows.get((engine, "jsonl")), rows.get((engine, REPLICATED))
        if not one or not big:
            continue
        n1, nx = one["articles"], big["articles"]

        def per_article_ratio(key: str, one: dict = one, big: dict = big,
                              n1: int = n1, nx: int = nx) -> float | None:
            return rnd(ratio(ratio(big.get(key), nx), ratio(one.get(key), n1)))

        entry = {
            "articles_1x": n1, "articles_nx": nx, "runs_1x": one["runs"], "runs_nx": big["runs"],
            "wall_s_1x": one["wall_s"], "wall_s_nx": big["wall_s"],
            "cpu_s_1x": one["cpu_s"], "cpu_s_nx": big["cpu_s"],
            "cost_ratio_wall": per_article_ratio("wall_s"),
            "cost_ratio_cpu": per_article_ratio("cpu_s"),
            "peak_pss_mb_1x": one["peak_tree_pss_mb"], "peak_pss_mb_nx": big["peak_tree_pss_mb"],
            "maxrss_mb_1x": one["maxrss_mb"], "maxrss_mb_nx": big["maxrss_mb"],
        }
        if one.get("cluster_cpu_s") is not None and big.get("cluster_cpu_s") is not None:
            entry.update(cluster_cpu_s_1x=one["cluster_cpu_s"],
                         cluster_cpu_s_nx=big["cluster_cpu_s"],
                         cost_ratio_cluster_cpu=per_article_ratio("cluster_cpu_s"))
        if one.get("size_mb") and big.get("size_mb"):
            entry.update(size_mb_1x=one["size_mb"], size_mb_nx=big["size_mb"],
                         size_ratio=per_article_ratio("size_mb"))
        out[engine] = entry
    return out
