"""Build cost of the news features: a full build with and without stories and derived places.

    python -m bench.features_cost SOURCE [--runs 2]

"without" replaces story clustering with an empty story table and derived places with none
(monkeypatched in this process only); everything else is the same build.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from searchsvc import indexer, schema


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(source: str, runs: int) -> None:
    real_stories, real_places = indexer.write_stories, schema.places_for
    for _ in range(runs):
        for mode in ("with", "without"):
            if mode == "without":
                indexer.write_stories = lambda gen, terms: (gen / indexer.STORIES).write_text("{}")
                schema.places_for = lambda title, body, given=(): tuple(given)
            out = Path(tempfile.mkdtemp(prefix=f"features-{mode}-"))
            cpu, started = _cpu(), time.perf_counter()
            report = indexer.build(out, [source])
            wall = time.perf_counter() - started
            print(f"{mode:8s} {report.documents:,} articles  wall {wall:6.2f} s"
                  f"  cpu {_cpu() - cpu:6.2f} s")
            shutil.rmtree(out, ignore_errors=True)
            indexer.write_stories, schema.places_for = real_stories, real_places


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    run(args.source, args.runs)
