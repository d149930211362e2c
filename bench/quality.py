"""Phase ``quality``: ranking quality on Cranfield (1,400 abstracts, 225 queries, graded qrels).

Every engine indexes ``docs.jsonl`` through searchsvc's JSONL reader and answers every query of
``queries.tsv``; the top 100 ids are scored with ir_measures: nDCG@10 on the graded judgements
(0–4) and MAP, P@10, Recall@100 with grade ≥ 1 as relevant. A query an engine returns nothing
for scores 0 (it is not dropped from the mean).

* searchsvc: the raw query text through ``search()`` with default settings, 100 per page, pages
  as needed — it must cope with the punctuation itself.
* tantivy, FTS5: the text's words (punctuation stripped, since both would read it as syntax),
  OR-ed, BM25 over title (weighted as searchsvc weighs it) and body; tantivy's ``en_stem`` (no
  stop words), FTS5's ``porter`` tokenizer and ``bm25(docs, <title weight>, 1.0)``. Each is also
  run at the title weight searchsvc used before (2), to show what that choice changes.
* bm25: a plain BM25 (k1 1.2, b 0.75) written here, over title and body as one field, with
  searchsvc's own analysis (``schema.index_terms``: same tokens, stop words and stemmer).
"""

from __future__ import annotations

import heapq
import math
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import Workspace, log, rnd, seed_records, write_jsonl
from bench.engines import (
    TITLE_BOOST,
    build_fts5,
    build_searchsvc,
    build_tantivy,
    open_engine,
    read_articles,
)

MEASURES = ("nDCG@10", "AP(rel=1)", "P(rel=1)@10", "R(rel=1)@100")
LABELS = {"nDCG@10": "nDCG@10", "AP(rel=1)": "MAP", "P(rel=1)@10": "P@10",
          "R(rel=1)@100": "Recall@100"}
DEPTH = 100
ALT_TITLE_WEIGHT = 2.0  # the title weight searchsvc used until this comparison


class Bm25:
    """Okapi BM25 over searchsvc's analysis, in memory."""

    name = "bm25"

    def __init__(self, articles: list, k1: float = 1.2, b: float = 0.75):
        from searchsvc.schema import index_terms

        self.analyse = index_terms
        self.k1, self.b = k1, b
        self.ids = [a.id for a in articles]
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths = []
        for doc, a in enumerate(articles):
            terms = index_terms(f"{a.title}\n{a.body}")
            self.lengths.append(sum(len(p) for p in terms.values()))
            for term, positions in terms.items():
                self.postings[term].append((doc, len(positions)))
        self.avgdl = sum(self.lengths) / max(len(self.lengths), 1)

    def rank(self, text: str, k: int = DEPTH) -> list[str]:
        n = len(self.ids)
        scores: Counter = Counter()
        for term in set(self.analyse(text)):
            postings = self.postings.get(term)
            if not postings:
                continue
            idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            for doc, tf in postings:
                norm = self.k1 * (1 - self.b + self.b * self.lengths[doc] / self.avgdl)
                scores[doc] += idf * tf * (self.k1 + 1) / (tf + norm)
        best = heapq.nlargest(k, scores.items(), key=lambda item: (item[1], -item[0]))
        return [self.ids[doc] for doc, _ in best]


def smoke_collection(root: Path) -> Path:
    """A tiny stand-in for Cranfield made from the seeds: each title's start is a query whose
    one relevant document is that seed."""
    folder = root / "quality-smoke"
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


