"""The engines under test: searchsvc on its two engines, and two peers, tantivy and SQLite FTS5.

``searchsvc`` is the service on its embedded Whoosh engine; ``opensearch`` is the same service
(the same ``searchsvc.core.search.search()``) on the OpenSearch engine, when a cluster is given
(``BENCH_OPENSEARCH_URL``, set by ``python -m bench --opensearch``). Every engine reads the
same articles (searchsvc's own readers, so parsing is identical), and answers the same query
parameters with its own best effort at the same work as ``GET /api/search``: the top 10 by
relevance (newest first for an empty query), the exact total, highlighted snippets for the 10
hits, counts of every facet (each ignoring its own filter, as searchsvc's multi-select facets
do) and a monthly date histogram (ignoring the date filter).

Query syntax is translated per engine from the small subset the benchmark's query set uses:
plain words (OR-ed; searchsvc ranks all-words matches first but counts any-word matches, so
the totals agree), ``"phrases"``, ``prefix*`` and ``fuzzy~`` (edit distance 1).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from bench.common import FACETS
from searchsvc.engine import TITLE_WEIGHT

TITLE_BOOST = float(TITLE_WEIGHT)  # every peer weighs the title as searchsvc does

TOP = 10
FACET_SIZE = 20
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}


def read_articles(sources: Iterable[Path | str]) -> list:
    """The articles of ``sources`` as searchsvc reads them (duplicates resolved)."""
    from searchsvc.ingest.sources import collect, read_sources

    articles, _ = collect(read_sources([Path(s) for s in sources]))
    return list(articles.values())


def clauses(q: str) -> list[tuple[str, object]]:
    """The benchmark's query syntax as (kind, value) clauses, OR-ed together."""
    out: list[tuple[str, object]] = []
    for m in _TOKEN.finditer(q or ""):
        if m.group(1) is not None:
            words = _WORD.findall(m.group(1).lower())
            if len(words) > 1:
                out.append(("phrase", words))
            elif words:
                out.append(("word", words[0]))
            continue
        token = m.group(2)
        if token in _OPERATORS:
            continue
        kind = "word"
        if token.endswith("*"):
            kind, token = "prefix", token[:-1]
        elif token.endswith("~"):
            kind, token = "fuzzy", token[:-1]
        words = _WORD.findall(token.lower())
        if kind != "word" and len(words) == 1:
            out.append((kind, words[0]))
        else:
            out.extend(("word", w) for w in words)
    return out


def plain_clauses(text: str) -> list[tuple[str, object]]:
    """Free text (Cranfield queries) as plain OR-ed words: punctuation and syntax stripped."""
    return [("word", w) for w in _WORD.findall(text.lower())]


def edits1(word: str) -> set[str]:
    """Every string one edit (delete, transpose, replace, insert) away from ``word``."""
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserts = {a + c + b for a, b in splits for c in letters}
    return deletes | transposes | replaces | inserts


def _filters(params: dict) -> dict[str, object]:
    """Filter name → value: ``date`` → (from, to) dates, each facet → list of values."""
    from searchsvc.dates import parse_date

    out: dict[str, object] = {}
    lo = parse_date(params["from"]) if params.get("from") else None
    hi = parse_date(params["to"]) if params.get("to") else None
    if lo or hi:
        out["date"] = (lo, hi)
    for name in FACETS:
        values = params.get(name)
        if isinstance(values, str):
            values = [values]
        if values:
            out[name] = list(values)
    return out


def facet_values(article, name: str) -> list[str]:
    if name == "source":
        return [article.source] if article.source else []
    return list(getattr(article, name))


def _month(date: dt.date | None) -> int | None:
    return date.year * 12 + date.month - 1 if date else None


# -- searchsvc -------------------------------------------------------------------------------


def build_searchsvc(index_dir: Path, sources: list[Path], procs: int = 2) -> int:
    from searchsvc.ingest.build import build

    return build(index_dir, sources, procs=procs).documents


