"""The report: targets (met or not, with the number), the capacity models, and the Markdown.

Everything here is computed from ``report.json`` alone, so a report can be re-rendered from any
mix of phases (a sub-command run alone keeps the other phases of the previous run). This module
has the indexing, query and HTTP sections and the one-machine capacity model; the quality,
update and scale sections and the OpenSearch capacity model are in ``bench/report_phases.py``.
"""

from __future__ import annotations

import math

from bench import report_phases
from bench.markdown import articles as _n
from bench.markdown import delta
from bench.markdown import fmt as _fmt
from bench.markdown import signed as _signed
from bench.markdown import table as _table

BUILD_TARGET_S = 12.0
SCALE_TARGET = 1.3
P50_TARGET_MS = 15.0
P95_TARGET_MS = 60.0
HTTP_SHARE_TARGET = 0.70
HTTP_TAIL_TARGET = 4.0
MEMORY_BUDGET_GB = 16.0  # of the machine's 24 GB: the rest for the OS, page cache, a build
SIZES = (20_841, 208_410, 500_000, 1_000_000, 2_000_000)
ENGINE_ORDER = ("searchsvc", "opensearch", "tantivy", "fts5", "read")
REPLICATED = "jsonl10"  # the indexing phase's replicated corpus (bench.common.REPLICAS)
KIND_LABELS = {"common": "single common word", "rare": "single rare word", "two": "two words",
               "three": "three words", "phrase": "phrase", "prefix": "prefix*",
               "fuzzy": "fuzzy~", "empty": "empty q + filters"}


def _phase(data: dict, name: str) -> dict:
    return data.get("phases", {}).get(name) or {}


def _row(index: dict, engine: str, corpus: str) -> dict | None:
    for r in index.get("summary", []):
        if r["engine"] == engine and r["corpus"] == corpus:
            return r
    return None


# -- targets ---------------------------------------------------------------------------------


def targets(data: dict) -> list[dict]:
    out = []
    index = _phase(data, "index")
    for corpus, label in (("jsonl", "JSONL"), ("text", "text files")):
        r = _row(index, "searchsvc", corpus)
        wall = r["wall_s"] if r else None
        out.append({
            "id": f"build_{corpus}", "target": f"Reuters full build from {label} ≤ 12 s",
            "value": wall, "unit": "s", "met": None if wall is None else wall <= BUILD_TARGET_S,
            "detail": ("indexing phase not run" if not r else
                       (f"median of {r['runs']} runs" if r["runs"] > 1 else "1 run")
                       + f"; {r['cpu_s']:.1f} s CPU incl. workers"),
        })
    sc = index.get("scaling", {}).get("searchsvc")
    ratio = sc["cost_ratio_wall"] if sc else None
    out.append({
        "id": "build_scaling", "target": "per-article build cost at 10x ≤ 1.3× the 1x cost",
        "value": ratio, "unit": "×", "met": None if ratio is None else ratio <= SCALE_TARGET,
        "detail": (f"{_fmt(sc['wall_s_nx'], 1)} s for {sc['articles_nx']:,} vs "
                   f"{_fmt(sc['wall_s_1x'], 1)} s for {sc['articles_1x']:,} (CPU ratio "
                   f"{_fmt(sc['cost_ratio_cpu'], 2)}×; 10x: "
                   + (f"median of {sc['runs_nx']} runs)" if sc.get("runs_nx", 1) > 1
                      else "one run)") if sc else "indexing phase not run"),
    })
    q = _phase(data, "query").get("engines", {}).get("searchsvc", {}).get("overall")
    for key, limit in (("p50", P50_TARGET_MS), ("p95", P95_TARGET_MS)):
        v = q.get(key) if q else None
        out.append({
            "id": f"query_{key}", "target": f"in-process search() {key} ≤ {limit:.0f} ms",
            "value": v, "unit": "ms", "met": None if v is None else v <= limit,
            "detail": ("query phase not run" if not q else
                       f"{q['queries']} queries, full search(), median of runs; first run "
                       f"{_fmt(q.get('first_' + key))} ms; CPU {_fmt(q.get('cpu_p50'))} ms"
                       if key == "p50" else
                       f"first run {_fmt(q.get('first_' + key))} ms; p99 {_fmt(q['p99'])} ms, "
                       f"max {_fmt(q['max'])} ms"),
        })
    http = _phase(data, "http")
    level8 = _http_level(http, "searchsvc", 8)
    rate = (http.get("inprocess") or {}).get("rate_qps")
    share = level8["rps"] / (2 * rate) if level8 and rate and level8.get("rps") else None
    out.append({
        "id": "http_throughput",
        "target": "HTTP at 8 clients ≥ 70% of 2× the single-thread in-process rate",
        "value": share, "unit": "", "met": None if share is None else share >= HTTP_SHARE_TARGET,
        "detail": (f"{level8['rps']:.1f} req/s at {level8['clients']} clients vs 2 × "
                   f"{rate:.1f} q/s in process (first-run rate "
                   f"{_fmt((http.get('inprocess') or {}).get('first_rate_qps'))} q/s)"
                   + _cpu_bound_note(level8, rate) if share is not None
                   else "http phase not run"),
    })
    tail = (level8["p99_ms"] / level8["p50_ms"]
            if level8 and level8.get("p99_ms") and level8.get("p50_ms") else None)
    out.append({
        "id": "http_tail", "target": "HTTP at 8 clients: p99 ≤ 4× p50",
        "value": tail, "unit": "×", "met": None if tail is None else tail <= HTTP_TAIL_TARGET,
        "detail": (f"p50 {level8['p50_ms']:.1f} ms, p99 {level8['p99_ms']:.1f} ms"
                   if tail is not None else "http phase not run"),
    })
    out += report_phases.targets(data)
    return out


