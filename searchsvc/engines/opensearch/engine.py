"""The OpenSearch engine: the port (``searchsvc.engine``) over an OpenSearch cluster.

A **generation** is one OpenSearch index (``<alias>-<stamp>``); the alias ``<alias>`` names the
served one, and a full build ends by moving the alias in one ``_aliases`` call, so searches see
the old index or the new one, never a mix. Rollback moves it back; the :data:`KEEP_OLD` most
recent other indices are kept for that. Updates and ingests change the served index in place
(bulk deletes and writes, then a refresh, before they return), so a new article is searchable
within a second; their record, manifest and vocabulary are versioned in ``<alias>-meta``.

A snapshot is pinned to the index the alias named when it was opened (re-checked at most once a
second), so one request runs on one index. The client is given every node's URL and retries a
refused connection on the next node, so losing one node of three fails no search; an
unreachable cluster is :class:`~searchsvc.errors.EngineUnavailable` (503, or a clear error
from the command line).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from searchsvc import analysis
from searchsvc.engine import (
    TITLE_WEIGHT,
    Bool,
    Collector,
    DateRange,
    EngineHit,
    EngineRequest,
    EngineResult,
    Fuzzy,
    GenerationInfo,
    IndexedArticle,
    Prefix,
    Query,
    SnapshotInfo,
    StoredArticle,
    StoryInfo,
    Value,
    Wildcard,
    rollback_target,
)
from searchsvc.engines.opensearch import mapping, translate
from searchsvc.errors import (
    BuildError,
    EngineUnavailable,
    IndexUnavailable,
    InvalidQuery,
    QueryTooExpensive,
    ServiceError,
    UsageError,
)
from searchsvc.vocabulary import MemoryVocabulary, add_counts, split_phrases

KEEP_OLD = 2
CHUNK_CHARS = 4_000_000   # JSON characters per meta chunk document
BULK_CHUNK = 500
ALIAS_TTL = 1.0           # seconds a thread trusts its resolved alias
EXACT_STORIES = 50_000    # up to this many matches, total_stories is counted exactly
DOC_FREQ_BATCH = 500      # terms per doc_freq request (one filters aggregation each)


def _client(settings: Mapping[str, Any]):
    from opensearchpy import OpenSearch

    urls = [u.strip() for u in str(settings.get("OPENSEARCH_URL") or "").split(",") if u.strip()]
    if not urls:
        raise UsageError("engine opensearch needs SEARCHSVC_OPENSEARCH_URL (comma-separated "
                         "node URLs, e.g. http://127.0.0.1:9200)")
    kwargs: dict[str, Any] = {
        # Every node is given: a refused connection is retried on the next one and the dead
        # node skipped for dead_timeout seconds (tools/opensearch/README.md measured it).
        "hosts": urls, "timeout": 30, "max_retries": 3, "retry_on_timeout": True,
        "retry_on_status": (502, 503, 504), "dead_timeout": 30,
    }
    if settings.get("OPENSEARCH_USER"):
        kwargs["http_auth"] = (settings["OPENSEARCH_USER"],
                               settings.get("OPENSEARCH_PASSWORD") or "")
    if settings.get("OPENSEARCH_CA"):
        kwargs["ca_certs"] = settings["OPENSEARCH_CA"]
        kwargs["verify_certs"] = True
    return OpenSearch(**kwargs)


def _unavailable(exc: Exception) -> ServiceError:
    text = str(exc)
    reason = ("connection refused" if "refused" in text.lower() else
              "timed out" if "timeout" in text.lower() or "timed out" in text.lower() else
              type(exc).__name__)
    return EngineUnavailable(f"the OpenSearch cluster cannot be reached ({reason}); searches, "
                             "builds and ingests fail until it is back")


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """A cluster call with its failures as the service's errors."""
    from opensearchpy import exceptions as ose

    try:
        return fn(*args, **kwargs)
    except (ose.ConnectionError, ose.ConnectionTimeout) as exc:
        raise _unavailable(exc) from None
    except ose.TransportError as exc:
        text = json.dumps(exc.info)[:2000] if exc.info else str(exc)
        if "too_many_clauses" in text or "maxClauseCount" in text or \
                "too_many_nested" in text or "TooComplexToDeterminize" in text:
            raise QueryTooExpensive("the query's wildcards or fuzzy terms expand to too many "
                                    "terms; make them more specific") from None
        if exc.status_code == 404 and "index_not_found" in text:
            raise IndexUnavailable("no index has been built on the OpenSearch cluster yet") \
                from None
        if exc.status_code == 400:
            raise InvalidQuery(f"OpenSearch could not run this query: {text[:300]}") from None
        if isinstance(exc.status_code, int) and exc.status_code >= 500 or \
                exc.status_code == "N/A":
            raise _unavailable(exc) from None
        raise