class SearchsvcEngine:
    """The service's own ``search()`` on one of its engines (Whoosh unless ``settings`` say
    otherwise): the whole work of ``GET /api/search``."""

    name = "searchsvc"

    def __init__(self, index_dir: Path, settings: dict | None = None):
        from searchsvc.engines import open_engine

        self.engine = open_engine(settings or {"ENGINE": "whoosh", "INDEX": str(index_dir)})
        self.engine.snapshot()

    def search(self, params: dict) -> dict:
        from searchsvc.core.params import parse_search_args
        from searchsvc.core.search import search

        result = search(self.engine.snapshot(), parse_search_args(params))
        return {"total": result.total, "ids": [h.id for h in result.hits]}

    def rank(self, text: str, k: int = 100) -> list[str]:
        """The raw text's ranking, uncollapsed, 100 per page, as many pages as ``k`` needs."""
        from searchsvc.core.params import parse_search_args
        from searchsvc.core.search import search

        ids: list[str] = []
        page = 1
        while len(ids) < k and page * 100 <= 10_000:
            sq = parse_search_args({"q": text, "per_page": "100", "page": str(page),
                                    "collapse": "false"})
            result = search(self.engine.snapshot(), sq)
            ids.extend(h.id for h in result.hits if h.id not in ids)
            if not result.hits or page * 100 >= result.total:
                break
            page += 1
        return ids[:k]

    def close(self) -> None:
        self.engine.close()


# -- searchsvc on OpenSearch -----------------------------------------------------------------
# A build in ``out`` names its alias in ``out/opensearch.json``; every alias the benchmark
# makes starts with ``bench-`` and is dropped when its folder is (``drop_opensearch``).

OPENSEARCH_ENV = "BENCH_OPENSEARCH_URL"
OPENSEARCH_META = "opensearch.json"


def opensearch_url() -> str | None:
    import os

    return os.environ.get(OPENSEARCH_ENV) or None


def opensearch_settings(out: Path, url: str | None = None) -> dict:
    """The engine settings of the OpenSearch index built in ``out`` (or to be built there)."""
    import hashlib
    import json
    import os

    meta = Path(out) / OPENSEARCH_META
    if meta.exists():
        found = json.loads(meta.read_text("utf-8"))
    else:
        url = url or opensearch_url()
        if not url:
            raise RuntimeError(f"no OpenSearch cluster given ({OPENSEARCH_ENV} or --opensearch)")
        digest = hashlib.sha1(f"{Path(out).resolve()}:{os.getpid()}".encode()).hexdigest()[:10]
        found = {"url": url, "alias": f"bench-{digest}", "shards": 2, "replicas": 1}
        Path(out).mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps(found), "utf-8")
    return {"ENGINE": "opensearch", "INDEX": str(Path(out) / "index"),
            "OPENSEARCH_URL": found["url"], "OPENSEARCH_INDEX": found["alias"],
            "OPENSEARCH_SHARDS": found["shards"], "OPENSEARCH_REPLICAS": found["replicas"]}


def build_opensearch(out: Path, sources: list[Path]) -> int:
    from searchsvc.engines import open_engine
    from searchsvc.ingest.build import full_build

    settings = opensearch_settings(out)
    engine = open_engine(settings)
    try:
        return full_build(engine, settings["INDEX"], sources).documents
    finally:
        engine.close()


def drop_opensearch(out: Path) -> bool:
    """Delete the OpenSearch indices of the build in ``out`` (if it made any)."""
    if not (Path(out) / OPENSEARCH_META).exists():
        return False
    from searchsvc.engines import open_engine

    try:
        engine = open_engine(opensearch_settings(out))
        engine.drop_everything()  # type: ignore[attr-defined]
    except Exception:  # the cluster is gone: its indices went with it
        return False
    (Path(out) / OPENSEARCH_META).unlink(missing_ok=True)
    return True