def _cpu_bound_note(level: dict, rate: float) -> str:
    """What the server would do with both cores to itself, from its CPU per request."""
    cores, per = level.get("server_cores"), level.get("server_cpu_ms_per_request")
    if not cores or not per:
        return ""
    full = 2000 / per
    return (f"; the server got {cores:.2f} of 2 cores: at {per:.1f} ms CPU per request, both "
            f"cores would serve ≈{full:.0f} req/s ({full / (2 * rate) * 100:.0f} %)")


def _http_level(http: dict, server: str, clients: int) -> dict | None:
    """The level with ``clients`` clients (or the busiest one below it, in a smoke run)."""
    levels = [lv for lv in http.get("servers", {}).get(server, {}).get("levels", [])
              if lv["clients"] <= clients]
    return max(levels, key=lambda lv: lv["clients"]) if levels else None


# -- capacity model --------------------------------------------------------------------------


def _power(n1: float, v1: float | None, n5: float, v5: float | None) -> float | None:
    """Exponent a of v = v1 · (n/n1)^a through the two measurements (≥ 0)."""
    if not v1 or not v5 or v1 <= 0 or v5 <= 0:
        return None
    return max(0.0, math.log(v5 / v1) / math.log(n5 / n1))


def _at(n1: float, v1: float | None, a: float | None, n: float) -> float | None:
    if v1 is None or a is None:
        return None
    try:
        return v1 * (n / n1) ** a
    except OverflowError:
        return math.inf


def _limit(n1: float, v1: float | None, a: float | None, limit: float) -> float | None:
    """Corpus size at which v reaches ``limit`` (inf if it does not grow)."""
    if v1 is None or a is None:
        return None
    if v1 > limit and a > 0:
        return n1 * (limit / v1) ** (1 / a)
    if v1 > limit:
        return 0.0
    if a <= 1e-9 or v1 <= 0:
        return math.inf
    try:
        return n1 * (limit / v1) ** (1 / a)
    except OverflowError:  # a nearly flat fit: no limit within any sensible size
        return math.inf


def _linear(n1: float, v1: float | None, n5: float, v5: float | None) -> tuple | None:
    if v1 is None or v5 is None:
        return None
    slope = (v5 - v1) / (n5 - n1)
    return v1 - slope * n1, slope


