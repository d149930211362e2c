"""Build one engine's index in this process and print what happened as one JSON line.

``python -m bench.build_one ENGINE OUT SOURCE...`` — run by the indexing phase in a fresh
subprocess per build, so that its wall time, CPU time and peak memory (with the forked
workers of searchsvc's parallel build) are the build's alone. ``ENGINE`` ``read`` only reads
the articles, which shows how much of a build is parsing the input. For ``opensearch`` the
line also has the CPU time the local cluster's JVMs used meanwhile (``bench.cluster``): the
indexing itself happens there, not in this process.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path


def main(argv: list[str]) -> int:
    warnings.filterwarnings("ignore")
    engine, out, *sources = argv
    from bench import cluster
    from bench.engines import build_engine, opensearch_url

    meter = cluster.Meter(opensearch_url() if engine == "opensearch" else None).start()
    started = time.perf_counter()
    cpu = time.process_time()
    documents = build_engine(engine, Path(out), [Path(s) for s in sources])
    line = {"seconds": time.perf_counter() - started,
            "parent_cpu_s": time.process_time() - cpu, "documents": documents}
    line.update(meter.stop())
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
