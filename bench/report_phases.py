"""The report's newer sections: ranking quality on three collections, updates, scale, and the
OpenSearch capacity model — their targets and their Markdown (``bench/report.py`` has the rest).

Like the rest of the report, everything here is computed from ``report.json`` alone.

**The OpenSearch capacity model** (:func:`opensearch_capacity`) answers: how many nodes and
shards does a 10M-article archive need so that a full search stays at p95 ≤ 60 ms and a
rebuild takes ≤ 1 h? It starts from what was measured on the local cluster with 2 primary
shards at 1x (10,420 articles per shard) and 10x (104,205 per shard):

* a query's latency is split into the client's part (searchsvc's ``search()`` around the
  engine — parsing, highlighting, JSON — measured as the bench process's CPU time per query,
  which does not shrink with more shards), a fixed part (measured on a *floor* index of 1 % of
  the corpus: round trips, query phases, the aggregations' fixed cost) and the part that grows
  with the articles per shard (fitted as a power law through the two sizes; the shards' searches
  run in parallel, one core each); the largest shard that keeps client + fixed + growing
  ≤ 60 ms at p95 gives the number of shards;
* the rebuild needs 10M / 3600 s ≈ 2,800 articles/s: the cluster's CPU time per article
  (measured at 10x, from the JVMs' /proc counters) gives the cores the indexing takes, and the
  client's CPU time per article how many writer processes must feed it;
* the index's size per article (primaries, measured at 10x) times 10M times (1 + replicas)
  gives the store, which should fit the nodes' page cache for latency.

Assumptions (stated in the report): dedicated nodes of ``NODE_CORES`` cores and ``NODE_RAM_GB``
GB, half for the JVM heap and half for the page cache; one replica; the per-shard work of a
query on a dedicated core takes what it takes here at the same shard size (conservative: here
three JVMs and the client share two cores); growth past 10x follows the 1x→10x exponent.
"""

from __future__ import annotations

import math

from bench.markdown import delta, fmt, table, verdict

QUALITY_AIM = 0.02
UPDATE_TARGETS = {("1x", "single"): 1.0, ("10x", "single"): 2.0, ("1x", "noop"): 0.5}
SCALE_N = 1_000_000  # the scale targets are stated at 1M articles
SCALE_TARGETS = {"first_p50_ms": 15.0, "first_p95_ms": 60.0, "tantivy_p50_ratio": 3.0,
                 "build_wall_s": 900.0, "peak_tree_pss_mb": 2048.0, "worker_rss_mb": 1024.0,
                 "index_ratio": 3.0}
BASELINE_TOLERANCE = {"time": 1.10, "memory": 1.05}  # noise allowance for "nothing slower"
OS_ARTICLES = 10_000_000
OS_P95_MS = 60.0
OS_REBUILD_S = 3600.0
NODE_CORES = 8
NODE_RAM_GB = 32
REPLICAS = 1
SINGLE = ("add", "change", "delete")
OP_LABELS = {"noop": "no change", "add": "add 1", "change": "change 1", "delete": "delete 1",
             "batch": "add 100 (batch)", "batch_delete": "delete 100 (batch)"}


def _phase(data: dict, name: str) -> dict:
    return data.get("phases", {}).get(name) or {}


def _target(tid: str, text: str, value, unit: str, met: bool | None, detail: str) -> dict:
    return {"id": tid, "target": text, "value": value, "unit": unit, "met": met,
            "detail": detail}


# -- targets ---------------------------------------------------------------------------------


def targets(data: dict) -> list[dict]:
    return _quality_targets(data) + _update_targets(data) + _scale_targets(data)


def _quality_targets(data: dict) -> list[dict]:
    q = _phase(data, "quality")
    out = []
    for name, c in q.get("collections", {}).items():
        for engine, versus in c.get("versus_best", {}).items():
            d = versus["nDCG"]
            mine = c["engines"][engine]
            out.append(_target(
                f"quality_{name}_{engine}",
                f"{name}: searchsvc ({'Whoosh' if engine == 'searchsvc' else 'OpenSearch'}) "
                f"nDCG@10 ≥ best peer (aim +{QUALITY_AIM:.2f})", d, "Δ", d >= 0,
                f"{mine['nDCG']:.4f} vs {c['best_peer']} "
                f"{c['peers'][c['best_peer']]['nDCG']:.4f}; MAP {delta(versus['MAP'])}, "
                f"R@100 {delta(versus['R@100'])}; wins/ties/losses {versus['wins']}/"
                f"{versus['ties']}/{versus['losses']}"
                + ("" if d >= QUALITY_AIM else f"; short of the +{QUALITY_AIM:.2f} aim")))
    cases = [(name, e, r) for name, c in q.get("collections", {}).items()
             for e, r in c.get("engines", {}).items() if "upper_same" in r]
    if cases:
        same = sum(r["upper_same"] for _, _, r in cases)
        total = sum(q["collections"][n]["queries"] for n, _, _ in cases)
        out.append(_target("quality_case", "upper-cased queries return the same ids in the same "
                           "order", same, f"/{total}", same == total,
                           ", ".join(f"{n} {e} {r['upper_same']}/{q['collections'][n]['queries']}"
                                     for n, e, r in cases)))
    return out