def capacity(data: dict) -> dict:
    index = _phase(data, "index")
    query = _phase(data, "query")
    sc = index.get("scaling", {}).get("searchsvc")
    if not sc:
        return {}
    n1, n5 = sc["articles_1x"], sc["articles_nx"]
    model: dict = {"n1": n1, "n5": n5}
    model["build_exponent"] = _power(n1, sc["wall_s_1x"], n5, sc["wall_s_nx"])
    model["build_cpu_exponent"] = _power(n1, sc["cpu_s_1x"], n5, sc["cpu_s_nx"])
    # Wall times on a shared machine mostly measure the contention: build time is projected
    # from the 1x wall time with the CPU exponent (how much work grows), when there is one.
    model["build_projection_exponent"] = (model["build_cpu_exponent"]
                                          if model["build_cpu_exponent"] is not None
                                          else model["build_exponent"])
    model["build_limit_n"] = _limit(n1, sc["wall_s_1x"], model["build_projection_exponent"],
                                    BUILD_TARGET_S)
    model["size"] = _linear(n1, sc.get("size_mb_1x"), n5, sc.get("size_mb_nx"))
    model["build_memory_exponent"] = _power(n1, sc["peak_pss_mb_1x"], n5, sc["peak_pss_mb_nx"])
    model["build_memory_1x"] = sc["peak_pss_mb_1x"]
    mem = query.get("memory", {}).get("searchsvc", {})
    serve1 = (mem.get("jsonl") or {}).get("rss_after_mb")
    serve5 = (mem.get(REPLICATED) or {}).get("rss_after_mb")
    model["serve_memory"] = _linear(n1, serve1, n5, serve5)
    full = (query.get("engines", {}).get("searchsvc") or {}).get("overall") or {}
    scale = (query.get("scale") or {}).get("searchsvc")
    for key, limit in (("p50", P50_TARGET_MS), ("p95", P95_TARGET_MS), ("mean", None)):
        a = _power(n1, scale["1x"].get(key), n5, scale["nx"].get(key)) if scale else None
        model[f"{key}_exponent"] = a
        if limit is not None:
            model[f"{key}_limit_n"] = _limit(n1, full.get(key), a, limit)
    budget_mb = MEMORY_BUDGET_GB * 1024
    model["build_memory_limit_n"] = _limit(n1, sc["peak_pss_mb_1x"],
                                           model["build_memory_exponent"], budget_mb)
    if model["serve_memory"] and model["size"]:
        s0, s1 = model["serve_memory"]
        z0, z1 = model["size"]
        # Two workers plus the index in the page cache.
        per, base = 2 * s1 + z1, 2 * s0 + z0
        model["serve_memory_limit_n"] = (budget_mb - base) / per if per > 0 else math.inf
    projections = []
    for n in SIZES:
        row = {"articles": n,
               "build_s": _at(n1, sc["wall_s_1x"], model["build_projection_exponent"], n),
               "p50_ms": _at(n1, full.get("p50"), model["p50_exponent"], n),
               "p95_ms": _at(n1, full.get("p95"), model["p95_exponent"], n)}
        if model["size"]:
            row["index_mb"] = model["size"][0] + model["size"][1] * n
        row["build_peak_mb"] = _at(n1, sc["peak_pss_mb_1x"], model["build_memory_exponent"], n)
        if model["serve_memory"]:
            row["worker_rss_mb"] = model["serve_memory"][0] + model["serve_memory"][1] * n
        projections.append(row)
    model["projections"] = projections
    limits = {k: model.get(k) for k in ("p50_limit_n", "p95_limit_n",
                                        "build_memory_limit_n", "serve_memory_limit_n")}
    known = {k: v for k, v in limits.items() if v is not None}
    if known:
        # The full-build target is reported on its own: past it, an archive is kept current
        # with incremental updates, so it limits rebuilds rather than what one machine serves.
        binding = min(known, key=lambda k: known[k])
        model["binding"] = binding
        model["max_articles"] = known[binding]
    return model


# -- Markdown --------------------------------------------------------------------------------


def render(data: dict) -> str:
    parts = [
        "# searchsvc benchmark results",
        "",
        ("**Smoke run** on the two bundled seed articles: the numbers only show that every "
         "code path runs.\n" if data.get("smoke") else ""),
        f"Generated {data.get('generated', '?')} by `{data.get('command', 'python -m bench')}`"
        " (see `bench/README.md`). Every number comes from `report.json` beside this file. "
        f"searchsvc measured: {(data.get('searchsvc') or {}).get('described', '?')}. Which "
        "phases ran when: " + ", ".join(f"{name} {p.get('finished', '?')}" for name, p in
                                        data.get("phases", {}).items()) + ".",
        "",
    ]
    machine = next((p.get("machine") for p in data.get("phases", {}).values()
                    if p.get("machine")), None)
    if machine:
        v = machine.get("versions", {})
        parts.append(
            f"Machine: {machine.get('cpus')} cores, {machine.get('mem_gb')} GB, Python "
            f"{machine.get('python')}; whoosh {v.get('whoosh')}, tantivy {v.get('tantivy')}, "
            f"SQLite {v.get('sqlite')}, gunicorn {v.get('gunicorn')}. **The machine was shared "
            "with other work during the run** (load averages per phase below): wall times are "
            "noisy, so CPU times are shown beside them; medians of the runs are reported.")
        parts.append("")
    parts += _render_targets(data)
    parts += _render_index(data)
    parts += _render_query(data)
    parts += _render_http(data)
    parts += report_phases.render_quality(data)
    parts += report_phases.render_updates(data)
    parts += report_phases.render_scale(data)
    parts += _render_capacity(data)
    parts += report_phases.render_opensearch_capacity(data)
    parts += _render_notes(data)
    return "\n".join(p for p in parts if p is not None).rstrip() + "\n"