def opensearch_store(out: Path) -> dict:
    """Store sizes of the served OpenSearch index: primaries and total (with replicas)."""
    from searchsvc.engines import open_engine

    engine = open_engine(opensearch_settings(out))
    snap = engine.snapshot()
    stats = engine.client.indices.stats(index=snap.index, metric="store,docs")  # type: ignore
    entry = stats["indices"][snap.index]
    return {"primaries_bytes": entry["primaries"]["store"]["size_in_bytes"],
            "total_bytes": entry["total"]["store"]["size_in_bytes"],
            "documents": entry["primaries"]["docs"]["count"], "index": snap.index,
            "shards": engine.shards, "replicas": engine.replicas}  # type: ignore[attr-defined]


# -- tantivy ---------------------------------------------------------------------------------


def _tantivy_schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=True, tokenizer_name="en_stem")
    sb.add_text_field("body", stored=True, tokenizer_name="en_stem")
    sb.add_date_field("date", stored=True, indexed=True, fast=True)
    sb.add_integer_field("month", indexed=True, fast=True)
    # Facets as raw-tokenized fast text fields: tantivy's terms aggregation counts fast
    # fields; its hierarchical facet field has no collector in the Python binding.
    for name in FACETS:
        sb.add_text_field(name, stored=False, fast=True, tokenizer_name="raw")
    return sb.build()


def build_tantivy(index_dir: Path, articles: list, threads: int = 2,
                  heap_bytes: int = 256_000_000) -> int:
    import tantivy

    index_dir.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_tantivy_schema(), path=str(index_dir))
    writer = index.writer(heap_size=heap_bytes, num_threads=threads)
    for a in articles:
        doc = tantivy.Document(id=a.id, title=a.title, body=a.body)
        if a.date:
            doc.add_date("date", dt.datetime.combine(a.date, dt.time()))
            doc.add_integer("month", _month(a.date))
        for name in FACETS:
            for value in facet_values(a, name):
                doc.add_text(name, value)
        writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()
    return len(articles)