def _update_targets(data: dict) -> list[dict]:
    u = _phase(data, "update")
    out = []
    for label, s in u.get("scales", {}).items():
        summary = s.get("summary", {})
        for mode in ("fresh", "live"):
            ops = summary.get(mode, {})
            single = [(op, ops[op]["wall_s"]) for op in SINGLE
                      if op in ops and ops[op]["wall_s"] is not None]
            limit = UPDATE_TARGETS.get((label, "single"))
            if single and limit is not None:
                worst = max(single, key=lambda x: x[1])
                out.append(_target(
                    f"update_{label}_{mode}_single",
                    f"update of one article at {label} ({_mode(mode)}) ≤ {limit:g} s",
                    worst[1], "s", worst[1] <= limit,
                    "slowest of " + ", ".join(f"{OP_LABELS[o]} {v:.2f} s" for o, v in single)
                    + f" (medians of {ops[single[0][0]]['runs']}); CPU of the slowest "
                    f"{fmt(ops[worst[0]]['cpu_s'], 2)} s"))
            limit = UPDATE_TARGETS.get((label, "noop"))
            if "noop" in ops and ops["noop"]["wall_s"] is not None and limit is not None:
                v = ops["noop"]["wall_s"]
                out.append(_target(f"update_{label}_{mode}_noop",
                                   f"no-change update at {label} ({_mode(mode)}) ≤ {limit:g} s",
                                   v, "s", v <= limit, f"CPU {ops['noop']['cpu_s']:.2f} s"))
        http = s.get("http")
        if http and http.get("single_summary"):
            ss, bs = http["single_summary"], http.get("batch_summary") or {}
            ok = ss["found_at_once"] + bs.get("found_at_once", 0)
            total = ss["ok"] + bs.get("ok", 0)
            out.append(_target(
                "http_ingest_searchable", "POST /api/articles: searchable when it returns",
                ok, f"/{total}", ok == total and total > 0,
                f"first GET /api/search after the POST found it; POST one article "
                f"{fmt(ss['post_s'], 3)} s, a {http['batch_size']}-line batch "
                f"{fmt(bs.get('post_s'), 3)} s (medians)"))
    return out


def _mode(mode: str) -> str:
    return "fresh `searchsvc index --update`" if mode == "fresh" else "long-lived process"


def scale_at_target(scale: dict) -> tuple[str | None, dict | None, bool]:
    """The scale the targets are judged at: the largest measured one of at least 1M articles
    (measured), else the largest measured one projected to 1M with its last exponents."""
    items = sorted(scale.get("scales", {}).items(), key=lambda kv: kv[1]["articles"])
    good = [(label, s) for label, s in items
            if "error" not in s.get("engines", {}).get("searchsvc", {"error": 1})]
    if not good:
        return None, None, False
    label, s = good[-1]
    return label, s, s["articles"] >= SCALE_N


def _projected(scale: dict, engine: str, measure: str) -> float | None:
    """A measure at 1M: measured at the largest scale ≥ 1M, or projected from the largest
    measured scale with the exponent of the last step."""
    label, s, measured = scale_at_target(scale)
    if s is None:
        return None
    rec = s["engines"].get(engine, {})
    from bench.scale import _flat

    value = _flat(rec).get(measure)
    if measured or value is None:
        return value
    steps = scale.get("growth", {}).get(engine, {})
    last = [k for k in steps if k.endswith(f"→{label}")]
    a = steps[last[0]].get(measure) if last else None
    if a is None:
        return None
    return value * (SCALE_N / s["articles"]) ** a