def _render_targets(data: dict) -> list[str]:
    rows = []
    for t in data.get("targets", []):
        met = "–" if t["met"] is None else ("**met**" if t["met"] else "**not met**")
        value, unit = t["value"], t["unit"]
        shown = (_fmt(value, 2) if unit in ("×", "") else _fmt(value, 1)) + (
            ("" if unit == "×" or unit.startswith("/") else " ") + unit
            if unit and value is not None else "")
        if t["id"] == "http_throughput" and value is not None:
            shown = f"{value * 100:.0f} %"
        elif unit == "Δ" and value is not None:
            shown = delta(value) + " nDCG@10"
        if t.get("projected") and t["met"] is not None:
            met += " (projected)"
        rows.append([t["target"], shown, met, t["detail"]])
    return ["## Targets", "", _table(["target", "measured", "", "how"], rows, "lrll"), ""]


def _render_index(data: dict) -> list[str]:
    index = _phase(data, "index")
    if not index:
        return ["## 1. Indexing", "", "Not run.", ""]
    out = ["## 1. Indexing", ""]
    corpora = index.get("corpora", {})
    for name, label in (("jsonl", "JSONL 1x"), ("text", "text files 1x"),
                        (REPLICATED, "JSONL 10x")):
        c = corpora.get(name)
        if c:
            out.append(f"- **{label}**: {c['articles']:,} articles, {c['input_mb']:.1f} MB "
                       f"({c['note']})")
    out += ["", "Each build runs in a fresh subprocess (`python -m bench.build_one`): *wall* is "
            "the build itself (reading included, interpreter start-up excluded), *CPU* is user+"
            "system time of the process and its workers (`wait4`), *peak PSS* the sampled peak "
            "of the whole process tree (forked workers share pages, so PSS, not the RSS sum), "
            "*max RSS* the largest single process (`ru_maxrss`). `read` only reads the "
            "articles with searchsvc's readers, which every engine uses. `searchsvc` is the "
            "Whoosh engine; `opensearch` is searchsvc's `full_build` on the OpenSearch engine "
            "(2 primary shards, 1 replica, on the local 3-node cluster of `make opensearch`): "
            "its *CPU* is the client's (searchsvc's analysis and the bulk requests), *cluster "
            "CPU* what the three JVMs used meanwhile (read from /proc; other users of the "
            "cluster count too), and its index size is the primaries' store (the replica "
            "doubles it).", ""]
    rows = []
    for r in index.get("summary", []):
        rows.append([f"{r['engine']}", r["corpus"], r["runs"], _fmt(r["wall_s"], 2),
                     _fmt(r["cpu_s"], 1), _fmt(r.get("cluster_cpu_s"), 1),
                     _fmt(r["articles_per_s"], 0), _fmt(r["mb_per_s"], 2),
                     _fmt(r["peak_tree_pss_mb"], 0), _fmt(r["maxrss_mb"], 0),
                     _fmt(r.get("size_mb"), 1)])
    out.append(_table(["engine", "input", "runs", "wall s", "CPU s", "cluster CPU s",
                       "articles/s", "MB/s", "peak PSS MB", "max RSS MB", "index MB"], rows))
    failed = [r for r in index.get("records", []) if r.get("error")]
    if failed:
        out += ["", "Failed builds: " + "; ".join(
            f"{r['engine']} {r['corpus']} run {r['run']}: {' / '.join(r['error'])[:200]}"
            for r in failed) + "."]
    if index.get("skipped_runs"):
        out += ["", f"Skipped to stay within the phase's {index['budget_s']:.0f} s budget: "
                + ", ".join(index["skipped_runs"]) + "."]
    scaling = index.get("scaling", {})
    if scaling:
        runs_nx = scaling.get("searchsvc", {}).get("runs_nx", 1)
        out += ["", "**Growth from 1x to 10x** (JSONL; 10x: "
                + (f"searchsvc median of {runs_nx} runs, the others one run" if runs_nx > 1
                   else "one run") + "): per-article cost at 10x "
                "divided by per-article cost at 1x (1.00 = linear).", ""]
        rows = []
        for engine in ENGINE_ORDER:
            s = scaling.get(engine)
            if not s:
                continue
            rows.append([engine, _fmt(s["wall_s_1x"], 2), _fmt(s["wall_s_nx"], 2),
                         _fmt(s["cost_ratio_wall"], 2) + "×", _fmt(s["cost_ratio_cpu"], 2) + "×",
                         _fmt(s.get("cost_ratio_cluster_cpu"), 2) + "×"
                         if s.get("cost_ratio_cluster_cpu") is not None else "–",
                         f"{_fmt(s['peak_pss_mb_1x'], 0)} → {_fmt(s['peak_pss_mb_nx'], 0)}",
                         (f"{_fmt(s.get('size_mb_1x'), 1)} → {_fmt(s.get('size_mb_nx'), 1)}"
                          if s.get("size_mb_1x") else "–")])
        out.append(_table(["engine", "1x wall s", "10x wall s", "cost ratio (wall)",
                           "cost ratio (CPU)", "cost ratio (cluster CPU)", "peak PSS MB",
                           "index MB"], rows))
    out += _phase_footer(index)
    return out