class TantivyEngine:
    name = "tantivy"

    def __init__(self, index_dir: Path, title_weight: float = TITLE_BOOST):
        import tantivy

        self.title_weight = title_weight
        self.t = tantivy
        self.index = tantivy.Index.open(str(index_dir))
        self.index.reload()
        self.schema = self.index.schema
        self.searcher = self.index.searcher()
        # The en_stem tokenizer, for the terms of prefix and fuzzy queries.
        self.analyzer = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
                         .filter(tantivy.Filter.remove_long(40))
                         .filter(tantivy.Filter.lowercase())
                         .filter(tantivy.Filter.stemmer("english")).build())

    def _fields(self, make) -> object:
        t = self.t
        title = make("title")
        body = make("body")
        parts = [(t.Occur.Should, t.Query.boost_query(title, self.title_weight)),
                 (t.Occur.Should, body)]
        return t.Query.boolean_query(parts)

    def _clause(self, kind: str, value) -> object | None:
        t, s = self.t, self.schema
        if kind == "prefix":
            pattern = re.escape(value) + ".*"
            return self._fields(lambda f: t.Query.regex_query(s, f, pattern))
        words = value if kind == "phrase" else [value]
        tokens = [tok for w in words for tok in self.analyzer.analyze(w)]
        if not tokens:
            return None
        if kind == "fuzzy":
            return self._fields(lambda f: t.Query.fuzzy_term_query(s, f, tokens[0], 1, True, False))
        if len(tokens) == 1:
            return self._fields(lambda f: t.Query.term_query(s, f, tokens[0]))
        return self._fields(lambda f: t.Query.phrase_query(s, f, tokens))

    def _base(self, parsed: list[tuple[str, object]]) -> object | None:
        t = self.t
        subs = [q for q in (self._clause(k, v) for k, v in parsed) if q is not None]
        if not subs:
            return None
        if len(subs) == 1:
            return subs[0]
        return t.Query.boolean_query([(t.Occur.Should, q) for q in subs])

    def _filter_queries(self, filters: dict) -> dict[str, object]:
        t = self.t
        out = {}
        for name, value in filters.items():
            if name == "date":
                lo, hi = value
                out[name] = t.Query.range_query(
                    self.schema, "date", t.FieldType.Date,
                    dt.datetime.combine(lo, dt.time()) if lo else t.MIN_DATETIME,
                    dt.datetime.combine(hi, dt.time()) if hi else t.MAX_DATETIME)
            else:
                out[name] = t.Query.term_set_query(self.schema, name, value)
        return out

    def _combine(self, base, filters: dict, skip: str | None = None):
        t = self.t
        subs = [(t.Occur.Must, base if base is not None else t.Query.all_query())]
        subs += [(t.Occur.Must, q) for name, q in filters.items() if name != skip]
        return subs[0][1] if len(subs) == 1 else t.Query.boolean_query(subs)

    def search(self, params: dict) -> dict:
        t = self.t
        base = self._base(clauses(params.get("q", "")))
        fq = self._filter_queries(_filters(params))
        full = self._combine(base, fq)
        searcher = self.searcher
        if base is None:
            res = searcher.search(full, TOP, count=True, order_by_field="date")
        else:
            res = searcher.search(full, TOP, count=True)
        docs = [searcher.doc(addr) for _, addr in res.hits]
        ids = [d.get_first("id") for d in docs]
        if base is not None and docs:
            body = t.SnippetGenerator.create(searcher, base, self.schema, "body")
            title = t.SnippetGenerator.create(searcher, base, self.schema, "title")
            for d in docs:
                body.snippet_from_doc(d).to_html()
                title.snippet_from_doc(d).to_html()
        # Facets: one aggregation for every facet without a filter of its own (and the month
        # histogram if there is no date filter), one more per filtered facet without it.
        aggs = {n: {"terms": {"field": n, "size": FACET_SIZE}} for n in FACETS if n not in fq}
        if "date" not in fq:
            aggs["month"] = {"histogram": {"field": "month", "interval": 1}}
        searcher.aggregate(full, aggs)
        for name in fq:
            agg = ({"month": {"histogram": {"field": "month", "interval": 1}}} if name == "date"
                   else {name: {"terms": {"field": name, "size": FACET_SIZE}}})
            searcher.aggregate(self._combine(base, fq, skip=name), agg)
        return {"total": res.count, "ids": ids}

    def rank(self, text: str, k: int = 100) -> list[str]:
        base = self._base(plain_clauses(text))
        if base is None:
            return []
        res = self.searcher.search(base, k, count=False)
        return [self.searcher.doc(addr).get_first("id") for _, addr in res.hits]


# -- SQLite FTS5 -----------------------------------------------------------------------------