def _scale_targets(data: dict) -> list[dict]:
    sc = _phase(data, "scale")
    if not sc.get("scales"):
        return []
    label, s, measured = scale_at_target(sc)
    if s is None:
        return []
    how = (f"measured at {label} ({s['articles']:,} articles)" if measured else
           f"projected to 1M from {label} ({s['articles']:,} articles) with the exponents of "
           "the last step — not measured")
    p = {m: _projected(sc, "searchsvc", m) for m in
         ("first_p50_ms", "first_p95_ms", "build_wall_s", "peak_tree_pss_mb", "worker_rss_mb",
          "index_mb")}
    t = {m: _projected(sc, "tantivy", m) for m in ("first_p50_ms", "index_mb")}
    out = []

    def add(tid: str, text: str, value: float | None, unit: str, limit: float,
            extra: str = "") -> None:
        out.append(_target(tid, text, value, unit, None if value is None else value <= limit,
                           how + extra) | {"projected": not measured})

    add("scale_first_p50", "at 1M: full search p50 ≤ 15 ms (first runs)", p["first_p50_ms"],
        "ms", SCALE_TARGETS["first_p50_ms"])
    add("scale_first_p95", "at 1M: full search p95 ≤ 60 ms (first runs)", p["first_p95_ms"],
        "ms", SCALE_TARGETS["first_p95_ms"])
    ratio = (p["first_p50_ms"] / t["first_p50_ms"]
             if p["first_p50_ms"] and t["first_p50_ms"] else None)
    add("scale_vs_tantivy", "at 1M: p50 within 3× tantivy's (first runs)", ratio, "×",
        SCALE_TARGETS["tantivy_p50_ratio"],
        f"; tantivy {fmt(t['first_p50_ms'], 1)} ms")
    wall = p["build_wall_s"]
    add("scale_build", "at 1M: full build ≤ 15 min", wall / 60 if wall else None, "min", 15.0)
    add("scale_build_memory", "at 1M: peak build tree memory ≤ 2 GB",
        p["peak_tree_pss_mb"] / 1024 if p["peak_tree_pss_mb"] else None, "GB", 2.0)
    add("scale_worker", "at 1M: one serving worker ≤ 1 GB RSS",
        p["worker_rss_mb"] / 1024 if p["worker_rss_mb"] else None, "GB", 1.0)
    ratio = p["index_mb"] / t["index_mb"] if p["index_mb"] and t["index_mb"] else None
    add("scale_index", "at 1M: index ≤ 3× tantivy's size", ratio, "×",
        SCALE_TARGETS["index_ratio"],
        f"; {fmt(p['index_mb'], 0)} MB vs {fmt(t['index_mb'], 0)} MB")
    base = sc.get("baseline")
    if base and base.get("ratios"):
        worse = {m: r for m, r in base["ratios"].items()
                 if r > BASELINE_TOLERANCE["memory" if m.endswith("_mb") else "time"]}
        worst = max(base["ratios"].items(), key=lambda kv: kv[1])
        out.append(_target(
            "scale_1x_not_slower", "at 1x nothing slower than today", worst[1], "×",
            not worse,
            f"worst ratio to the baseline of {base.get('saved')} ({base.get('commit') or '?'}): "
            f"{worst[0]} {worst[1]:.2f}×"
            + ("; over the noise allowance (+10 % time, +5 % memory): "
               + ", ".join(f"{m} {r:.2f}×" for m, r in worse.items()) if worse else
               "; all within +10 % (time) / +5 % (memory)")
            + ("; the baseline was saved in this run" if sc.get("baseline_saved") else "")))
    return out


# -- quality ---------------------------------------------------------------------------------


def render_quality(data: dict) -> list[str]:
    q = _phase(data, "quality")
    title = "## 4. Ranking quality (Cranfield, CACM, LISA)"
    if not q:
        return [title, "", "Not run.", ""]
    out = [title, "",
           "Each collection indexed by searchsvc through its JSONL reader and every judged query "
           "sent as its **raw text** through `search()` (`per_page=100`, `collapse=false`, pages "
           "as needed) — on the Whoosh engine (`searchsvc`) and"
           + (" on the OpenSearch engine (`opensearch`, 2 shards, the local cluster)"
              if q.get("opensearch") else " (no OpenSearch cluster in this run)")
           + ". The peers are `bench/ranking_lab.py`'s, same documents, same run, given the "
           "query's words with punctuation stripped. nDCG@10 on the graded judgements, MAP and "
           "Recall@100 with grade ≥ 1 relevant, means over the judged queries (ir_measures); a "
           "query with no result scores 0. Δ = searchsvc − the best peer (by nDCG@10), the "
           f"target ≥ 0 and the aim +{QUALITY_AIM:.2f}.", ""]
    summary = []
    for name, c in q.get("collections", {}).items():
        out += [f"**{name}** — {c['documents']:,} documents, {c['queries']} judged queries:", ""]
        rows = []
        for engine, r in c.get("engines", {}).items():
            if "error" in r:
                rows.append([f"**{engine}**", "error", r["error"][:80], "", "", "", ""])
                continue
            rows.append([f"**{engine}**", fmt(r["nDCG"], 4), fmt(r["MAP"], 4),
                         fmt(r["R@100"], 4), fmt(r["ms_per_query"], 1),
                         f"{r['upper_same']}/{c['queries']}", f"{r['errors']}/{r['empty']}"])
        for peer, r in c.get("peers", {}).items():
            if "error" in r:
                rows.append([peer, "error", r["error"][:80], "", "", "", ""])
                continue
            best = " (best)" if peer == c.get("best_peer") else ""
            rows.append([peer + best, fmt(r["nDCG"], 4), fmt(r["MAP"], 4), fmt(r["R@100"], 4),
                         "", "", f"–/{r['empty']}"])
        out += [table(["engine", "nDCG@10", "MAP", "Recall@100", "ms/query", "upper-cased same",
                       "errors/empty"], rows), ""]
        for engine, v in c.get("versus_best", {}).items():
            summary.append([name, engine, c["best_peer"], delta(v["nDCG"]), delta(v["MAP"]),
                            delta(v["R@100"]), f"{v['wins']}/{v['ties']}/{v['losses']}",
                            verdict(v["nDCG"] >= 0) + (" (aim met)" if v["nDCG"] >= QUALITY_AIM
                                                       else "")])
    if summary:
        out += ["**searchsvc − best peer** (per-query wins/ties/losses on nDCG@10):", "",
                table(["collection", "engine", "best peer", "Δ nDCG@10", "Δ MAP", "Δ R@100",
                       "wins/ties/losses", "≥ best peer"], summary, "lllrrrrl"), ""]
    out.append("*upper-cased same*: queries whose upper-cased text returns the same top-100 ids "
               "in the same order. *ms/query*: the raw-text `search()` with 100 hits, snippets, "
               "facets and histogram, uncached first run.")
    return out + _footer(q)


