"""Build cost of the news features: a full build with and without stories and derived places.

    python -m bench.features_cost SOURCE [--runs 2]

"without" replaces story clustering with an empty story table, the story term counts it
spools with none, and derived places with none (monkeypatched in this process only:
``ingest.build.cluster_spooled``, ``ingest.prepare.story_terms``, ``ingest.prepare.entities``
and ``ingest.prepare.places_for``; a parallel build forks its workers from this process, so
they see the patch too); everything else is the same build.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from searchsvc.ingest import build, prepare


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


STORIES_OFF = {(build, "cluster_spooled"): lambda spool: {},
               (prepare, "story_terms"): lambda article: {},
               (prepare, "entities"): lambda title, body: frozenset(),
               (prepare, "places_for"): lambda title, body, given=(): tuple(given)}


def run(source: str, runs: int) -> None:
    real = {(module, name): getattr(module, name) for module, name in STORIES_OFF}
    for _ in range(runs):
        for mode in ("with", "without"):
            if mode == "without":
                for (module, name), stand_in in STORIES_OFF.items():
                    setattr(module, name, stand_in)
            out = Path(tempfile.mkdtemp(prefix=f"features-{mode}-"))
            try:
                cpu, started = _cpu(), time.perf_counter()
                report = build.build(out, [source])
                wall = time.perf_counter() - started
                print(f"{mode:8s} {report.documents:,} articles  wall {wall:6.2f} s"
                      f"  cpu {_cpu() - cpu:6.2f} s")
            finally:
                shutil.rmtree(out, ignore_errors=True)
                for (module, name), original in real.items():
                    setattr(module, name, original)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    run(args.source, args.runs)
