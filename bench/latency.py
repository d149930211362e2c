"""Phase ``query``: in-process latency of the committed query set on every engine.

searchsvc answers each query with the full ``search()`` of ``GET /api/search`` (top 10 with the
exact total, snippets, every facet and the date histogram) on a warm searcher; the peers do their
best at the same work (see ``engines``). Every engine first answers a few fixed queries
(warm-up: every code path once), then the whole set ``runs`` times; a query's latency is the
median of its runs.

searchsvc keeps a per-searcher cache of decoded postings, so runs 2 and 3 of a query find its
terms cached; the first run of each query (``first_*``: after the warm-up, but the first time
this query is seen) is reported beside the median, as what a new query costs.

``opensearch`` is the same ``search()`` on the OpenSearch engine (when a cluster is given); the
CPU time its JVMs used during the run is recorded per query (``cluster_cpu_ms_per_query``),
since the client's own time is only part of the work.

Bounded: each query kind has a time budget per engine; once a kind has used it, its remaining
queries are not run again (or at all). A kind's percentiles are over the queries measured, and
the overall percentiles weight each measured query by (queries of its kind / measured of its
kind), so an under-sampled slow kind still counts for its share of the set.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

from bench import cluster
from bench.common import REPLICAS, Workspace, log, median, rnd, run_measured, summary_ms
from bench.engines import engines_available, open_engine, opensearch_url
from bench.make_queries import KINDS, VARIANTS

REPLICATED = f"jsonl{REPLICAS}"

# Warm-up: every code path once (open files, lazy structures, imports), with words that are
# not drawn for the query set's own measurement.
WARMUP = (
    {"q": "market"}, {"q": "prices rise"}, {"q": '"stock market"'}, {"q": "compan*"},
    {"q": "markte~"}, {"q": ""}, {"q": "bank", "from": "1987-03-01", "to": "1987-03-31"},
    {"q": "trade", "topics": ["trade"]}, {"q": "", "places": ["usa"], "from": "1987-04-01"},
)


def warm_up(engine) -> None:
    for params in WARMUP:
        try:
            engine.search(dict(params))
        except Exception:  # warm-up only
            pass


def load_queries(path: Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def measure(engine, queries: list[dict], runs: int, budget_per_kind: float) -> list[dict]:
    per = [{"wall": [], "cpu": [], "error": None, "total": None, "ids": None} for _ in queries]
    spent: Counter = Counter()
    for r in range(runs):
        for i, q in enumerate(queries):
            kind = q["kind"]
            if spent[kind] >= budget_per_kind:
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                res = engine.search(q["params"])
                err = None
            except Exception as exc:  # counted and reported, the run goes on
                res, err = None, f"{type(exc).__name__}: {exc}"
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            spent[kind] += wall
            rec = per[i]
            rec["wall"].append(wall)
            rec["cpu"].append(cpu)
            if err:
                rec["error"] = err[:200]
            elif r == 0 or rec["total"] is None:
                rec["total"], rec["ids"] = res["total"], res["ids"]
    return per


def _group(queries: list[dict], per: list[dict], idx: list[int]) -> dict:
    measured = [i for i in idx if per[i]["wall"]]
    out = summary_ms([median(per[i]["wall"]) for i in measured])
    cpu = summary_ms([median(per[i]["cpu"]) for i in measured])
    first = summary_ms([per[i]["wall"][0] for i in measured])
    out.update(cpu_p50=cpu["p50"], cpu_p95=cpu["p95"], first_p50=first["p50"],
               first_p95=first["p95"], queries=len(idx),
               runs=median(len(per[i]["wall"]) for i in measured) if measured else 0,
               errors=sum(1 for i in idx if per[i]["error"]))
    return out


def summarise(queries: list[dict], per: list[dict]) -> dict:
    by_kind = {}
    weights, values, cpus, firsts = [], [], [], []
    for kind in KINDS:
        idx = [i for i, q in enumerate(queries) if q["kind"] == kind]
        if not idx:
            continue
        by_kind[kind] = _group(queries, per, idx)
        measured = [i for i in idx if per[i]["wall"]]
        for i in measured:
            weights.append(len(idx) / len(measured))
            values.append(median(per[i]["wall"]))
            cpus.append(median(per[i]["cpu"]))
            firsts.append(per[i]["wall"][0])
    overall = summary_ms(values, weights)
    cpu_all = summary_ms(cpus, weights)
    overall["cpu_p50"], overall["cpu_p95"] = cpu_all["p50"], cpu_all["p95"]
    first = summary_ms(firsts, weights)
    overall.update(first_p50=first["p50"], first_p95=first["p95"], first_mean=first["mean"],
                   first_rate_qps=rnd(1000 / first["mean"], 1) if first["mean"] else None)
    overall["queries"] = len(queries)
    overall["errors"] = sum(1 for p in per if p["error"])
    overall["rate_qps"] = rnd(1000 / overall["mean"], 1) if overall.get("mean") else None
    by_variant = {}
    for variant in VARIANTS:
        idx = [i for i, q in enumerate(queries) if q.get("filters") == variant]
        if idx:
            by_variant[variant] = _group(queries, per, idx)
    errors = sorted({p["error"] for p in per if p["error"]})[:5]
    return {"overall": overall, "by_kind": by_kind, "by_variant": by_variant,
            "error_examples": errors}


def agreement(queries: list[dict], base: list[dict], other: list[dict]) -> dict:
    """How often a peer's total equals searchsvc's, and the overlap of their top 10."""
    both = [i for i in range(len(queries))
            if base[i]["total"] is not None and other[i]["total"] is not None]
    if not both:
        return {}
    equal = sum(1 for i in both if base[i]["total"] == other[i]["total"])
    close = sum(1 for i in both
                if abs(base[i]["total"] - other[i]["total"]) <= 0.1 * max(base[i]["total"], 1))
    ranked = [i for i in both if queries[i]["kind"] != "empty"]
    overlap = [len(set(base[i]["ids"]) & set(other[i]["ids"]))
               / max(len(base[i]["ids"]), len(other[i]["ids"]), 1) for i in ranked]
    by_kind = {}
    for kind in KINDS:
        ks = [i for i in both if queries[i]["kind"] == kind]
        if ks:
            by_kind[kind] = rnd(sum(1 for i in ks if base[i]["total"] == other[i]["total"])
                                / len(ks), 3)
    return {"compared": len(both), "total_equal": rnd(equal / len(both), 3),
            "total_within_10pct": rnd(close / len(both), 3),
            "top10_overlap": rnd(sum(overlap) / len(overlap), 3) if overlap else None,
            "total_equal_by_kind": by_kind}


def profile_kind(engine, queries: list[dict], kind: str, budget_s: float = 10) -> str:
    """cProfile of ``engine.search`` over the queries of one kind (one pass, bounded)."""
    prof = cProfile.Profile()
    started = time.perf_counter()
    n = 0
    for q in queries:
        if q["kind"] != kind:
            continue
        if time.perf_counter() - started > budget_s:
            break
        prof.enable()
        try:
            engine.search(q["params"])
        except Exception:  # the error is reported by the timed runs
            pass
        prof.disable()
        n += 1
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(r"searchsvc|whoosh|numpy", 22)
    text = buf.getvalue()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if "ncalls" in ln or "/" in ln or "{" in ln]
    root = str(Path(__file__).resolve().parent.parent) + "/"
    cleaned = [ln.replace(root, "").replace(sys.prefix + "/lib/", "") for ln in keep]
    return f"{n} queries of kind {kind!r}, sorted by cumulative time\n" + "\n".join(cleaned)


def memory_probe(engine: str, index_dir: Path, queries_path: Path, n: int = 40) -> dict:
    cmd = [sys.executable, "-m", "bench.probe", engine, str(index_dir), str(queries_path),
           str(n)]
    res = run_measured(cmd, timeout=600)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-3:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def measured(engine, queries: list[dict], runs: int, budget_per_kind: float,
             name: str) -> tuple[list[dict], dict]:
    """:func:`measure` with the cluster's CPU time when ``engine`` is on OpenSearch."""
    meter = cluster.Meter(opensearch_url() if name == "opensearch" else None).start()
    per = measure(engine, queries, runs, budget_per_kind)
    used = meter.stop()
    if used:
        done = sum(len(p["wall"]) for p in per)
        used["cluster_cpu_ms_per_query"] = rnd(used["cluster_cpu_s"] * 1000 / max(done, 1), 2)
        used["queries_run"] = done
    return per, used