# -- updates ---------------------------------------------------------------------------------


def render_updates(data: dict) -> list[str]:
    u = _phase(data, "update")
    title = "## 5. Updates (Whoosh engine)"
    if not u:
        return [title, "", "Not run.", ""]
    out = [title, "",
           "Wall time of keeping the index current, medians of "
           f"{u['runs']} runs; *fresh* = `python -m searchsvc index --update …` as its own "
           "process, measured from outside (interpreter start-up, imports and opening the "
           "index included: what `searchsvc index --update` costs); *live* = `update()` inside "
           "one long-lived process holding the engine open (what a server's ingest costs), and "
           "*searchable* = until `search()` in that process finds the change. CPU time beside "
           "wall time. 1x: Reuters as 20,841 text files in one folder; 10x: the JSONL ×10 as "
           "one file (208,410 articles) plus a folder of small files where new articles go. "
           "Every operation is checked by searching for a word only its articles contain.", ""]
    rows = []
    for label, s in u.get("scales", {}).items():
        if "error" in s:
            rows.append([label, "error: " + " / ".join(s["error"])[:120]] + [""] * 7)
            continue
        fb = s.get("full_build", {})
        rows.append([label, "**full build** (fresh process)", fmt(fb.get("wall_s"), 2),
                     fmt(fb.get("cpu_s"), 2), "", "", "", "", fmt(fb.get("peak_tree_pss_mb"), 0)
                     + " MB peak"])
        summary = s.get("summary", {})
        for op in OP_LABELS:
            f, live = summary.get("fresh", {}).get(op, {}), summary.get("live", {}).get(op, {})
            if not f and not live:
                continue
            limit = UPDATE_TARGETS.get((label, "single" if op in SINGLE else op))
            checks = f.get("checks_failed", 0) + live.get("checks_failed", 0)
            rows.append([label, OP_LABELS[op], fmt(f.get("wall_s"), 3), fmt(f.get("cpu_s"), 3),
                         fmt(live.get("wall_s"), 3), fmt(live.get("cpu_s"), 3),
                         fmt(live.get("searchable_s"), 3),
                         f"≤ {limit:g} s" if limit else "",
                         "ok" if not checks else f"**{checks} check(s) failed**"])
    out += [table(["scale", "operation", "fresh wall s", "fresh CPU s", "live wall s",
                   "live CPU s", "live searchable s", "target", "marker check"], rows,
                  "llrrrrrll"), ""]
    for label, s in u.get("scales", {}).items():
        if s.get("worker_memory"):
            out.append(f"- {label}: the long-lived process opened the index in "
                       f"{fmt(s.get('worker_open_s'), 2)} s and held "
                       f"{fmt(s['worker_memory'].get('rss_mb'), 0)} MB RSS after the runs.")
    http = (u.get("scales", {}).get("1x") or {}).get("http")
    if http:
        out += ["", f"**HTTP ingest** (`searchsvc serve`, {http['workers']} gunicorn workers, an "
                "admin token, on the 1x index): `POST /api/articles`, then at once `GET "
                "/api/search?q=<its marker>` — the POST returns after the article is "
                "searchable, so the first search must find it, whichever worker answers.", ""]
        rows = []
        for kind in ("single", "batch"):
            sm = http.get(f"{kind}_summary") or {}
            recs = http.get(kind, [])
            late = [r["found_after_s"] for r in recs if r.get("found_after_s") is not None]
            rows.append(["1 article" if kind == "single" else
                         f"{http['batch_size']}-line NDJSON batch", sm.get("runs"),
                         fmt(sm.get("post_s"), 3), fmt(sm.get("post_and_search_s"), 3),
                         f"{sm.get('found_at_once')}/{sm.get('ok')}",
                         ", ".join(f"{x:.2f}" for x in late) or "–"])
        out += [table(["request", "runs", "POST s (median)", "POST + first search s",
                       "found by the first search", "found later after s"], rows), ""]
    profiles = [(label, p) for label, s in u.get("scales", {}).items()
                for p in s.get("profiles", [])]
    if profiles:
        out += ["**Where the time goes where a target is missed** — cProfile of the same "
                "operation run once more (cumulative time; searchsvc, Whoosh and numpy frames):",
                ""]
        for label, p in profiles:
            out += [f"{label}, {_mode(p['mode'])}, {OP_LABELS[p['op']]} (target "
                    f"{p['target_s']:g} s missed by {OP_LABELS[p['missed_by']]}: "
                    f"{p['measured_s']:.2f} s; profiled run {fmt(p['profiled_wall_s'], 2)} s):",
                    "", "```", "\n".join(ln for ln in p["profile"].splitlines()
                                          if ".prof" not in ln), "```", ""]
    return out + _footer(u)


