"""Memory of one serving process: ``python -m bench.probe ENGINE INDEX_DIR QUERIES N``.

Opens the engine's index as a server worker would, answers the first N queries of the query
file, and prints one JSON line: resident memory before opening, after opening and after the
queries (MB), and the process's peak (``ru_maxrss``).
"""

from __future__ import annotations

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
    engine_name, index_dir, queries_path, n = argv
    from bench.engines import open_engine
    from bench.latency import load_queries

    queries = load_queries(Path(queries_path))[: int(n)]
    before = rss_mb()
    engine = open_engine(engine_name, Path(index_dir))
    opened = rss_mb()
    for q in queries:
        try:
            engine.search(q["params"])
        except Exception:  # latency runs report errors; here only memory matters
            pass
    after = rss_mb()
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps({"rss_start_mb": before, "rss_open_mb": opened, "rss_after_mb": after,
                      "peak_mb": peak, "index_mb_in_memory": round(opened - before, 1),
                      "queries": len(queries)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