def _phase_footer(phase: dict) -> list[str]:
    """How long a phase took and how loaded the machine was when it ended."""
    return ["", f"_Phase took {_fmt(phase.get('seconds'), 0)} s; load average at its end "
            f"{(phase.get('machine') or {}).get('loadavg')}._", ""]


def _render_query(data: dict) -> list[str]:
    query = _phase(data, "query")
    if not query:
        return ["## 2. Query latency (in process)", "", "Not run.", ""]
    engines = query.get("engines", {})
    out = ["## 2. Query latency (in process)", "",
           f"{query['queries']} queries from `{_short(query['file'])}` (fixed seed, drawn from "
           f"the corpus), each run {query['runs']}× after a short warm-up on other words; a "
           "query's latency is the median of its runs; percentiles in ms. searchsvc runs the full "
           "`search()` of `GET /api/search` (top 10 + exact total + snippets + all facets + date "
           "histogram). Each kind has a budget of "
           f"{query['budget_per_kind_s']:.0f} s per engine; `n` says how many of its queries "
           "were measured. *First run* is each query's first run alone: searchsvc caches "
           "decoded postings per searcher, so runs 2–3 of a query find its terms cached, while "
           "a query nobody asked before pays the first-run price.", ""]
    ss = engines.get("searchsvc")
    names = [e for e in ENGINE_ORDER if e in engines]
    if ss:
        rows = []
        for kind in list(ss["by_kind"]) + ["overall"]:
            g = ss["overall"] if kind == "overall" else ss["by_kind"][kind]
            rows.append([f"**{kind}**" if kind == "overall" else KIND_LABELS.get(kind, kind),
                         f"{g['n']}/{g['queries']}", _fmt(g["p50"], 1), _fmt(g["p95"], 1),
                         _fmt(g["p99"], 1), _fmt(g["max"], 1), _fmt(g.get("cpu_p50"), 1),
                         _fmt(g.get("first_p50"), 1), _fmt(g.get("first_p95"), 1)])
        out += ["**searchsvc**, full `search()`:", "",
                _table(["kind", "n", "p50", "p95", "p99", "max", "CPU p50", "first-run p50",
                        "first-run p95"], rows), ""]
        rows = [[v, f"{g['n']}/{g['queries']}", _fmt(g["p50"], 1), _fmt(g["p95"], 1),
                 _fmt(g["p99"], 1), _fmt(g["max"], 1)] for v, g in ss["by_variant"].items()]
        out += ["searchsvc by filter variant (all text kinds together):", "",
                _table(["filters", "n", "p50", "p95", "p99", "max"], rows), ""]
    header = ["kind"]
    for e in names:
        header += [f"{e} p50", f"{e} p95", f"{e} first-run p50"]
    rows = []
    kinds = list(engines[names[0]]["by_kind"])
    for kind in kinds + ["overall"]:
        row = [f"**{kind}**" if kind == "overall" else KIND_LABELS.get(kind, kind)]
        for e in names:
            g = engines[e]["overall"] if kind == "overall" else engines[e]["by_kind"].get(kind, {})
            row += [_fmt(g.get("p50"), 1), _fmt(g.get("p95"), 1), _fmt(g.get("first_p50"), 1)]
        rows.append(row)
    out += ["**All engines**, same queries, same work (see the end of this report):", "",
            _table(header, rows)]
    errs = {e: engines[e]["overall"]["errors"] for e in names}
    example = next((engines[e]["error_examples"][0] for e in names
                    if engines[e].get("error_examples")), None)
    out += ["", "Errors: " + ", ".join(f"{e} {n}" for e, n in errs.items())
            + (f" (e.g. {example})" if example else "")
            + ". Rate of one thread (1 / mean), median of runs and first run: "
            + ", ".join(f"{e} {_fmt(engines[e]['overall'].get('rate_qps'), 1)} and "
                        f"{_fmt(engines[e]['overall'].get('first_rate_qps'), 1)} q/s"
                        for e in names) + "."]
    agreement = query.get("agreement", {})
    if agreement:
        out += ["", "Same work? Totals equal to searchsvc's (and within 10 %), and the overlap "
                "of the top 10 for ranked queries:", ""]
        rows = [[e, _fmt(a.get("total_equal", 0) * 100, 0) + " %",
                 _fmt(a.get("total_within_10pct", 0) * 100, 0) + " %",
                 _fmt((a.get("top10_overlap") or 0) * 100, 0) + " %",
                 ", ".join(f"{k} {v * 100:.0f}%" for k, v in a.get("total_equal_by_kind",
                                                                  {}).items())]
                for e, a in agreement.items() if a]
        out.append(_table(["peer", "total equal", "within 10 %", "top-10 overlap",
                           "total equal by kind"], rows, "lrrrl"))
        out += ["", "Totals differ where the analysis differs: tantivy's `en_stem` is Snowball "
                "English, FTS5's `porter` is Porter with `unicode61` tokens, searchsvc uses Porter "
                "with its own tokens (acronyms, numbers, compounds as phrases) and leaves a stop "
                "word out of a query's required words; fuzzy and prefix expansion run on each "
                "engine's own term list. `opensearch` is searchsvc itself on the other engine: "
                "the same totals are expected; its top 10 differ where scores tie or where "
                "Lucene's per-shard statistics differ from Whoosh's (the rank-first tier and the "
                "proximity bonus are applied within each engine's own scores)."]
    scale = query.get("scale", {})
    if scale:
        out += ["", "**Latency at 10x** (the same sample of every 4th query, median of runs, on "
                "the 1x and the 10x index; first run beside it):", ""]
        rows = []
        for e in ENGINE_ORDER:
            s = scale.get(e)
            if s and isinstance(s, dict) and "1x" in s:
                rows.append([e, s["sample"], _fmt(s["1x"]["p50"], 1), _fmt(s["nx"]["p50"], 1),
                             _fmt(s["1x"]["p95"], 1), _fmt(s["nx"]["p95"], 1),
                             _fmt(s["1x"].get("first_p50"), 1), _fmt(s["nx"].get("first_p50"), 1),
                             _fmt(s["1x"]["mean"], 1), _fmt(s["nx"]["mean"], 1)])
        out.append(_table(["engine", "queries", "p50 1x", "p50 10x", "p95 1x", "p95 10x",
                           "first-run p50 1x", "first-run p50 10x", "mean 1x", "mean 10x"],
                          rows))
    memory = query.get("memory", {})
    if memory:
        out += ["", "**Memory of one serving process** (opened index + 40 queries; RSS MB):", ""]
        rows = []
        for e in ENGINE_ORDER:
            m = memory.get(e)
            if m:
                rows.append([e] + [_fmt((m.get(c) or {}).get("rss_after_mb"), 0)
                                   for c in ("jsonl", REPLICATED)]
                            + [_fmt((m.get(c) or {}).get("cluster_rss_mb"), 0)
                               for c in ("jsonl", REPLICATED)])
        out.append(_table(["engine", "1x", "10x", "cluster RSS 1x", "cluster RSS 10x"], rows))
    if query.get("profile"):
        out += ["", f"**Where the time goes** — cProfile of searchsvc on the kind with the "
                f"slowest first runs (`{query.get('slowest_kind')}`; slowest by median of runs: "
                f"`{query.get('slowest_kind_by_p50')}`), one pass on a freshly opened searcher "
                "(empty caches):", "", "```", query["profile"], "```"]
    out += _phase_footer(query)
    return out