class _Meta:
    """Build records, manifests and vocabularies of the generations, in ``<alias>-meta``."""

    def __init__(self, client, alias: str):
        self.client = client
        self.index = f"{alias}-meta"

    def ensure(self) -> None:
        if not _call(self.client.indices.exists, index=self.index):
            try:
                _call(self.client.indices.create, index=self.index,
                      body={"settings": {"number_of_shards": 1, "number_of_replicas": 1},
                            "mappings": mapping.META_MAPPINGS})
            except Exception as exc:  # created meanwhile by another writer
                if "resource_already_exists" not in str(exc):
                    raise
            _call(self.client.cluster.health, index=self.index, wait_for_status="yellow",
                  params={"timeout": "30s"}, request_timeout=40)

    def head(self, generation: str) -> dict | None:
        from opensearchpy import exceptions as ose

        try:
            return _call(self.client.get, index=self.index, id=f"gen:{generation}")["_source"]
        except (ose.NotFoundError, IndexUnavailable):
            return None

    def read(self, generation: str, part: str) -> Any:
        head = self.head(generation)
        if head is None or part not in head.get("parts", {}):
            return {}
        chunks = head["parts"][part]
        version = head["version"]
        docs = _call(self.client.mget, index=self.index, body={"ids": [
            f"gen:{generation}:v{version}:{part}:{i}" for i in range(chunks)]})["docs"]
        text = "".join(d["_source"]["data"] for d in docs if d.get("found"))
        return json.loads(text) if text else {}

    def write(self, generation: str, parts: dict[str, Any], record: dict | None = None) -> None:
        """Write the named parts as a new version (readers keep the old one until the head
        moves), then drop the old version's chunks."""
        self.ensure()
        head = self.head(generation) or {"kind": "generation", "index": generation,
                                         "version": 0, "parts": {}, "record": {}}
        old_version, old_parts = head["version"], dict(head["parts"])
        version = old_version + 1
        actions = []
        for part, data in parts.items():
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            chunks = [text[i: i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
            head["parts"][part] = len(chunks)
            for i, chunk in enumerate(chunks):
                actions.append({"_index": self.index, "_id":
                                f"gen:{generation}:v{version}:{part}:{i}",
                                "_source": {"kind": "chunk", "index": generation, "data": chunk}})
        # Parts not rewritten are carried into the new version.
        for part, chunks in old_parts.items():
            if part not in parts:
                for i in range(chunks):
                    found = _call(self.client.get, index=self.index,
                                  id=f"gen:{generation}:v{old_version}:{part}:{i}")
                    actions.append({"_index": self.index, "_id":
                                    f"gen:{generation}:v{version}:{part}:{i}",
                                    "_source": found["_source"]})
        _bulk(self.client, actions)
        head["version"] = version
        if record is not None:
            head["record"] = record
        head["updated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        _call(self.client.index, index=self.index, id=f"gen:{generation}", body=head,
              refresh=True)
        stale = [{"_op_type": "delete", "_index": self.index,
                  "_id": f"gen:{generation}:v{old_version}:{part}:{i}"}
                 for part, chunks in old_parts.items() for i in range(chunks)]
        if stale:
            _bulk(self.client, stale, ignore_missing=True)

    def drop(self, generation: str) -> None:
        _call(self.client.delete_by_query, index=self.index,
              body={"query": {"term": {"index": generation}}}, params={"conflicts": "proceed"})


def _bulk(client, actions: Iterable[dict], ignore_missing: bool = False) -> list[dict]:
    """Bulk actions; returns the failed items (a missing document is not a failure for a
    delete when ``ignore_missing``)."""
    from opensearchpy import helpers

    failed = []
    try:
        for ok, item in helpers.streaming_bulk(client, actions, chunk_size=BULK_CHUNK,
                                               max_chunk_bytes=20 * 1024 * 1024,
                                               raise_on_error=False, raise_on_exception=False,
                                               max_retries=3, initial_backoff=1):
            if not ok:
                info = next(iter(item.values()))
                if ignore_missing and info.get("status") == 404:
                    continue
                failed.append(info)
    except Exception as exc:
        from opensearchpy import exceptions as ose

        if isinstance(exc, (ose.ConnectionError, ose.ConnectionTimeout)):
            raise _unavailable(exc) from None
        raise
    return failed


# -- reading ---------------------------------------------------------------------------------


class OpenSearchSnapshot:
    engine_name = "opensearch"

    def __init__(self, engine: OpenSearchEngine, index: str, head: dict | None):
        self.engine = engine
        self.client = engine.client
        self.index = index
        self.generation = index
        self.head = head or {}
        self.version = self.head.get("version", 0)
        self._vocabulary: MemoryVocabulary | None = None
        self._bounds: tuple[int, dt.date | None, dt.date | None] | None = None
        self._info: SnapshotInfo | None = None
        self._expansions: dict[tuple, list[str]] = {}
        self.opened = time.monotonic()

    def close(self) -> None:
        pass

    def _expand(self, q: Prefix | Wildcard | Fuzzy, field: str) -> list[str]:
        """The index terms ``q`` stands for on ``field`` (at most ``max_terms`` + 1), from the
        rewrite of the clause on every shard: what the embedded engine reads from its term
        dictionaries. Kept for the snapshot's life (one version of one index)."""
        key = (type(q).__name__, field, getattr(q, "text", None), getattr(q, "pattern", None),
               getattr(q, "distance", 0), getattr(q, "prefix", 0))
        found = self._expansions.get(key)
        if found is not None:
            return found
        limit = self.engine.max_terms
        r = _call(self.client.indices.validate_query, index=self.index,
                  body={"query": translate.expansion(q, field, limit)},
                  params={"rewrite": "true", "all_shards": "true"})
        explanations = r.get("explanations") or []
        if not r.get("valid", False):
            errors = " ".join(str(e.get("error", "")) for e in explanations)
            if any(sign in errors for sign in ("too_many_clauses", "maxClauseCount",
                                               "TooManyClauses", "TooComplexToDeterminize")):
                # Too many terms, or a pattern too intricate to match against them at all.
                raise QueryTooExpensive(
                    f"the query's wildcards or fuzzy terms expand to more than {limit} "
                    "terms; make them more specific")
            raise InvalidQuery(f"OpenSearch could not run this query: {errors[:300]}")
        found = sorted(translate.expanded_terms(
            [str(e.get("explanation", "")) for e in explanations], field))[: limit + 1]
        if len(self._expansions) > 4096:
            self._expansions.clear()
        self._expansions[key] = found
        return found

    def _stats(self) -> tuple[int, dt.date | None, dt.date | None]:
        if self._bounds is None:
            r = _call(self.client.search, index=self.index, body={
                "size": 0, "track_total_hits": True,
                "aggs": {"newest": {"max": {"field": "date"}},
                         "oldest": {"min": {"field": "date"}}}})
            aggs = r["aggregations"]

            def day(agg: dict) -> dt.date | None:
                text = agg.get("value_as_string")
                return dt.date.fromisoformat(text[:10]) if text else None

            self._bounds = (int(r["hits"]["total"]["value"]), day(aggs["newest"]),
                            day(aggs["oldest"]))
        return self._bounds

    def search(self, request: EngineRequest) -> EngineResult:
        documents, newest, oldest = self._stats() if (
            request.first is not None or request.recency_days) else (0, None, None)
        body, bonus = translate.body(request, documents=max(documents, 1), newest=newest,
                                     oldest=oldest, max_terms=self.engine.max_terms,
                                     expand=self._expand)
        response = _call(self.client.search, index=self.index, body=body,
                         params={"search_type": "dfs_query_then_fetch"})
        stories: dict[str, StoryInfo] = {}
        if not request.collapse and response["hits"]["hits"] and request.limit > 0:
            stories = self._stories(request, response["hits"]["hits"])
        result = translate.result(response, request, bonus, stories)
        if result.hits:
            totals = self._story_totals({h.story.id for h in result.hits})
            for h in result.hits:
                h.story.total = totals.get(h.story.id, h.story.size)
        if "total_stories" in result.approximate or result.total_stories > 1000:
            if result.total <= EXACT_STORIES:
                result.total_stories = self._count_stories(body)
                result.approximate = tuple(a for a in result.approximate
                                           if a != "total_stories")
            elif "total_stories" not in result.approximate:
                result.approximate += ("total_stories",)
        return result

    def _count_stories(self, body: dict) -> int:
        """Distinct stories among the matches, exactly: a ``composite`` aggregation paged
        through (the cardinality aggregation is a HyperLogLog estimate)."""
        query = body["query"]
        if "post_filter" in body:
            query = {"bool": {"must": [query], "filter": [body["post_filter"]]}}
        after = None
        count = 0
        while True:
            composite: dict = {"size": 10_000, "sources": [{"s": {"terms": {"field": "story"}}}]}
            if after:
                composite["after"] = after
            r = _call(self.client.search, index=self.index, body={
                "size": 0, "query": query, "aggs": {"c": {"composite": composite}}})
            agg = r["aggregations"]["c"]
            count += len(agg["buckets"])
            after = agg.get("after_key")
            if not after or len(agg["buckets"]) < 10_000:
                return count

    def _story_totals(self, stories: set[str]) -> dict[str, int]:
        """How many articles each story has in all (one terms aggregation)."""
        r = _call(self.client.search, index=self.index, body={
            "size": 0, "query": {"terms": {"story": sorted(stories)}},
            "aggs": {"s": {"terms": {"field": "story", "include": sorted(stories),
                                     "size": len(stories)}}}})
        return {b["key"]: int(b["doc_count"]) for b in r["aggregations"]["s"]["buckets"]}

    def _stories(self, request: EngineRequest, hits: list[dict]) -> dict[str, StoryInfo]:
        """Each hit's story within this search (its size and other members), in one
        multi-search: the query and the filters, and the story's id."""
        searches: list[dict] = []
        ids = []
        for h in hits:
            story = (h.get("_source") or {}).get("story") or h["_id"]
            filters = dict(request.filters)
            filters["__story"] = Value("story", story)
            sub = EngineRequest(query=request.query, filters=filters, sort="newest",
                                limit=request.story_others + 1, collapse=False, fields=False)
            body, _ = translate.body(sub, documents=1, newest=None, oldest=None,
                                     max_terms=self.engine.max_terms,
                                     expand=self._expand)
            body.pop("aggs", None)
            body["_source"] = False
            searches += [{"index": self.index}, body]
            ids.append((h["_id"], story))
        found = _call(self.client.msearch, body=searches)["responses"]
        out = {}
        for (hit_id, story), r in zip(ids, found, strict=True):
            members = [m["_id"] for m in r.get("hits", {}).get("hits", [])]
            out[hit_id] = StoryInfo(id=story, size=int(r["hits"]["total"]["value"]),
                                    others=[m for m in members if m != hit_id]
                                    [: request.story_others])
        return out

    def scan(self, request: EngineRequest, batch: int = 500) -> Iterator[EngineHit]:
        """Every match in order, beyond the result window: ``search_after`` on the request's
        sort (ids break ties, so the order is total) within a point in time, so a scan sees
        one state of the index whatever is written meanwhile."""
        whole = EngineRequest(query=request.query, first=request.first,
                              filters=request.filters, sort=request.sort,
                              recency_days=request.recency_days, offset=0, limit=batch,
                              collapse=False, rescore=request.rescore)
        documents, newest, oldest = self._stats()
        body, bonus = translate.body(whole, documents=max(documents, 1), newest=newest,
                                     oldest=oldest, max_terms=self.engine.max_terms,
                                     expand=self._expand)
        body.pop("aggs", None)
        body.pop("from", None)
        pit = _call(self.client.create_pit, index=self.index, params={"keep_alive": "2m"})
        pit_id = pit["pit_id"]
        body["pit"] = {"id": pit_id, "keep_alive": "2m"}
        try:
            after = None
            while True:
                if after is not None:
                    body["search_after"] = after
                page = _call(self.client.search, body=body)
                hits = page["hits"]["hits"]
                if not hits:
                    return
                result = translate.result(page, whole, bonus, {
                    h["_id"]: StoryInfo((h.get("_source") or {}).get("story") or h["_id"], 1, [])
                    for h in hits})
                yield from result.hits
                after = hits[-1]["sort"]
                if len(hits) < batch:
                    return
        finally:
            try:
                self.client.delete_pit(body={"pit_id": [pit_id]})
            except Exception:  # it expires on its own
                pass

    def documents(self, ids: Sequence[str]) -> list[StoredArticle | None]:
        if not ids:
            return []
        docs = _call(self.client.mget, index=self.index, body={"ids": list(ids)},
                     params={"_source_includes": ",".join(translate.SOURCE_FIELDS)})["docs"]
        return [translate.article(d["_source"]) if d.get("found") else None for d in docs]

    def vocabulary(self) -> MemoryVocabulary:
        if self._vocabulary is None:
            cached = self.engine._vocabularies.get((self.index, self.version))
            if cached is None:
                meta = self.engine.meta
                cached = MemoryVocabulary(meta.read(self.index, "vocabulary") or {},
                                          meta.read(self.index, "phrases") or {})
                self.engine._vocabularies = {(self.index, self.version): cached}
            self._vocabulary = cached
        return self._vocabulary

    def doc_freq(self, terms: Sequence[str], within: Query | None = None) -> dict[str, int]:
        """Articles whose text has each term (with ``within``: among those matching it), from
        one ``filters`` aggregation per batch of terms: exact over every shard (a term
        vector's statistics would be one shard's)."""
        terms = list(dict.fromkeys(terms))
        out: dict[str, int] = {}
        scope = translate.filter_(within) if within is not None else {"match_all": {}}
        for start in range(0, len(terms), DOC_FREQ_BATCH):
            batch = terms[start: start + DOC_FREQ_BATCH]
            r = _call(self.client.search, index=self.index, body={
                "size": 0, "query": scope,
                "aggs": {"t": {"filters": {"filters": {
                    str(i): {"term": {mapping.TEXT_FIELD: t}} for i, t in enumerate(batch)}}}}})
            buckets = r["aggregations"]["t"]["buckets"]
            out.update((t, int(buckets[str(i)]["doc_count"])) for i, t in enumerate(batch))
        return out

    def info(self) -> SnapshotInfo:
        # One snapshot is one version of one index: its description does not change.
        if self._info is None:
            self._info = self._describe()
        return self._info

    def _describe(self) -> SnapshotInfo:
        documents, newest, oldest = self._stats()
        undated = _call(self.client.count, index=self.index, body={
            "query": {"bool": {"must_not": {"exists": {"field": "date"}}}}})["count"]
        stats = _call(self.client.indices.stats, index=self.index, metric="store,segments")
        total = stats["indices"][self.index]["total"]
        return SnapshotInfo(
            engine="opensearch", generation=self.generation, documents=documents,
            date_min=oldest, date_max=newest, undated=int(undated),
            size_bytes=int(total["store"]["size_in_bytes"]),
            segments=int(total["segments"]["count"]), record=self.head.get("record", {}))


# -- writing ---------------------------------------------------------------------------------


class OpenSearchWriter:
    """A full build (a new index, made current by moving the alias) or an update (the served
    index, changed in place when it is published).

    A full build spools its prepared documents to a temporary file and sends them when it is
    published, once the stories are known, so every document is written once and whole (a
    partial update would re-index a document from its ``_source``, which does not keep the term
    fields). An update sends its changes at publish; an existing article whose story changes
    is re-written from its stored text."""

    def __init__(self, engine: OpenSearchEngine, index: str, fresh: bool):
        self.engine = engine
        self.client = engine.client
        self.index = index
        self.generation = index  # an update writes into the served index: its name stays
        self.fresh = fresh
        self.spool = tempfile.TemporaryFile() if fresh else None
        self.lines = 0
        self.deleted: dict[str, int] = {}  # id → spool lines written when it was deleted
        self.pending: list[dict] = []      # an update's writes
        self.stories: dict[str, str] = {}
        self.parts: dict[str, Any] = {}

    def add_all(self, work: Sequence[object],
                prepare: Callable[[object], Iterable[IndexedArticle | object]],
                collector: Collector, procs: int = 1,
                progress: Callable[[str, int, int], None] | None = None,
                ready: Callable[[Collector], None] | None = None,
                total: int | None = None) -> Collector:
        articles = total if total is not None else len(work)
        written = shown = 0  # articles, not work items: a JSONL item holds many
        for item in work:
            for got in prepare(item):
                if not isinstance(got, IndexedArticle):
                    collector.problem(got)
                    continue
                collector.add(got)
                written += 1
                if progress and written - shown >= 200:
                    shown = written
                    progress("index", min(written, articles), articles)
                doc = mapping.document(got)
                if self.spool is not None:
                    self.spool.write(json.dumps(doc, ensure_ascii=False).encode("utf-8") + b"\n")
                    self.lines += 1
                else:
                    self.pending.append({"_op_type": "index", "_index": self.index,
                                         "_id": got.id, "_source": doc})
        if ready:
            ready(collector)
        return collector

    def delete(self, ids: Sequence[str]) -> None:
        if self.spool is not None:
            self.deleted.update((i, self.lines) for i in ids)
        else:
            self.pending.extend({"_op_type": "delete", "_index": self.index, "_id": i}
                                for i in ids)
            for i in ids:
                self.stories.pop(i, None)

    def set_stories(self, stories: dict[str, str]) -> None:
        self.stories.update(stories)

    def set_vocabulary(self, words: dict[str, int], phrases: dict[str, int]) -> None:
        frequent, once = split_phrases(phrases)
        self.parts["vocabulary"] = {w: n for w, n in words.items() if n > 0}
        self.parts["phrases"] = frequent
        self.parts["phrases_once"] = once

    def change_vocabulary(self, words: Mapping[str, int], phrases: Mapping[str, int]) -> None:
        # The parts are whole documents of the meta index: read, changed, written back.
        meta = self.engine.meta
        found = meta.read(self.index, "phrases_once")
        counts = dict.fromkeys(found if isinstance(found, list) else [], 1)
        counts.update(meta.read(self.index, "phrases") or {})
        self.set_vocabulary(add_counts(meta.read(self.index, "vocabulary") or {}, words),
                            add_counts(counts, phrases))

    def _spooled(self) -> Iterable[dict]:
        """The spool's documents: the last version of each id, unless deleted after it."""
        assert self.spool is not None
        last: dict[str, int] = {}
        self.spool.seek(0)
        for n, line in enumerate(self.spool):
            last[json.loads(line)["id"]] = n
        self.spool.seek(0)
        for n, line in enumerate(self.spool):
            doc = json.loads(line)
            i = doc["id"]
            if last[i] != n or self.deleted.get(i, -1) > n:
                continue
            doc["story"] = self.stories.get(i, doc["story"])
            yield {"_op_type": "index", "_index": self.index, "_id": i, "_source": doc}

    def _restoried(self) -> list[dict]:
        """Existing articles whose story changed (an update), written again whole."""
        written = {op["_id"] for op in self.pending}
        ids = [i for i in self.stories if i not in written]
        out = []
        for start in range(0, len(ids), 500):
            docs = _call(self.client.mget, index=self.index, body={"ids": ids[start:start + 500]})
            for d in docs["docs"]:
                if not d.get("found"):
                    continue
                doc = dict(d["_source"])
                title = mapping.term_text(analysis.terms(doc.get("title", "")))
                body = mapping.term_text(analysis.terms(doc.get("body", "")))
                doc.update(title_terms=title, body_terms=body, story=self.stories[d["_id"]])
                doc[mapping.TEXT_FIELD] = [title] * TITLE_WEIGHT + [body]
                out.append({"_op_type": "index", "_index": self.index, "_id": d["_id"],
                            "_source": doc})
        for op in self.pending:
            if op["_op_type"] == "index" and op["_id"] in self.stories:
                op["_source"]["story"] = self.stories[op["_id"]]
        return out

    def publish(self, record: dict, manifest: dict) -> str:
        if self.spool is not None:
            failed = _bulk(self.client, self._spooled())
            self.spool.close()
        else:
            failed = _bulk(self.client, self.pending + self._restoried(), ignore_missing=True)
        if failed:
            raise BuildError(f"OpenSearch refused {len(failed)} change(s), e.g. "
                             f"{json.dumps(failed[0])[:300]}; run the build again")
        if self.fresh:
            _call(self.client.indices.put_settings, index=self.index, body={"index": {
                "refresh_interval": "1s",
                "number_of_replicas": self.engine.replicas}})
        _call(self.client.indices.refresh, index=self.index)
        if self.fresh:
            _call(self.client.cluster.health, index=self.index, wait_for_status="green",
                  params={"timeout": "120s"}, request_timeout=130)
        self.parts["manifest"] = manifest
        self.engine.meta.write(self.index, self.parts, record)
        if self.fresh:
            self.engine._point_alias(self.index)
            self.engine._drop_old()
        self.engine._forget()
        return self.index

    def abort(self) -> None:
        if self.spool is not None:
            self.spool.close()
        if self.fresh:
            try:
                self.client.indices.delete(index=self.index, ignore_unavailable=True)
                self.engine.meta.drop(self.index)
            except Exception:  # the cluster is gone: the index is removed with it anyway
                pass
        self.pending.clear()


# -- the engine ------------------------------------------------------------------------------


class OpenSearchEngine:
    name = "opensearch"

    def __init__(self, client, alias: str = "searchsvc", shards: int = 2, replicas: int = 1,
                 max_terms: int = 1024):
        self.client = client
        self.alias = alias
        self.shards = shards
        self.replicas = replicas
        self.max_terms = max_terms
        self.meta = _Meta(client, alias)
        self._local = threading.local()
        self._vocabularies: dict = {}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> OpenSearchEngine:
        def number(name: str, default: int) -> int:
            value = settings.get(name)
            # 0 is a value (no replica: a one-node cluster), not "unset".
            return default if value is None or value == "" else int(value)

        return cls(_client(settings), alias=str(settings.get("OPENSEARCH_INDEX") or "searchsvc"),
                   shards=number("OPENSEARCH_SHARDS", 2),
                   replicas=number("OPENSEARCH_REPLICAS", 1),
                   max_terms=number("MAX_TERMS", 1024))

    # -- the served index --------------------------------------------------------------------

    def _current(self) -> str | None:
        from opensearchpy import exceptions as ose

        try:
            found = _call(self.client.indices.get_alias, name=self.alias)
        except ose.NotFoundError:
            return None
        except EngineUnavailable:
            raise
        except IndexUnavailable:  # the alias does not exist yet
            return None
        names = sorted(found)
        return names[-1] if names else None

    def has_index(self) -> bool:
        return self._current() is not None

    def snapshot(self) -> OpenSearchSnapshot:
        snap: OpenSearchSnapshot | None = getattr(self._local, "snapshot", None)
        now = time.monotonic()
        if snap is not None and now - snap.opened < ALIAS_TTL:
            return snap
        current = self._current()
        if current is None:
            raise IndexUnavailable(f"no index has been built for {self.alias!r} on the "
                                   "OpenSearch cluster")
        head = self.meta.head(current)
        if snap is not None and snap.index == current and snap.version == (head or {}).get(
                "version", 0):
            snap.opened = now
            return snap
        fresh = OpenSearchSnapshot(self, current, head)
        self._local.snapshot = fresh
        return fresh

    def _forget(self) -> None:
        self._local.snapshot = None

    def _point_alias(self, index: str) -> None:
        current = self._current()
        actions: list[dict] = [{"add": {"index": index, "alias": self.alias}}]
        if current and current != index:
            actions.insert(0, {"remove": {"index": current, "alias": self.alias}})
        _call(self.client.indices.update_aliases, body={"actions": actions})

    def _indices(self) -> list[str]:
        """This alias's generations, oldest first. Only names the writer makes count: the
        wildcard ``<alias>-g*`` also matches the indices of an alias such as ``<alias>-gold``,
        which are not this one's to list, prune or drop."""
        from opensearchpy import exceptions as ose

        try:
            found = _call(self.client.indices.get, index=f"{self.alias}-g*",
                          params={"expand_wildcards": "open"})
        except ose.NotFoundError:
            return []
        own = re.compile(re.escape(self.alias) + r"-g\d{8}t\d{12}")
        return sorted(name for name in found if own.fullmatch(name))

    def _drop_old(self) -> None:
        current = self._current()
        others = [i for i in self._indices() if i != current]
        for old in others[:-KEEP_OLD]:
            _call(self.client.indices.delete, index=old, ignore_unavailable=True)
            self.meta.drop(old)

    # -- writers -----------------------------------------------------------------------------

    def full_writer(self) -> OpenSearchWriter:
        self.meta.ensure()
        index = f"{self.alias}-g{dt.datetime.now(dt.UTC):%Y%m%dt%H%M%S%f}"
        settings = mapping.settings(self.shards, 0)
        settings["index"]["refresh_interval"] = "-1"  # faster bulk; set back at publish
        _call(self.client.indices.create, index=index,
              body={"settings": settings, "mappings": mapping.mappings()})
        return OpenSearchWriter(self, index, fresh=True)

    def update_writer(self) -> OpenSearchWriter:
        current = self._current()
        if current is None:
            raise BuildError("there is no index to update")
        return OpenSearchWriter(self, current, fresh=False)

    # -- generations -------------------------------------------------------------------------

    def generations(self) -> list[GenerationInfo]:
        current = self._current()
        out = []
        for index in self._indices():
            record = (self.meta.head(index) or {}).get("record", {})
            out.append(GenerationInfo.from_record(index, record, index == current))
        return out

    def rollback(self, generation: str | None = None) -> GenerationInfo:
        target = rollback_target(self.generations(), generation, f"for {self.alias!r}")
        self._point_alias(target.id)
        self._forget()
        target.current = True
        return target

    def manifest(self) -> dict:
        current = self._current()
        found = self.meta.read(current, "manifest") if current else {}
        return found if isinstance(found, dict) else {}

    def close(self) -> None:
        self._forget()

    def drop_everything(self) -> None:
        """Delete every index of this alias (tests)."""
        for index in self._indices():
            _call(self.client.indices.delete, index=index, ignore_unavailable=True)
        _call(self.client.indices.delete, index=self.meta.index, ignore_unavailable=True)


__all__ = ["Bool", "DateRange", "OpenSearchEngine"]
