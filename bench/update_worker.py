"""A long-lived process that applies updates: ``python -m bench.update_worker INDEX SOURCE...``.

What a server's ingest costs: the Whoosh engine is opened once (a snapshot of the current
generation held open, as a serving worker holds one) and every update runs in this process,
with the interpreter, the imports and the open snapshot already there. The update phase
(``bench/updates.py``) changes the source files and then sends one JSON command per line on
stdin; each gets one JSON line back on stdout:

* ``{"op": "update", "marker": WORD, "allow_shrink": false}`` —
  ``ingest.build.update(engine, INDEX, SOURCES)``
  timed (wall and CPU), then the snapshot reopened and ``search(q=WORD)`` run, so the answer
  also says how long until the change was searchable here and how many articles WORD finds;
  ``"profile": true`` adds a cProfile excerpt of the update;
* ``{"op": "search", "marker": WORD}`` — reopen the snapshot and count what WORD finds
  (checks an update made by another process);
* ``{"op": "refresh"}`` — reopen the snapshot, untimed (what a server does on its next
  request after an update made elsewhere, e.g. by ``searchsvc index --update``);
* ``{"op": "quit"}``.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import sys
import time
import warnings
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def profile_text(prof: cProfile.Profile | Path, limit: int = 25) -> str:
    """The top of a profile (or of a profile file) by cumulative time, searchsvc and Whoosh
    frames, short paths."""
    buf = io.StringIO()
    stats = pstats.Stats(str(prof) if isinstance(prof, Path) else prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(r"searchsvc|whoosh|numpy", limit)
    root = str(Path(__file__).resolve().parent.parent) + "/"
    lines = [ln.replace(root, "").replace(sys.prefix + "/lib/", "")
             for ln in buf.getvalue().splitlines()
             if ln.strip() and ("ncalls" in ln or "/" in ln or "{" in ln)
             and ".prof" not in ln]  # the header line of a profile file
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    warnings.filterwarnings("ignore")
    index_dir, *sources = argv
    t0 = time.perf_counter()
    from searchsvc.core.params import parse_search_args
    from searchsvc.core.search import search
    from searchsvc.engines import open_engine
    from searchsvc.ingest.build import update

    engine = open_engine({"ENGINE": "whoosh", "INDEX": index_dir})
    engine.snapshot()
    print(json.dumps({"ready": True, "open_s": round(time.perf_counter() - t0, 3),
                      "rss_mb": rss_mb()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "quit":
            break
        if op == "refresh":
            engine.snapshot()
            print(json.dumps({"ok": True}), flush=True)
            continue
        if op == "search":
            found = search(engine.snapshot(), parse_search_args({"q": cmd["marker"],
                                                                 "collapse": "false"})).total
            print(json.dumps({"found": found}), flush=True)
            continue
        prof = cProfile.Profile() if cmd.get("profile") else None
        started, cpu = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        try:
            report = update(engine, index_dir, [Path(s) for s in sources],
                            allow_shrink=bool(cmd.get("allow_shrink")))
        except Exception as exc:  # reported to the phase, which records it and goes on
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:500]}), flush=True)
            continue
        finally:
            if prof:
                prof.disable()
        updated = time.perf_counter()
        update_cpu = time.process_time() - cpu
        found = None
        if cmd.get("marker"):
            snap = engine.snapshot()
            found = search(snap, parse_search_args({"q": cmd["marker"],
                                                    "collapse": "false"})).total
        out = {"update_s": round(updated - started, 4), "cpu_s": round(update_cpu, 4),
               "report_s": round(report.seconds, 4),
               "searchable_s": round(time.perf_counter() - started, 4), "found": found,
               "summary": report.summary(), "rss_mb": rss_mb()}
        if prof:
            out["profile"] = profile_text(prof)
        print(json.dumps(out), flush=True)
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