# -- scale -----------------------------------------------------------------------------------


def render_scale(data: dict) -> list[str]:
    sc = _phase(data, "scale")
    title = "## 6. Scale (generated archives)"
    if not sc:
        return [title, "", "Not run.", ""]
    out = [title, "",
           "Archives written by `bench.generate` (new articles with Reuters' statistics, not "
           "copies; fixed seed) at " + ", ".join(sc.get("requested", [])) + "; a query set "
           "drawn from each archive the way `bench/make_queries.py` drew the Reuters set "
           f"(words from a sample of {sc.get('sample', 50000):,} articles when larger, "
           "frequencies over the whole archive). searchsvc (Whoosh) and tantivy build each in a "
           "fresh process (wall, CPU incl. workers, sampled peak PSS of the whole process tree; "
           f"killed past {fmt(sc.get('build_timeout_s'), 0)} s or {fmt(sc.get('max_build_gb'))} "
           "GB), then answer the set in one serving process of their own "
           f"({sc.get('runs')} runs per query, {fmt(sc.get('budget_per_kind_s'), 0)} s per "
           "kind): *warm* = median of a query's runs, *first* = its first run; *RSS* = that "
           "process after the whole set.", ""]
    rows = []
    for label, s in sorted(sc.get("scales", {}).items(), key=lambda kv: kv[1]["articles"]):
        for engine, r in s.get("engines", {}).items():
            if "error" in r:
                rows.append([label, f"{s['articles']:,}", engine, f"error: {r['error']}"[:90]]
                            + [""] * 9)
                continue
            rows.append([label, f"{s['articles']:,}", engine, fmt(r.get("wall_s"), 1),
                         fmt(r.get("cpu_s"), 1), fmt(r.get("peak_tree_pss_mb"), 0),
                         fmt(r.get("index_mb"), 0), fmt(r.get("worker_rss_mb"), 0),
                         fmt(r.get("p50_ms"), 1), fmt(r.get("p95_ms"), 1),
                         fmt(r.get("first_p50_ms"), 1), fmt(r.get("first_p95_ms"), 1),
                         f"{r.get('errors', 0)}"])
    out += [table(["scale", "articles", "engine", "build wall s", "build CPU s",
                   "peak tree PSS MB", "index MB", "worker RSS MB", "p50 warm", "p95 warm",
                   "p50 first", "p95 first", "errors"], rows), ""]
    growth = sc.get("growth", {})
    if any(growth.values()):
        rows = []
        for engine, steps in growth.items():
            for step, g in steps.items():
                rows.append([engine, step] + [fmt(g.get(m), 2) for m in (
                    "build_wall_s", "build_cpu_s", "peak_tree_pss_mb", "index_mb",
                    "worker_rss_mb", "p50_ms", "p95_ms", "first_p50_ms", "first_p95_ms")])
        out += ["**Growth exponents** (log-log slope between the scales; 1.00 = linear, 0 = "
                "flat):", "",
                table(["engine", "step", "build wall", "build CPU", "peak PSS", "index",
                       "worker RSS", "p50 warm", "p95 warm", "p50 first", "p95 first"], rows,
                      "llrrrrrrrrr"), ""]
    base = sc.get("baseline")
    if base and base.get("ratios"):
        rows = [[m, fmt(base["baseline"].get(m), 2), fmt(base["now"].get(m), 2),
                 f"{r:.2f}×"] for m, r in base["ratios"].items()]
        where = (f"commit {base.get('commit') or '?'} measured in this run, right after "
                 "today's code (`--baseline-commit`)" if base.get("saved") == "this run" else
                 f"`bench/scale_baseline.json`, saved {base.get('saved')}, commit "
                 f"{base.get('commit') or '?'}"
                 + ("; saved by this run" if sc.get("baseline_saved") else ""))
        out += [f"**1x against the baseline** ({where}):", "",
                table(["measure", "baseline", "now", "ratio"], rows), ""]
    label, s, measured = scale_at_target(sc)
    if s is not None and not measured:
        out.append(f"The 1M targets (see Targets) are **projected** from {label} with the "
                   "exponents of the last step, not measured: a rough guide until a 1M run "
                   "(`python -m bench scale --articles 1000000`).")
    return out + _footer(sc)


