"""Phase ``scale``: searchsvc (Whoosh) and tantivy on generated archives of growing size.

Replicating Reuters N times adds no words and N copies of every posting list; a real archive
grows differently. ``bench.generate`` writes new articles with Reuters' statistics at any size
(its docstring and bench/README.md say how close they are), so this phase uses it: archives of
1x (20,841 articles), 10x (208,410) and the requested N (default 1,042,050 = 50x), or whatever
``--scales`` names. At each scale:

1. the archive is generated (fixed seed) and a query set made from it the way
   ``bench/make_queries.py`` made the committed Reuters set — same kinds, filters and seed,
   words drawn from the archive itself (from a sample of 50,000 articles when it is larger,
   with every word's document frequency counted over the whole archive);
2. searchsvc and tantivy build it, each in a fresh subprocess (``bench.build_one``): wall and
   CPU time (workers included) and the **peak PSS of the whole build process tree**, sampled;
   a build past its time budget or ``--max-build-gb`` is killed and reported as such;
3. each engine answers the query set in one serving process of its own (``bench.probe
   --runs``): the warm-up, then every query ``runs`` times within a budget per kind; reported
   are the warm percentiles (median of a query's runs), the first-run percentiles (a query's
   first run: what a new query costs), and the process's RSS after the whole set;
4. the index size, and the archive and indexes are deleted before the next scale.

Between consecutive scales the growth exponent of every measure is the log-log slope
``log(v2/v1) / log(n2/n1)`` (1.0 = linear). The 1x numbers can be saved as the baseline of
"today" (``--save-baseline``, ``bench/scale_baseline.json``) so that later runs can check that
at 1x nothing got slower. A saved baseline was measured on another day, on a machine whose
speed varies by 2× and more; ``--baseline-commit REV[+FIX…]`` measures the baseline in the
same run instead: that commit's ``searchsvc/`` (with the commits after ``+`` applied as
patches), driven by this ``bench/``, builds and answers the 1x archive right after today's
code, as engine ``searchsvc@baseline``, and the 1x check compares against it.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    BENCH,
    REUTERS_JSONL,
    ROOT,
    Workspace,
    dir_size,
    log,
    rnd,
    run_measured,
    searchsvc_version,
    seed_records,
    write_jsonl,
)
from bench.engines import index_size

BASE = 20_841  # Reuters-21578: 1x
SMOKE_BASE = 20
ENGINES = ("searchsvc", "tantivy")
SAMPLE = 50_000
BASELINE = BENCH / "scale_baseline.json"
SAME_RUN = "searchsvc@baseline"  # the baseline commit's searchsvc, measured in this run
MEASURES = ("build_wall_s", "build_cpu_s", "peak_tree_pss_mb", "index_mb", "worker_rss_mb",
            "p50_ms", "p95_ms", "first_p50_ms", "first_p95_ms")


def parse_scales(text: str, articles: int, base: int = BASE) -> list[tuple[str, int]]:
    """``1x,10x,N`` → [("1x", 20841), ("10x", 208410), ("50x", 1042050)]: ``<k>x`` is k
    times Reuters, ``N`` the ``--articles`` value, a bare number that many articles."""
    out = []
    for token in (t.strip() for t in text.split(",") if t.strip()):
        if token.upper() == "N":
            n = articles
        elif token.lower().endswith("x"):
            n = int(float(token[:-1]) * base)
        else:
            n = int(token.replace("_", ""))
        label = f"{n / base:g}x" if n % base == 0 else f"{n:,}"
        out.append((label, n))
    return sorted(dict(out).items(), key=lambda item: item[1])


def slope(n1: int, v1: float | None, n2: int, v2: float | None) -> float | None:
    """The log-log slope between two measurements (None unless both are positive)."""
    if not v1 or not v2 or v1 <= 0 or v2 <= 0 or n1 == n2:
        return None
    return rnd(math.log(v2 / v1) / math.log(n2 / n1), 3)


def _generate(ws: Workspace, folder: Path, n: int, source: Path, timeout: float) -> dict:
    archive = folder / "archive.jsonl"
    cmd = [sys.executable, "-m", "bench.generate", "--articles", str(n), "--out", str(archive),
           "--source", str(source)]
    res = run_measured(cmd, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"bench.generate failed: {res.stderr.strip().splitlines()[-3:]}")
    return {"path": archive, "wall_s": rnd(res.wall_s, 2), "cpu_s": rnd(res.cpu_s, 2),
            "mb": rnd(archive.stat().st_size / 1e6, 1)}


def _queries(folder: Path, archive: Path, n: int, timeout: float) -> Path:
    out = folder / "queries.jsonl"
    cmd = [sys.executable, "-m", "bench.make_queries", "--source", str(archive), "--out",
           str(out)] + (["--sample", str(SAMPLE)] if n > SAMPLE else [])
    res = run_measured(cmd, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"make_queries failed: {res.stderr.strip().splitlines()[-3:]}")
    return out


def snapshot(spec: str, folder: Path) -> Path:
    """``REV[+FIX…]`` as a folder to run from: ``git archive REV``, each FIX's own change
    applied on top (``git show FIX``), and this checkout's ``bench/`` in place of the
    commit's (the same harness for both sides)."""
    rev, *fixes = spec.split("+")
    out = folder / "baseline-code"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    for fix in fixes:
        patch = subprocess.run(["git", "show", "--format=", fix], cwd=ROOT,
                               capture_output=True, check=True).stdout
        subprocess.run(["git", "apply", "-p1"], input=patch, cwd=out, check=True)
    shutil.rmtree(out / "bench", ignore_errors=True)
    shutil.copytree(BENCH, out / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    return out


def _build(engine: str, folder: Path, archive: Path, timeout: float, mem_gb: float,
           name: str | None = None, cwd: Path = ROOT) -> dict:
    out = folder / (name or engine)
    out.mkdir()
    cmd = [sys.executable, "-m", "bench.build_one", engine, str(out), str(archive)]
    res = run_measured(cmd, cwd=cwd, timeout=timeout, mem_limit_mb=mem_gb * 1024)
    rec = {"out": str(out), "wall_s": rnd(res.wall_s, 2), "cpu_s": rnd(res.cpu_s, 2),
           "peak_tree_pss_mb": rnd(res.peak_tree_pss_mb, 1),
           "maxrss_mb": rnd(res.maxrss_mb, 1)}
    if res.timed_out or res.memory_killed or res.returncode != 0:
        rec["error"] = (f"killed after {timeout:.0f} s" if res.timed_out else
                        f"killed at {res.peak_tree_pss_mb / 1024:.1f} GB tree PSS (limit "
                        f"{mem_gb:g} GB)" if res.memory_killed else
                        " / ".join(res.stderr.strip().splitlines()[-3:]))
        return rec
    info = json.loads(res.stdout.strip().splitlines()[-1])
    rec["build_s"] = rnd(info["seconds"], 2)  # inside the process, start-up excluded
    rec["documents"] = info["documents"]
    rec["index_mb"] = rnd(index_size(engine, out) / 1e6, 3)
    return rec


def _latency(engine: str, out: Path, queries: Path, runs: int, budget: float,
             timeout: float, cwd: Path = ROOT) -> dict:
    from bench.latency import load_queries, summarise

    per_file = out.parent / f"latencies-{out.name}.json"
    cmd = [sys.executable, "-m", "bench.probe", engine, str(out), str(queries), "0",
           "--runs", str(runs), "--budget", str(budget), "--latencies", str(per_file)]
    res = run_measured(cmd, cwd=cwd, timeout=timeout)
    if res.returncode != 0:
        return {"error": " / ".join(res.stderr.strip().splitlines()[-3:])}
    probe = json.loads(res.stdout.strip().splitlines()[-1])
    qs = load_queries(queries)
    per = json.loads(per_file.read_text("utf-8"))
    summary = summarise(qs, per)
    ov = summary["overall"]
    return {"p50_ms": ov["p50"], "p95_ms": ov["p95"], "p99_ms": ov["p99"],
            "first_p50_ms": ov["first_p50"], "first_p95_ms": ov["first_p95"],
            "cpu_p50_ms": ov.get("cpu_p50"), "errors": ov["errors"], "queries": len(qs),
            "measured": sum(1 for p in per if p["wall"]),
            "worker_rss_mb": probe["rss_after_mb"], "worker_open_rss_mb": probe["rss_open_mb"],
            "by_kind": {k: {m: g.get(m) for m in ("n", "p50", "p95", "first_p50", "first_p95")}
                        for k, g in summary["by_kind"].items()},
            "error_examples": summary.get("error_examples", [])[:3]}


def _one(ws: Workspace, label: str, n: int, source: Path, runs: int, budget: float,
         build_timeout: float, mem_gb: float, keep: bool,
         baseline_code: Path | None = None) -> dict:
    folder = ws.root / "scale" / label
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    log(f"scale {label}: generating {n:,} articles")
    gen = _generate(ws, folder, n, source, timeout=build_timeout)
    log(f"  generated {gen['mb']} MB in {gen['wall_s']} s; drawing the query set")
    queries = _queries(folder, gen["path"], n, timeout=build_timeout)
    result: dict = {"articles": n, "archive_mb": gen["mb"],
                    "generate": {k: gen[k] for k in ("wall_s", "cpu_s")}, "engines": {}}
    # Today's searchsvc, the baseline's right after it (the machine as alike as it gets),
    # then the peers.
    runs_of = [(engine, engine, ROOT) for engine in ENGINES]
    if baseline_code is not None:
        runs_of.insert(1, (SAME_RUN, "searchsvc", baseline_code))
    for name, engine, cwd in runs_of:
        log(f"scale {label}: {name} build")
        rec = _build(engine, folder, gen["path"], build_timeout, mem_gb, name, cwd)
        if "error" not in rec:
            log(f"  {name}: {rec['wall_s']:.1f} s wall, {rec['cpu_s']:.1f} s CPU, peak PSS "
                f"{rec['peak_tree_pss_mb']:.0f} MB, index {rec['index_mb']:.0f} MB; latency run")
            rec.update(_latency(engine, Path(rec["out"]), queries, runs, budget,
                                timeout=max(600, 12 * budget * 8), cwd=cwd))
            log(f"  {name}: p50 {rec.get('p50_ms')} ms, p95 {rec.get('p95_ms')} ms, first-run "
                f"p50 {rec.get('first_p50_ms')} ms, p95 {rec.get('first_p95_ms')} ms, worker RSS "
                f"{rec.get('worker_rss_mb')} MB")
        else:
            log(f"  {name}: {rec['error']}")
        rec.pop("out")
        result["engines"][name] = rec
        if not keep:
            shutil.rmtree(folder / name, ignore_errors=True)
    result["disk_mb_at_end"] = rnd(dir_size(folder) / 1e6, 1)
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _flat(rec: dict) -> dict:
    """The measures of one engine at one scale, under the names of :data:`MEASURES`."""
    return {"build_wall_s": rec.get("wall_s"), "build_cpu_s": rec.get("cpu_s"),
            "peak_tree_pss_mb": rec.get("peak_tree_pss_mb"), "index_mb": rec.get("index_mb"),
            "worker_rss_mb": rec.get("worker_rss_mb"), "p50_ms": rec.get("p50_ms"),
            "p95_ms": rec.get("p95_ms"), "first_p50_ms": rec.get("first_p50_ms"),
            "first_p95_ms": rec.get("first_p95_ms")}


def growth(scales: dict) -> dict:
    """Per engine, the exponent of every measure between consecutive scales."""
    out: dict = {}
    items = sorted(scales.items(), key=lambda kv: kv[1]["articles"])
    for engine in ENGINES:
        for (la, a), (lb, b) in zip(items, items[1:], strict=False):
            ra, rb = a["engines"].get(engine, {}), b["engines"].get(engine, {})
            fa, fb = _flat(ra), _flat(rb)
            out.setdefault(engine, {})[f"{la}→{lb}"] = {
                m: slope(a["articles"], fa[m], b["articles"], fb[m]) for m in MEASURES}
    return out


def baseline_check(result: dict, baseline: dict | None) -> dict | None:
    """At 1x, each measure of searchsvc against the baseline (ratio; > 1 = worse): the one
    measured in this run if there is one, else the saved one."""
    engines = result.get("scales", {}).get("1x", {}).get("engines", {})
    one = engines.get("searchsvc")
    same_run = engines.get(SAME_RUN)
    if same_run and "error" not in same_run:
        baseline = _flat(same_run) | {"saved": "this run",
                                      "commit": result.get("baseline_commit")}
    if not one or not baseline:
        return None
    now = _flat(one)
    ratios = {m: rnd(now[m] / baseline[m], 3) for m in MEASURES
              if now.get(m) and baseline.get(m)}
    return {"baseline": baseline, "now": now, "ratios": ratios,
            "saved": baseline.get("saved"), "commit": baseline.get("commit")}


def run(ws: Workspace, scales: list[tuple[str, int]], runs: int = 3, budget: float = 15,
        build_timeout: float = 1800, mem_gb: float = 12, keep: bool = False,
        save_baseline: bool = False, baseline_commit: str | None = None) -> dict:
    started = time.perf_counter()
    if ws.smoke:
        source = write_jsonl(ws.root / "scale-source.jsonl", seed_records())
    else:
        source = ws.corpus_dir / REUTERS_JSONL
    out: dict = {"requested": [label for label, _ in scales], "runs": runs,
                 "budget_per_kind_s": budget, "build_timeout_s": build_timeout,
                 "max_build_gb": mem_gb, "sample": SAMPLE, "scales": {},
                 "baseline_commit": baseline_commit}
    code = snapshot(baseline_commit, ws.root) if baseline_commit else None
    for label, n in scales:
        out["scales"][label] = _one(ws, label, n, source, runs, budget, build_timeout, mem_gb,
                                    keep, code if label == "1x" else None)
    out["growth"] = growth(out["scales"])
    baseline = None
    if BASELINE.exists() and not ws.smoke:
        baseline = json.loads(BASELINE.read_text("utf-8"))
    if save_baseline and not ws.smoke and "1x" in out["scales"]:
        one = out["scales"]["1x"]["engines"].get("searchsvc", {})
        if "error" not in one:
            saved = _flat(one) | {"saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                  "commit": searchsvc_version()["described"]}
            BASELINE.write_text(json.dumps(saved, indent=1) + "\n", "utf-8")
            out["baseline_saved"] = True
            baseline = baseline or saved
    out["baseline"] = baseline_check(out, baseline)
    out["seconds"] = rnd(time.perf_counter() - started, 1)
    return out
