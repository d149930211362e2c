"""Phase ``quality``: ranking quality on Cranfield, CACM and LISA, searchsvc next to its peers.

Each collection (``docs.jsonl``, ``queries.tsv``, graded ``qrels.txt`` in
``../shared/relevance/<name>/``) is indexed by searchsvc through its JSONL reader — on the
Whoosh engine, and on the OpenSearch engine when a cluster is given — and every judged query is
sent as its **raw text** (punctuation, capitals and all) through ``core.search.search()`` with
``per_page=100`` and ``collapse=false``, as many pages as the top 100 need. searchsvc has to
cope with the text itself: a question mark, a quote or an upper-case ``AND`` are what users
type.

The peers are the ranking lab's (``bench/ranking_lab.py``, imported, not copied), in the same
process on the same documents: tantivy, SQLite FTS5, rank_bm25 with two tokenisations and plain
Whoosh, each given the query's words with punctuation stripped (they would read it as syntax).
Everything is scored by the lab's ``evaluate`` (ir_measures): nDCG@10 on the graded judgements,
MAP and Recall@100 with grade ≥ 1 relevant, means over the judged queries; a query that returns
nothing (or fails) scores 0.

Two checks per collection: searchsvc − the best peer (by nDCG@10, the target being ≥ 0, aim
+0.02), with per-query wins/ties/losses; and how many queries sent **upper-cased** return the
same ids in the same order (the analysis folds case, so all of them should, unless capitals
turn words into operators).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from bench.common import Workspace, log, rnd, seed_records, write_jsonl
from bench.engines import build_opensearch, build_searchsvc, engines_available, open_engine

DEPTH = 100
COLLECTIONS = ("cranfield", "cacm", "lisa")
MEASURES = ("nDCG", "MAP", "R@100")
SEARCHSVC = ("searchsvc", "opensearch")


def smoke_collection(root: Path) -> Path:
    """A tiny stand-in collection made from the seeds: each title's start is a query whose
    one relevant document is that seed."""
    folder = root / "quality-smoke" / "smoke"
    records = seed_records()
    write_jsonl(folder / "docs.jsonl", [{"id": r["id"], "title": r["title"], "body": r["body"]}
                                        for r in records])
    with (folder / "queries.tsv").open("w") as fh:
        for n, r in enumerate(records, start=1):
            fh.write(f"{n}\t{' '.join(r['title'].split()[:6])}, (with punctuation)?\n")
    with (folder / "qrels.txt").open("w") as fh:
        for n, r in enumerate(records, start=1):
            fh.write(f"{n} 0 {r['id']} 3\n")
    return folder


def _rank_all(engine, coll, upper: bool = False) -> tuple[dict[str, list[str]], list[str]]:
    ranked, errors = {}, []
    for q in coll.qids:
        text = coll.queries.get(q, "")
        try:
            ranked[q] = engine.rank(text.upper() if upper else text, DEPTH)
        except Exception as exc:  # a query the engine cannot answer scores 0
            errors.append(f"{q}: {type(exc).__name__}: {exc}"[:200])
            ranked[q] = []
    return ranked, errors


def _scores(lab, coll, ranked: dict[str, list[str]]) -> tuple[dict, object]:
    found = lab.evaluate(coll, ranked)
    per = found.pop("per")
    return {k: rnd(v, 4) for k, v in found.items()}, per


def _one(ws: Workspace, folder: Path, with_opensearch: bool) -> dict:
    from bench import ranking_lab as lab

    coll = lab.load_collection(folder)
    work = ws.root / "quality" / folder.name
    shutil.rmtree(work, ignore_errors=True)
    docs = folder / "docs.jsonl"
    log(f"quality: {folder.name}, {len(coll.ids):,} documents, {len(coll.qids)} judged queries")
    engines: dict[str, dict] = {}
    per: dict[str, object] = {}
    for name in SEARCHSVC:
        if name == "opensearch" and not with_opensearch:
            continue
        out = work / name
        out.mkdir(parents=True)
        t0 = time.perf_counter()
        try:
            documents = (build_searchsvc(out / "index", [docs]) if name == "searchsvc"
                         else build_opensearch(out, [docs]))
        except Exception as exc:  # reported; the other engines still run
            engines[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            log(f"  {name}: build failed: {exc}")
            continue
        build_s = time.perf_counter() - t0
        engine = open_engine(name, out)
        t0 = time.perf_counter()
        ranked, errors = _rank_all(engine, coll)
        seconds = time.perf_counter() - t0
        upper, upper_errors = _rank_all(engine, coll, upper=True)
        engine.close()
        scores, per[name] = _scores(lab, coll, ranked)
        same = sum(1 for q in coll.qids if ranked[q] == upper[q])
        engines[name] = {**scores, "documents": documents, "build_s": rnd(build_s, 2),
                         "ms_per_query": rnd(seconds * 1000 / max(len(coll.qids), 1), 1),
                         "errors": len(errors), "error_examples": errors[:3],
                         "empty": sum(1 for q in coll.qids if not ranked[q]),
                         "upper_same": same, "upper_errors": len(upper_errors),
                         "upper_differs": [q for q in coll.qids if ranked[q] != upper[q]][:10]}
        log(f"  {name}: nDCG@10 {scores['nDCG']:.4f}, MAP {scores['MAP']:.4f}, "
            f"R@100 {scores['R@100']:.4f}; upper-cased same {same}/{len(coll.qids)}")
    peers: dict[str, dict] = {}
    for peer, fn in lab.PEERS.items():
        t0 = time.perf_counter()
        try:
            ranked = fn(coll)
        except Exception as exc:  # a peer that fails is reported, not fatal
            peers[peer] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        scores, per[peer] = _scores(lab, coll, ranked)
        peers[peer] = {**scores, "seconds": rnd(time.perf_counter() - t0, 2),
                       "empty": sum(1 for q in coll.qids if not ranked.get(q))}
        log(f"  peer {peer}: nDCG@10 {scores['nDCG']:.4f}")
    scored = {p: r for p, r in peers.items() if "nDCG" in r}
    best = max(scored, key=lambda p: scored[p]["nDCG"]) if scored else None
    versus: dict[str, dict] = {}
    for name, r in engines.items():
        if best is None or "nDCG" not in r:
            continue
        a, b = per[name], per[best]
        versus[name] = {m: rnd(r[m] - scored[best][m], 4) for m in MEASURES}
        versus[name].update(wins=int((a > b + 1e-9).sum()), ties=int((abs(a - b) <= 1e-9).sum()),
                            losses=int((a < b - 1e-9).sum()),
                            best_peer_by_measure={m: max(scored, key=lambda p: scored[p][m])
                                                  for m in MEASURES})
    return {"documents": len(coll.ids), "queries": len(coll.qids), "folder": str(folder),
            "engines": engines, "peers": peers, "best_peer": best, "versus_best": versus}


def run(ws: Workspace, relevance_dir: Path, collections: tuple[str, ...] = COLLECTIONS) -> dict:
    started = time.perf_counter()
    with_opensearch = "opensearch" in engines_available()
    folders = ([smoke_collection(ws.root)] if ws.smoke
               else [relevance_dir / name for name in collections
                     if (relevance_dir / name / "docs.jsonl").exists()])
    out: dict = {"relevance_dir": str(relevance_dir), "depth": DEPTH, "collections": {},
                 "opensearch": with_opensearch}
    for folder in folders:
        out["collections"][folder.name] = _one(ws, folder, with_opensearch)
    missing = [c for c in collections if not ws.smoke and c not in out["collections"]]
    if missing:
        out["missing"] = missing
    out["seconds"] = rnd(time.perf_counter() - started, 1)
    return out