# -- the OpenSearch capacity model ------------------------------------------------------------


def _summary_row(index: dict, engine: str, corpus: str) -> dict | None:
    return next((r for r in index.get("summary", [])
                 if r["engine"] == engine and r["corpus"] == corpus), None)


def _fit(x1: float, y1: float | None, x2: float, y2: float | None) -> float | None:
    if not y1 or not y2 or y1 <= 0 or y2 <= 0:
        return None
    return math.log(y2 / y1) / math.log(x2 / x1)


def opensearch_capacity(data: dict) -> dict:
    """The model's inputs and results (see the module docstring); {} without both sizes."""
    index, query = _phase(data, "index"), _phase(data, "query")
    one = _summary_row(index, "opensearch", "jsonl")
    big = next((r for r in index.get("summary", []) if r["engine"] == "opensearch"
                and r["corpus"].startswith("jsonl") and r["corpus"] != "jsonl"), None)
    scale = (query.get("scale") or {}).get("opensearch")
    full = (query.get("engines", {}).get("opensearch") or {})
    floor = query.get("floor") or {}
    if not one or not big or not scale:
        return {}
    shards = one.get("shards") or 2
    n1, nx = one["articles"], big["articles"]
    d1, dx = n1 / shards, nx / shards
    m: dict = {"shards_measured": shards, "articles_1x": n1, "articles_nx": nx,
               "per_shard_1x": d1, "per_shard_nx": dx, "target_articles": OS_ARTICLES,
               "node_cores": NODE_CORES, "node_ram_gb": NODE_RAM_GB, "replicas": REPLICAS,
               "floor_articles": floor.get("articles")}
    # Latency = client CPU + fixed part (the floor: an index of 1 % of the corpus) + the part
    # that grows with the articles per shard, fitted as a power law through 1x and 10x.
    lat = {}
    fo = floor.get("opensearch") or {}
    for key in ("p50", "p95"):
        c1 = scale["1x"].get(f"cpu_{key}") or 0.0
        cx = scale["nx"].get(f"cpu_{key}") or 0.0
        r1 = (scale["1x"].get(key) or 0) - c1
        rx = (scale["nx"].get(key) or 0) - cx
        fixed = max(0.0, (fo.get(key) or 0) - (fo.get(f"cpu_{key}") or 0)) if fo else 0.0
        w1, wx = r1 - fixed, rx - fixed
        lat[key] = {"measured_1x": scale["1x"].get(key), "measured_nx": scale["nx"].get(key),
                    "floor": fo.get(key), "client_1x": c1, "client_nx": cx, "fixed": fixed,
                    "grows_1x": w1, "grows_nx": wx, "exponent": _fit(d1, w1, dx, wx)}
    m["latency"] = lat
    p95 = lat["p95"]
    budget = OS_P95_MS - p95["client_nx"] - p95["fixed"]
    m["p95_budget_for_shards_ms"] = budget
    m["max_per_shard"] = m["shards_for_latency"] = None
    if p95["exponent"] is not None and budget > 0 and p95["grows_nx"] > 0:
        a = max(p95["exponent"], 0.05)  # a flat fit would allow any shard size
        m["max_per_shard"] = dx * (budget / p95["grows_nx"]) ** (1 / a)
        m["shards_for_latency"] = max(1, math.ceil(OS_ARTICLES / m["max_per_shard"]))
    # Sensitivity: a shard's search on a whole dedicated core, twice as fast as on its share
    # of the two cores here (fixed and growing parts halved).
    m["shards_if_twice_as_fast"] = None
    half = OS_P95_MS - p95["client_nx"] - p95["fixed"] / 2
    if p95["exponent"] is not None and half > 0 and p95["grows_nx"] > 0:
        a = max(p95["exponent"], 0.05)
        per = dx * (half / (p95["grows_nx"] / 2)) ** (1 / a)
        m["shards_if_twice_as_fast"] = max(1, math.ceil(OS_ARTICLES / per))
    # Throughput: the cluster's CPU per query = the floor's (taken as per shard, so it grows
    # with the shard count: conservative) + the part that grows with the archive.
    cpu1 = (full.get("cluster") or {}).get("cluster_cpu_ms_per_query")
    cpux = (scale.get("cluster_nx") or {}).get("cluster_cpu_ms_per_query")
    cpuf = (floor.get("cluster") or {}).get("cluster_cpu_ms_per_query") or 0.0
    m["cluster_cpu_ms_per_query_1x"], m["cluster_cpu_ms_per_query_nx"] = cpu1, cpux
    m["cluster_cpu_ms_per_query_floor"] = cpuf or None
    a_cpu = _fit(n1, (cpu1 or 0) - cpuf, nx, (cpux or 0) - cpuf)
    m["cluster_cpu_exponent"] = a_cpu
    # Rebuild: the cluster's and the client's CPU per article.
    rate = OS_ARTICLES / OS_REBUILD_S
    m["rebuild_rate_needed"] = rate
    cl = big.get("cluster_cpu_ms_per_article")
    cli = big.get("cpu_ms_per_article")
    m["cluster_cpu_ms_per_article"], m["client_cpu_ms_per_article"] = cl, cli
    m["articles_per_s_measured"] = big.get("articles_per_s")
    m["articles_per_s_per_shard"] = (big["articles_per_s"] / shards
                                     if big.get("articles_per_s") else None)
    m["build_cores"] = rate * cl / 1000 if cl else None
    m["client_processes"] = math.ceil(rate * cli / 1000) if cli else None
    m["client_rate_one_process"] = 1000 / cli if cli else None
    # Store: primaries per article at 10x, times replicas.
    per_article = big["size_mb"] / nx if big.get("size_mb") else None
    m["store_gb"] = per_article * OS_ARTICLES * (1 + REPLICAS) / 1024 if per_article else None
    cache_gb = NODE_RAM_GB / 2
    m["nodes_for_memory"] = math.ceil(m["store_gb"] / cache_gb) if m["store_gb"] else None
    shards_lat = m["shards_for_latency"]
    # One query searches one copy of every shard, each on a core of its own.
    m["nodes_for_latency"] = math.ceil(shards_lat / NODE_CORES) if shards_lat else None
    m["nodes_for_build"] = (max(1, math.ceil(m["build_cores"] / NODE_CORES))
                            if m["build_cores"] else None)
    needs = [x for x in (m["nodes_for_memory"], m["nodes_for_latency"], m["nodes_for_build"],
                         1 + REPLICAS) if x]
    m["nodes"] = max(needs) if needs else None
    m["shards"] = max(shards_lat or 0, m["nodes"] or 0) or None
    if m["shards"] and cpux and a_cpu is not None:
        grows = max((cpux - cpuf), 0.0) * (OS_ARTICLES / nx) ** a_cpu
        m["cluster_cpu_ms_per_query_10m"] = cpuf / shards * m["shards"] + grows
        m["qps_capacity"] = m["nodes"] * NODE_CORES * 1000 / m["cluster_cpu_ms_per_query_10m"]
    return m