def opensearch_floor(ws: Workspace, sub: list[dict], runs: int, budget_per_kind: float,
                     every: int = 100) -> dict:
    """The same sample on an OpenSearch index of 1 % of the corpus (every 100th article): what
    a query costs when the shards hold almost nothing — the round trips, the query phases,
    the aggregations' fixed part and searchsvc's own work. The capacity model subtracts it
    before it lets the rest grow with the shard size."""
    import gzip

    from bench.engines import build_opensearch, discard

    source = ws.corpus("jsonl").sources[0]
    path = ws.root / "floor.jsonl"
    opener = gzip.open if source.name.endswith(".gz") else open
    n = 0
    with opener(source, "rb") as src, path.open("wb") as dst:
        for i, line in enumerate(line for line in src if line.strip()):
            if i % every == 0:
                dst.write(line)
                n += 1
    out_dir = ws.root / "builds" / "floor-opensearch"
    discard(out_dir)
    out_dir.mkdir(parents=True)
    log(f"query latency floor: opensearch on {n:,} articles, {len(sub)} queries x {runs} runs")
    try:
        build_opensearch(out_dir, [path])
        engine = open_engine("opensearch", out_dir)
        warm_up(engine)
        per, used = measured(engine, sub, runs, budget_per_kind, "opensearch")
        engine.close()
    finally:
        discard(out_dir)
        path.unlink(missing_ok=True)
    return {"articles": n, "sample": len(sub), "opensearch": summarise(sub, per)["overall"],
            "cluster": used}