def _short(path: str) -> str:
    return path.split("/bench/")[-1] if "/bench/" in path else path.rsplit("/", 1)[-1]


def _render_http(data: dict) -> list[str]:
    http = _phase(data, "http")
    if not http:
        return ["## 3. HTTP", "", "Not run.", ""]
    ref = http.get("inprocess") or {}
    out = ["## 3. HTTP", "",
           f"gunicorn, {http['workers']} sync workers, on 127.0.0.1; "
           + ("wrk (one thread, one connection per client, a Lua script cycling through the "
              "query set)" if http.get("generator") == "wrk" else
              "a bounded Python load generator (threads with `http.client` connections; wrk "
              "was not installed, and this generator takes CPU from the server)")
           + f" sends `GET /api/search?…` for the {http['requests_in_set']} "
           f"queries in order, for {_fmt(http['seconds_per_level'], 1)} s per level. "
           "`constant` is a Flask app (`bench/const_app.py`) served the same way that "
           "returns a fixed ~15 KB JSON document for the same requests: the framework, "
           "server and load-generator overhead alone. The load generator shares the 2 cores "
           "with the server.",
           "", f"In-process reference: {_fmt(ref.get('rate_qps'), 1)} q/s on one thread "
           f"(mean {_fmt(ref.get('mean_ms'), 1)} ms, {ref.get('from')}); 2 workers could at "
           f"best do {_fmt((ref.get('rate_qps') or 0) * 2, 1)} req/s.", ""]
    rows = []
    for name, server in http.get("servers", {}).items():
        for level in server.get("levels", []):
            mem = level.get("server_memory") or {}
            rows.append([name, level["clients"], _fmt(level["rps"], 1), _fmt(level["p50_ms"], 1),
                         _fmt(level["p99_ms"], 1), _fmt(level["max_ms"], 0), level["requests"],
                         level["errors"], level["non_200"],
                         _fmt(level.get("server_cpu_ms_per_request"), 1),
                         _fmt(level.get("server_cores"), 2), _fmt(level.get("loadgen_cores"), 2),
                         _fmt(mem.get("pss_mb"), 0) if mem else ""])
    out.append(_table(["server", "clients", "req/s", "p50 ms", "p99 ms", "max ms", "requests",
                       "errors", "non-200", "server CPU ms/req", "server cores",
                       "load-gen cores", "server PSS MB"], rows))
    out += ["", "*server cores*: CPU seconds the server's processes used per second of the level "
            "(2.00 = both cores); below 2 at 8 or more clients means the server was waiting for "
            "the CPU (the load generator, other work on the machine), not for requests. "
            "*server CPU ms/req* × req/s = server cores."]
    out += _phase_footer(http)
    return out