def render_opensearch_capacity(data: dict) -> list[str]:
    title = "## 8. Capacity model: OpenSearch"
    m = data.get("opensearch_capacity") or opensearch_capacity(data)
    if not m:
        return [title, "", "Needs the OpenSearch builds at 1x and 10x (`index`) and their "
                "latency runs (`query`) with a cluster (`--opensearch`).", ""]
    lat = m["latency"]
    p50, p95 = lat["p50"], lat["p95"]

    def split(p: dict, which: str) -> str:
        return (f"{fmt(p['client_' + which], 1)} / {fmt(p['fixed'], 1)} / "
                f"{fmt(p['grows_' + which], 1)}")

    out = [title, "",
           f"Measured on the local cluster (3 nodes, 512 MB heap each, sharing the 2 cores with "
           f"the client and everything else) with {m['shards_measured']} primary shards: "
           f"{m['per_shard_1x']:,.0f} articles per shard at 1x, {m['per_shard_nx']:,.0f} at 10x, "
           f"and a *floor* index of {fmt(m.get('floor_articles'))} articles (1 % of Reuters). "
           "Latencies are the query phase's same sample on all three (full `search()`, median "
           "of runs), split into *client* (the bench process's CPU per query: searchsvc's core "
           "around the engine, which more shards do not make faster), *fixed* (the floor's "
           "latency less its client CPU: round trips, query phases, the aggregations' fixed "
           "part — on this machine inflated by the CPU contention) and *grows* (the rest, "
           "fitted as a power law of the articles per shard).", "",
           table(["", "floor", "1x", "10x", "exponent (per-shard size)"], [
               ["p50 measured ms", fmt(p50["floor"], 1), fmt(p50["measured_1x"], 1),
                fmt(p50["measured_nx"], 1), ""],
               ["p50 client / fixed / grows ms", "", split(p50, "1x"), split(p50, "nx"),
                fmt(p50["exponent"], 2)],
               ["p95 measured ms", fmt(p95["floor"], 1), fmt(p95["measured_1x"], 1),
                fmt(p95["measured_nx"], 1), ""],
               ["p95 client / fixed / grows ms", "", split(p95, "1x"), split(p95, "nx"),
                fmt(p95["exponent"], 2)],
               ["cluster CPU ms per query", fmt(m.get("cluster_cpu_ms_per_query_floor"), 1),
                fmt(m["cluster_cpu_ms_per_query_1x"], 1), fmt(m["cluster_cpu_ms_per_query_nx"], 1),
                fmt(m["cluster_cpu_exponent"], 2)],
               ["build: articles/s per shard", "", "", fmt(m["articles_per_s_per_shard"], 0), ""],
               ["build: cluster / client CPU ms per article", "", "",
                f"{fmt(m['cluster_cpu_ms_per_article'], 2)} / "
                f"{fmt(m['client_cpu_ms_per_article'], 2)}", ""],
           ], "lrrrr"), "",
           f"**For {m['target_articles'] / 1e6:.0f}M articles** — assumptions: dedicated nodes of "
           f"{m['node_cores']} cores and {m['node_ram_gb']} GB (half heap, half page cache), "
           f"{m['replicas']} replica; one query searches one copy of every shard, each on a core "
           "of its own, and a shard's search there takes what it takes here at the same shard "
           "size, the fixed part included (conservative: here 3 JVMs and the client share 2 "
           "cores); the growing part follows the 1x→10x exponent beyond 10x (an extrapolation "
           "in shard size: rough); the fan-out's own cost with many shards is not modelled; "
           "latency at low load (the throughput line says what load costs).", ""]
    lines = []
    if m["shards_for_latency"] is None:
        lines.append(f"- p95 ≤ {OS_P95_MS:.0f} ms: **not reachable by sharding on hardware like "
                     f"this** — the client ({fmt(p95['client_nx'], 1)} ms) and the fixed part "
                     f"({fmt(p95['fixed'], 1)} ms) already take "
                     f"{fmt(p95['client_nx'] + p95['fixed'], 1)} ms of the 60; it needs faster "
                     "nodes (the fixed part is mostly contention here) or a cheaper request."
                     if m["p95_budget_for_shards_ms"] <= 0 else
                     "- p95 ≤ 60 ms: the growing part did not grow between the sizes (no fit).")
    else:
        lines.append(f"- p95 ≤ {OS_P95_MS:.0f} ms: client {fmt(p95['client_nx'], 1)} ms + fixed "
                     f"{fmt(p95['fixed'], 1)} ms leave {fmt(m['p95_budget_for_shards_ms'], 1)} "
                     f"ms for the growing part; at exponent {fmt(p95['exponent'], 2)} a shard "
                     f"may hold ≈{m['max_per_shard']:,.0f} articles → **"
                     f"{m['shards_for_latency']} primary shards**, searched in parallel → "
                     f"{m['nodes_for_latency']} nodes of {m['node_cores']} cores"
                     + (f" (if a shard searched twice as fast on a core of its own: "
                        f"{m['shards_if_twice_as_fast']} shards)."
                        if m.get("shards_if_twice_as_fast") else "."))
    if m.get("build_cores"):
        lines.append(
            f"- Rebuild ≤ 1 h = {m['rebuild_rate_needed']:,.0f} articles/s: the cluster spent "
            f"{fmt(m['cluster_cpu_ms_per_article'], 2)} ms CPU per article (the analysis is "
            f"done by searchsvc; the JVMs only split on spaces and write) → "
            f"{m['build_cores']:.1f} cores busy indexing → {m['nodes_for_build']} node(s) (plus "
            "the replica copy after the build, mostly I/O). The client spent "
            f"{fmt(m['client_cpu_ms_per_article'], 2)} ms CPU per article (searchsvc's reading, "
            f"analysis and stories in Python): one writer process does "
            f"≈{m['client_rate_one_process']:,.0f} articles/s, so **{m['client_processes']} "
            "writer processes** are needed — searchsvc's OpenSearch writer runs in one process "
            "today (`searchsvc/engines/opensearch/engine.py:400`, `add_all` ignores `procs`).")
    if m.get("store_gb"):
        lines.append(f"- Store: {m['store_gb']:,.0f} GB with the replica (primaries measured "
                     f"at 10x, per article) → {m['nodes_for_memory']} node(s) to keep it in "
                     "the page cache.")
    if m.get("nodes"):
        lines.append(f"- **Estimate: {m['nodes']} nodes of {m['node_cores']} cores, "
                     f"{m['shards']} primary shards, {m['replicas']} replica**"
                     + (f"; at ≈{fmt(m['cluster_cpu_ms_per_query_10m'], 0)} ms cluster CPU per "
                        f"query (the floor's CPU counted once per shard: so many shards cost "
                        f"CPU on every query) they serve ≈{m['qps_capacity']:,.0f} full "
                        "searches/s at saturation — a lower bound." if m.get("qps_capacity")
                        else "."))
    elif m["shards_for_latency"] is None:
        lines.append("- **No estimate for the latency target**; for the rest: "
                     f"{max(x for x in (m['nodes_for_build'], m['nodes_for_memory'], 2) if x)} "
                     "nodes.")
    return out + lines + [""]


def _footer(phase: dict) -> list[str]:
    return ["", f"_Phase took {fmt(phase.get('seconds'), 0)} s; finished {phase.get('finished')};"
            f" load average at its end {(phase.get('machine') or {}).get('loadavg')}._", ""]