_FTS5_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize = 'porter unicode61');
CREATE TABLE meta (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, date INTEGER, month INTEGER);
CREATE TABLE facets (docid INTEGER NOT NULL, facet TEXT NOT NULL, value TEXT NOT NULL);
"""
_FTS5_INDEXES = """
CREATE UNIQUE INDEX meta_id ON meta (id);
CREATE INDEX meta_date ON meta (date);
CREATE INDEX facets_value ON facets (facet, value, docid);
CREATE INDEX facets_doc ON facets (docid, facet, value);
INSERT INTO docs (docs) VALUES ('optimize');
"""


def build_fts5(path: Path, articles: list, batch: int = 2000) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(_FTS5_SCHEMA)
    rows, metas, facets = [], [], []

    def flush() -> None:
        con.executemany("INSERT INTO docs (rowid, title, body) VALUES (?, ?, ?)", rows)
        con.executemany("INSERT INTO meta VALUES (?, ?, ?, ?)", metas)
        con.executemany("INSERT INTO facets VALUES (?, ?, ?)", facets)
        rows.clear()
        metas.clear()
        facets.clear()

    for rowid, a in enumerate(articles, start=1):
        rows.append((rowid, a.title, a.body))
        metas.append((rowid, a.id, a.date.toordinal() if a.date else None, _month(a.date)))
        for name in FACETS:
            facets.extend((rowid, name, v) for v in facet_values(a, name))
        if len(rows) >= batch:
            flush()
    flush()
    con.executescript(_FTS5_INDEXES)
    con.commit()
    con.close()
    return len(articles)


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class Fts5Engine:
    name = "fts5"

    def __init__(self, path: Path, title_weight: float = TITLE_BOOST):
        self.title_weight = title_weight
        self.con = sqlite3.connect(path, check_same_thread=False)
        self.con.execute("CREATE TEMP TABLE m (docid INTEGER PRIMARY KEY)")
        self.con.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, docs, 'row')")
        # The term list, for fuzzy expansion (FTS5 has no fuzzy matching of its own).
        self.vocab = {row[0] for row in self.con.execute("SELECT term FROM temp.vocab")}

    def _match(self, parsed: list[tuple[str, object]]) -> str | None:
        from searchsvc.analysis import stem

        parts = []
        for kind, value in parsed:
            if kind == "phrase":
                parts.append(_fts_string(" ".join(value)))
            elif kind == "prefix":
                parts.append(_fts_string(value) + " *")
            elif kind == "fuzzy":
                # Porter stems like the index's; then every indexed term one edit away.
                near = sorted(({value, stem(value)} | edits1(stem(value))) & self.vocab)
                if near:
                    parts.append("(" + " OR ".join(_fts_string(w) for w in near) + ")")
            else:
                parts.append(_fts_string(value))
        return " OR ".join(parts) if parts else None

    @staticmethod
    def _where(filters: dict, skip: str | None = None) -> tuple[str, list]:
        sql, args = [], []
        for name, value in filters.items():
            if name == skip:
                continue
            if name == "date":
                lo, hi = value
                sql.append("meta.date IS NOT NULL")
                if lo:
                    sql.append("meta.date >= ?")
                    args.append(lo.toordinal())
                if hi:
                    sql.append("meta.date <= ?")
                    args.append(hi.toordinal())
            else:
                marks = ", ".join("?" * len(value))
                sql.append(f"meta.rowid IN (SELECT docid FROM facets WHERE facet = ? "
                           f"AND value IN ({marks}))")
                args.extend([name, *value])
        return (" AND ".join(sql) or "1"), args

    def search(self, params: dict) -> dict:
        con = self.con
        match = self._match(clauses(params.get("q", "")))
        filters = _filters(params)
        con.execute("DELETE FROM temp.m")
        if match is not None:
            con.execute("INSERT INTO temp.m (docid) SELECT rowid FROM docs WHERE docs MATCH ?",
                        (match,))
            src = "temp.m JOIN meta ON meta.rowid = temp.m.docid"
        else:
            src = "meta"
        where, args = self._where(filters)
        total = con.execute(f"SELECT count(*) FROM {src} WHERE {where}", args).fetchone()[0]
        if match is not None:
            # CROSS JOIN keeps the MATCH scan outermost: a rowid IN (...) constraint would be
            # pushed into FTS5 and run the full-text query once per candidate row.
            top = con.execute(
                f"SELECT docs.rowid FROM docs CROSS JOIN meta ON meta.rowid = docs.rowid "
                f"WHERE docs MATCH ? AND {where} "
                f"ORDER BY bm25(docs, {self.title_weight}, 1.0) LIMIT {TOP}",
                [match, *args]).fetchall()
        else:
            top = con.execute(f"SELECT meta.rowid FROM meta WHERE {where} "
                              f"ORDER BY meta.date IS NULL, meta.date DESC LIMIT {TOP}",
                              args).fetchall()
        rowids = [r[0] for r in top]
        marks = ", ".join("?" * len(rowids))
        if rowids and match is not None:
            con.execute(
                f"SELECT rowid, highlight(docs, 0, '<mark>', '</mark>'), "
                f"snippet(docs, 1, '<mark>', '</mark>', '…', 32) FROM docs "
                f"WHERE docs MATCH ? AND rowid IN ({marks})", [match, *rowids]).fetchall()
        elif rowids:
            con.execute(f"SELECT rowid, title, substr(body, 1, 240) FROM docs "
                        f"WHERE rowid IN ({marks})", rowids).fetchall()
        ids = dict(con.execute(f"SELECT rowid, id FROM meta WHERE rowid IN ({marks})",
                               rowids).fetchall()) if rowids else {}
        for name in FACETS:
            w, a = self._where(filters, skip=name)
            con.execute(
                f"SELECT facets.value, count(*) AS c FROM {src} "
                f"JOIN facets ON facets.docid = meta.rowid "
                f"WHERE facets.facet = ? AND {w} GROUP BY facets.value "
                f"ORDER BY c DESC, facets.value LIMIT {FACET_SIZE}", [name, *a]).fetchall()
        w, a = self._where(filters, skip="date")
        con.execute(f"SELECT meta.month, count(*) FROM {src} WHERE meta.month IS NOT NULL "
                    f"AND {w} GROUP BY meta.month ORDER BY meta.month", a).fetchall()
        return {"total": total, "ids": [ids[r] for r in rowids]}

    def rank(self, text: str, k: int = 100) -> list[str]:
        match = self._match(plain_clauses(text))
        if match is None:
            return []
        rows = self.con.execute(
            f"SELECT meta.id FROM docs JOIN meta ON meta.rowid = docs.rowid "
            f"WHERE docs MATCH ? ORDER BY bm25(docs, {self.title_weight}, 1.0) LIMIT ?",
            (match, k)).fetchall()
        return [r[0] for r in rows]


# -- registry --------------------------------------------------------------------------------

ENGINES = ("searchsvc", "tantivy", "fts5")
ALL_ENGINES = ("searchsvc", "opensearch", "tantivy", "fts5")


def engines_available() -> tuple[str, ...]:
    """The engines of this run: with an OpenSearch cluster, searchsvc on it too."""
    return ALL_ENGINES if opensearch_url() else ENGINES


def index_path(root: Path, engine: str) -> Path:
    return root / ("index.sqlite" if engine == "fts5" else "index")


def build_engine(engine: str, out: Path, sources: list[Path]) -> int:
    """Build ``engine``'s index of ``sources`` under ``out`` (reading included)."""
    if engine == "searchsvc":
        return build_searchsvc(index_path(out, engine), sources)
    if engine == "opensearch":
        return build_opensearch(out, sources)
    if engine == "read":
        return len(read_articles(sources))
    articles = read_articles(sources)
    if engine == "tantivy":
        return build_tantivy(index_path(out, engine), articles)
    if engine == "fts5":
        return build_fts5(index_path(out, engine), articles)
    raise ValueError(f"unknown engine {engine}")


def open_engine(engine: str, out: Path, title_weight: float = TITLE_BOOST):
    if engine == "searchsvc":
        return SearchsvcEngine(index_path(out, engine))
    if engine == "opensearch":
        eng = SearchsvcEngine(index_path(out, engine), opensearch_settings(out))
        eng.name = "opensearch"
        return eng
    path = index_path(out, engine)
    return {"tantivy": TantivyEngine, "fts5": Fts5Engine}[engine](path, title_weight)


def index_size(engine: str, out: Path) -> int:
    """Bytes of the served index (searchsvc: the current generation only; OpenSearch: the
    primaries, one copy like the others)."""
    from bench.common import dir_size

    if engine == "opensearch":
        return opensearch_store(out)["primaries_bytes"]
    path = index_path(out, engine)
    if engine == "searchsvc":
        path = (path / "current").resolve()
    return dir_size(path)


def discard(out: Path) -> None:
    """Remove a build: its folder, and its OpenSearch indices if it has any."""
    import shutil

    drop_opensearch(out)
    shutil.rmtree(out, ignore_errors=True)
