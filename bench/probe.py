"""One serving process: ``python -m bench.probe ENGINE INDEX_DIR QUERIES N [--runs R ...]``.

Opens the engine's index as a server worker would and answers queries, then prints one JSON
line: resident memory before opening, after opening and after the queries (MB), and the
process's peak (``ru_maxrss``); for ``opensearch`` also the local cluster's resident memory.

Without ``--runs`` it answers the first N queries once (the query phase's memory probe). With
``--runs R`` it is the scale phase's latency run: the warm-up, then every query of the file R
times within ``--budget`` seconds per kind (``latency.measure``), the per-query latencies
written to ``--latencies FILE`` — so the RSS it reports is that of a worker which has served
the whole latency set, and the latencies are measured in a process of their own.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import warnings
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main(argv: list[str]) -> int:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(prog="python -m bench.probe")
    ap.add_argument("engine")
    ap.add_argument("index_dir", type=Path)
    ap.add_argument("queries", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--budget", type=float, default=15.0, help="seconds per query kind")
    ap.add_argument("--latencies", type=Path)
    args = ap.parse_args(argv)
    from bench import cluster
    from bench.engines import open_engine, opensearch_url
    from bench.latency import load_queries, measure, warm_up

    queries = load_queries(args.queries)
    before = rss_mb()
    engine = open_engine(args.engine, args.index_dir)
    opened = rss_mb()
    if args.runs:
        warm_up(engine)
        per = measure(engine, queries, args.runs, args.budget)
        if args.latencies:
            args.latencies.write_text(json.dumps(per), "utf-8")
        done = len(queries)
    else:
        done = min(args.n, len(queries))
        for q in queries[:done]:
            try:
                engine.search(q["params"])
            except Exception:  # latency runs report errors; here only memory matters
                pass
    after = rss_mb()
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    line = {"rss_start_mb": before, "rss_open_mb": opened, "rss_after_mb": after,
            "peak_mb": peak, "index_mb_in_memory": round(opened - before, 1),
            "queries": done}
    if args.engine == "opensearch":
        line["cluster_rss_mb"] = cluster.rss_mb(cluster.node_pids(opensearch_url()))
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