def _render_capacity(data: dict) -> list[str]:
    m = data.get("capacity") or {}
    out = ["## 7. Capacity model: one machine (Whoosh)", ""]
    if not m:
        return out + ["Needs the indexing phase (1x and 10x builds).", ""]
    n1 = m["n1"]
    out += [
        f"Fitted through the two measured sizes ({n1:,} and {m['n5']:,} articles): times and "
        "build memory as a power law `v(N) = v(1x) · (N / N1)^a`, index size and serving "
        "memory as a straight line. "
        "Query latency exponents come from the same query sample at 1x and 10x, applied to the "
        "full-set percentiles at 1x. Two points and a noisy machine: read the exponents as "
        "rough.", "",
        f"- Build time exponent {_fmt(m.get('build_exponent'), 2)} on wall time, "
        f"{_fmt(m.get('build_cpu_exponent'), 2)} on CPU time (1.00 = linear); projections use "
        f"the CPU exponent, since the wall times of a shared machine mostly measure the "
        f"contention. The 12 s build target holds up to {_n(m.get('build_limit_n'))}.",
        f"- Query latency exponents: p50 {_fmt(m.get('p50_exponent'), 2)}, p95 "
        f"{_fmt(m.get('p95_exponent'), 2)}, mean {_fmt(m.get('mean_exponent'), 2)}. Where the "
        f"targets stop holding — p50 ≤ 15 ms: {_n(m.get('p50_limit_n'))}; p95 ≤ 60 ms: "
        f"{_n(m.get('p95_limit_n'))}.",
    ]
    if m.get("size"):
        out.append(f"- Index size ≈ {m['size'][1] * 1e3:.2f} MB per 1,000 articles "
                   f"({_signed(m['size'][0])} MB).")
    if m.get("build_memory_exponent") is not None:
        out.append(f"- Build peak memory (process tree PSS) {_fmt(m['build_memory_1x'], 0)} MB "
                   f"at 1x, exponent {_fmt(m['build_memory_exponent'], 2)} (a full build holds "
                   f"its work in memory until the segments are written); a "
                   f"{MEMORY_BUDGET_GB:.0f} GB budget is reached at "
                   f"{_n(m.get('build_memory_limit_n'))}.")
    if m.get("serve_memory"):
        out.append(f"- Serving worker ≈ {m['serve_memory'][1] * 1e3:.1f} MB per 1,000 articles "
                   f"({_signed(m['serve_memory'][0])} MB): numpy columns, ids, the vocabulary "
                   f"and the postings cache are held per worker; 2 workers plus the index in "
                   f"the page cache reach {MEMORY_BUDGET_GB:.0f} GB at "
                   f"{_n(m.get('serve_memory_limit_n'))}.")
    rows = []
    for p in m.get("projections", []):
        label = {n1: " (Reuters)", m["n5"]: " (10x)"}.get(p["articles"], "")
        rows.append([f"{p['articles']:,}{label}",
                     _fmt(p.get("build_s"), 1), _fmt(p.get("index_mb"), 0),
                     _fmt(p.get("build_peak_mb"), 0), _fmt(p.get("worker_rss_mb"), 0),
                     _fmt(p.get("p50_ms"), 1), _fmt(p.get("p95_ms"), 1)])
    out += ["", "Model values (the measured ones are in sections 1 and 2):", "",
            _table(["articles", "build s", "index MB", "build peak MB", "worker RSS MB",
                    "p50 ms", "p95 ms"], rows), ""]
    binding = {"p50_limit_n": "the p50 latency target (15 ms)",
               "p95_limit_n": "the p95 latency target (60 ms)",
               "build_memory_limit_n": f"build memory ({MEMORY_BUDGET_GB:.0f} GB)",
               "serve_memory_limit_n": f"serving memory ({MEMORY_BUDGET_GB:.0f} GB)"}
    build_n = m.get("build_limit_n")
    if build_n is not None:
        verdict = ("is not met even at the measured size" if build_n < n1
                   else f"holds up to {_n(build_n)}")
        out.append(f"**Full builds:** the 12 s target {verdict}. Past it, a growing archive "
                   "is kept current with `searchsvc index --update` (cost proportional to the "
                   "change), and full rebuilds run in the background into a new generation "
                   "(the served one is untouched until the swap), so a slow rebuild limits "
                   "how often the index is rebuilt, not what one machine can serve.")
        out.append("")
    if m.get("binding"):
        first = m["max_articles"]
        where = ("already at the measured size" if first < n1 else
                 f"at {_n(first)} (≈{first / n1:.0f}× Reuters)" if not math.isinf(first)
                 and first < 1e8 else "nowhere within the model")
        out.append(f"**Serving on one machine stops meeting the targets {where}**, limited "
                   f"first by {binding[m['binding']]}. The other limits — "
                   + "; ".join(f"{binding[k]}: {_n(m.get(k))}" for k in binding
                               if k != m["binding"] and m.get(k) is not None)
                   + ". Per-query work grows with the number of matching documents (exact "
                   "totals, facet counts and the histogram touch every match), and more "
                   "processes add throughput but do not make one query faster. The HTTP "
                   "targets are ratios and do not depend on the corpus size by themselves.")
    out += [
        "",
        "**What a deployment does then.** Within one machine: more `searchsvc serve` workers "
        "(CPU-bound, about one per core) or processes on read-only copies of the generation "
        "behind a load balancer add throughput, not single-query speed. Once one query is too "
        "slow, the index must be split: that is the OpenSearch engine (section 8), where "
        "shards split the per-query work and replicas add throughput, behind the same API.",
        "",
    ]
    return out