def read_queries(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            qid, _, text = line.partition("\t")
            out[qid.strip()] = text.strip()
    return out


def evaluate(qrels: list, run: dict[str, dict[str, float]], qids: list[str]) -> dict:
    import ir_measures

    measures = [ir_measures.parse_measure(m) for m in MEASURES]
    per: dict[str, dict[str, float]] = {str(m): {} for m in measures}
    for metric in ir_measures.iter_calc(measures, qrels, run):
        per[str(metric.measure)][metric.query_id] = metric.value
    out = {}
    for m, label in zip(measures, MEASURES, strict=True):
        values = per[str(m)]
        out[LABELS[label]] = rnd(sum(values.get(q, 0.0) for q in qids) / len(qids), 4)
    return out


def run(ws: Workspace) -> dict:
    import ir_measures

    started = time.perf_counter()
    folder = smoke_collection(ws.root) if ws.smoke else ws.cranfield_dir
    docs, queries = folder / "docs.jsonl", read_queries(folder / "queries.tsv")
    qrels = list(ir_measures.read_trec_qrels(str(folder / "qrels.txt")))
    qids = sorted({q.query_id for q in qrels}, key=lambda x: (len(x), x))
    work = ws.root / "quality"
    shutil.rmtree(work, ignore_errors=True)
    articles = read_articles([docs])
    log(f"quality: {len(articles)} documents, {len(queries)} queries from {folder}")
    builds: dict[str, float] = {}
    engines: dict[str, object] = {}
    for name in ("searchsvc", "tantivy", "fts5"):
        t0 = time.perf_counter()
        out = work / name
        out.mkdir(parents=True)
        if name == "searchsvc":
            build_searchsvc(out / "index", [docs])
        elif name == "tantivy":
            build_tantivy(out / "index", articles)
        else:
            build_fts5(out / "index.sqlite", articles)
        builds[name] = time.perf_counter() - t0
        engines[name] = open_engine(name, out)
    t0 = time.perf_counter()
    engines["bm25"] = Bm25(articles)
    builds["bm25"] = time.perf_counter() - t0
    results = {name: _score(engine, queries, qrels, qids, builds[name])
               for name, engine in engines.items()}
    # The one ranking parameter that is a choice rather than a textbook default: the title
    # weight. Every engine (bm25 has one field) is also run at the weight used before.
    sensitivity: dict[str, dict] = {}
    for name in ("searchsvc", "tantivy", "fts5"):
        alt = _score(open_engine(name, work / name, ALT_TITLE_WEIGHT), queries, qrels, qids,
                     builds[name], label=f"{name} (title ×{ALT_TITLE_WEIGHT:g})")
        sensitivity[name] = {k: alt[k] for k in ("nDCG@10", "MAP", "P@10", "Recall@100")}
    in_file = sum(1 for line in docs.open(encoding="utf-8") if line.strip())
    return {"collection": str(folder), "documents": len(articles), "documents_in_file": in_file,
            "queries": len(qids), "engines": results,
            "title_weight": {"default": TITLE_BOOST, "alternative": ALT_TITLE_WEIGHT,
                             "engines": sensitivity},
            "seconds": rnd(time.perf_counter() - started, 1)}


def _score(engine, queries: dict[str, str], qrels: list, qids: list[str], build_s: float,
           label: str | None = None) -> dict:
    t0 = time.perf_counter()
    run_: dict[str, dict[str, float]] = {}
    errors = []
    for qid in qids:
        try:
            ids = engine.rank(queries.get(qid, ""), DEPTH)
        except Exception as exc:  # a query the engine cannot answer scores 0
            errors.append(f"{qid}: {type(exc).__name__}: {exc}"[:200])
            ids = []
        # Rank-derived scores: ties in engine scores cannot reorder the list.
        run_[qid] = {doc: float(DEPTH - r) for r, doc in enumerate(ids)}
    seconds = time.perf_counter() - t0
    scores = evaluate(qrels, {q: d for q, d in run_.items() if d}, qids)
    scores.update(queries=len(qids), errors=len(errors), error_examples=errors[:3],
                  empty_results=sum(1 for d in run_.values() if not d),
                  ms_per_query=rnd(seconds * 1000 / max(len(qids), 1), 2),
                  build_s=rnd(build_s, 2))
    log(f"  {label or engine.name}: nDCG@10 {scores['nDCG@10']}, MAP {scores['MAP']}, "
        f"P@10 {scores['P@10']}, R@100 {scores['Recall@100']}")
    return scores