def run(ws: Workspace, queries: list[dict], queries_path: Path, runs: int = 3,
        budget_per_kind: float = 20, engines: tuple[str, ...] | None = None) -> dict:
    started = time.perf_counter()
    out: dict = {"queries": len(queries), "file": str(queries_path), "runs": runs,
                 "budget_per_kind_s": budget_per_kind,
                 "kinds": dict(Counter(q["kind"] for q in queries)), "engines": {},
                 "agreement": {}, "memory": {}}
    engines = engines or engines_available()
    per_engine: dict[str, list[dict]] = {}
    for name in engines:
        index_dir = ws.index_dir(name, "jsonl")
        engine = open_engine(name, index_dir)
        log(f"query latency: {name}, {len(queries)} queries x {runs} runs")
        warm_up(engine)
        per, used = measured(engine, queries, runs, budget_per_kind, name)
        per_engine[name] = per
        out["engines"][name] = summarise(queries, per)
        if used:
            out["engines"][name]["cluster"] = used
        ov = out["engines"][name]["overall"]
        log(f"  {name}: p50 {ov['p50']} ms, p95 {ov['p95']} ms, p99 {ov['p99']} ms")
        if name == "searchsvc":
            # The kind whose first runs are slowest, profiled on a freshly opened searcher
            # (empty caches): what a new query of that kind costs.
            kinds = out["engines"][name]["by_kind"]
            slowest = max(kinds, key=lambda k: kinds[k].get("first_p50") or 0)
            out["slowest_kind"] = slowest
            out["slowest_kind_by_p50"] = max(kinds, key=lambda k: kinds[k]["p50"] or 0)
            fresh = open_engine(name, index_dir)
            warm_up(fresh)
            out["profile"] = profile_kind(fresh, queries, slowest)
            del fresh
        del engine
    if "searchsvc" in per_engine:
        for name in engines:
            if name != "searchsvc":
                out["agreement"][name] = agreement(queries, per_engine["searchsvc"],
                                                   per_engine[name])
    # The same sample of queries at 1x and at 10x, when the indexing phase built 10x indexes.
    sample = list(range(0, len(queries), 4))
    sub = [queries[i] for i in sample]
    scale: dict = {"factor": REPLICAS}
    for name in engines:
        if (name, REPLICATED) not in ws.indexes:
            continue
        log(f"query latency at {REPLICAS}x: {name}, {len(sub)} queries x {runs} runs")
        engine = open_engine(name, ws.indexes[(name, REPLICATED)])
        warm_up(engine)
        per_x, used = measured(engine, sub, runs, budget_per_kind / 2, name)
        del engine
        base = [per_engine[name][i] for i in sample]
        scale[name] = {"sample": len(sub), "1x": summarise(sub, base)["overall"],
                       "nx": summarise(sub, per_x)["overall"]}
        if used:
            scale[name]["cluster_nx"] = used
    out["scale"] = scale
    if "opensearch" in engines:
        out["floor"] = opensearch_floor(ws, sub, runs, budget_per_kind / 2)
    for name in engines:
        if ws.smoke and name != "searchsvc":
            continue  # a smoke run keeps to a few seconds: searchsvc's probe shows it works
        for corpus in ("jsonl", REPLICATED):
            if (name, corpus) in ws.indexes:
                log(f"serving memory: {name} on {corpus}")
                out["memory"].setdefault(name, {})[corpus] = memory_probe(
                    name, ws.indexes[(name, corpus)], queries_path)
    out["seconds"] = rnd(time.perf_counter() - started, 1)
    return out