def _render_notes(data: dict) -> list[str]:
    return [
        "## How the peers were run",
        "",
        "- All engines read the articles through searchsvc's readers, so parsing is the same "
        "and the `read` row is everyone's floor.",
        "- **tantivy** (Python binding): fields `id` (raw), `title`, `body` (`en_stem`, stored), "
        "`date` (indexed, fast), `month` (i64 fast, for the histogram) and the facets as raw-"
        "tokenized fast text fields (terms aggregation needs fast fields; the binding has no "
        "facet collector for `facet` fields). Writer with 2 threads and a 256 MB heap, commit, "
        "wait for merges. Queries are built programmatically: words and phrases as term and "
        "phrase queries on title (searchsvc's title weight) and body, `prefix*` as a regex "
        "query `prefix.*`, "
        "`word~` as a fuzzy term query (distance 1, transpositions cost 1), OR-ed like "
        "searchsvc's count; filters as `Must` range / term-set clauses. Per query: "
        "`search(query, 10, count=True)` (empty query: by date, newest first), snippets for "
        "title and body with `SnippetGenerator`, one aggregation request for every facet without "
        "a filter of its own plus the month histogram, and one more per filtered facet without "
        "its own filter (multi-select, as searchsvc).",
        "- **SQLite FTS5** (stdlib `sqlite3`): `fts5(title, body, tokenize='porter unicode61')`, "
        "side tables `meta(rowid, id, date, month)` and `facets(docid, facet, value)` with "
        "indexes, `optimize` after the load. Per query: the `MATCH` into a temp table; `count(*)` "
        "with the filters; the top 10 by `bm25(docs, <title weight>, 1.0)` (a `CROSS JOIN` "
        "keeps the `MATCH` "
        "outermost; a `rowid IN (…)` was pushed into FTS5 and ran the match once per row); "
        "`highlight()` and `snippet()` for the 10; one `GROUP BY` per facet (ignoring its own "
        "filter) and one for the month histogram. Words are quoted strings, phrases quoted, "
        "`prefix*` an FTS5 prefix query; FTS5 has no fuzzy matching, so `word~` is expanded to "
        "every indexed term one edit away from its Porter stem (the vocabulary is loaded from "
        "`fts5vocab` when the index is opened).",
        "- searchsvc ranks all-words matches first (its all-words tier) and "
        "adds a proximity bonus (bench/RANKING.md); the peers rank one BM25 over the OR of the "
        "words, with searchsvc's title weight. The totals are the same OR count.",
        "- **opensearch**: searchsvc's own `search()` on its OpenSearch engine "
        "(`searchsvc/engines/opensearch/`): the same request, translated to one search "
        "(`dfs_query_then_fetch`) with aggregations, plus story look-ups; 2 primary shards, "
        "1 replica, on the local 3-node cluster.",
        "",
    ]
