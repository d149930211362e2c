"""Smoke test of the local OpenSearch cluster that `make opensearch` starts.

Reads the node URLs from .opensearch/url (or --url / $OPENSEARCH_URL), then checks what
searchsvc's OpenSearch engine relies on: cluster health and node count; an index with 2
shards and 1 replica and a custom analyzer (analysis-common); bulk indexing; match search,
also with search_type=dfs_query_then_fetch; a terms and a date_histogram aggregation;
collapse with inner_hits; a Painless script; _reindex into a second index and an atomic
alias swap. Every check prints one line; the exit status is 0 when all pass, 1 otherwise.

    .venv/bin/python tools/opensearch/smoke.py                 # cluster must be green, 3 nodes
    .venv/bin/python tools/opensearch/smoke.py --allow-yellow --nodes 2   # after a node died

Needs opensearch-py (`pip install opensearch-py`). It leaves no index behind unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "searchsvc-smoke"

DOCS = [
    # id, story, tag, published, views, title
    ("1", "s-flood", "weather", "2024-03-01T08:00:00Z", 120, "River flood warning for the valley"),
    (
        "2",
        "s-flood",
        "weather",
        "2024-03-01T17:30:00Z",
        340,
        "Flood waters rise; valley roads closed",
    ),
    ("3", "s-flood", "weather", "2024-03-02T06:15:00Z", 90, "Valley flood: clean-up begins"),
    ("4", "s-rates", "economy", "2024-03-01T09:00:00Z", 800, "Central bank holds interest rates"),
    (
        "5",
        "s-rates",
        "economy",
        "2024-03-03T12:00:00Z",
        150,
        "Markets expect rate cut after bank holds",
    ),
    ("6", "s-wifi", "tech", "2024-03-02T10:00:00Z", 60, "Wi-Fi 7 routers reach the shops"),
    ("7", "s-wifi", "tech", "2024-03-02T11:00:00Z", 75, "WiFi7 router review: fast, pricey"),
    ("8", "s-match", "sport", "2024-03-03T20:00:00Z", 500, "Late goal decides the valley derby"),
]

INDEX_BODY = {
    "settings": {
        "number_of_shards": 2,
        "number_of_replicas": 1,
        "analysis": {
            "filter": {
                "split_words": {
                    "type": "word_delimiter_graph",
                    "catenate_words": True,
                    "preserve_original": True,
                },
            },
            "analyzer": {
                # whitespace tokenizer + word_delimiter_graph come from the analysis-common module
                "title_text": {
                    "type": "custom",
                    "tokenizer": "whitespace",
                    "filter": ["split_words", "lowercase", "flatten_graph"],
                },
            },
        },
    },
    "mappings": {
        "properties": {
            "title": {"type": "text", "analyzer": "title_text"},
            "story": {"type": "keyword"},
            "tag": {"type": "keyword"},
            "published": {"type": "date"},
            "views": {"type": "integer"},
        },
    },
}

# opensearch-py takes a `timeout=` keyword as the CLIENT's socket timeout (a string such as
# "30s" then fails inside urllib3) unless request_timeout is also given: only then does
# `timeout` go to the server as the API's own wait limit.
SERVER_WAIT = {"timeout": "30s", "request_timeout": 40}


def read_urls(arg: str | None) -> list[str]:
    raw = arg or os.environ.get("OPENSEARCH_URL")
    if not raw:
        path = ROOT / ".opensearch" / "url"
        if not path.exists():
            sys.exit(f"smoke: {path} not found: start the cluster with `make opensearch`")
        raw = path.read_text()
    urls = [u.strip() for u in raw.split(",") if u.strip()]
    if not urls:
        sys.exit("smoke: no URL given")
    return urls


def make_client(urls: list[str]):
    """A client that keeps working while one node of the cluster is down.

    opensearch-py retries a request on the next node when the connection fails (refused,
    reset: ConnectionError, always retried) and, with the settings below, on a timeout and
    on 502/503/504. The failed node is parked in the connection pool for dead_timeout
    seconds (doubling on each new failure) so later requests skip it. max_retries=3 is four
    attempts, enough to walk past a dead node in a three-node list.
    """
    from opensearchpy import OpenSearch

    return OpenSearch(
        hosts=urls,
        timeout=10,
        max_retries=3,
        retry_on_timeout=True,  # a hung (not dead) node times out instead of refusing
        retry_on_status=(502, 503, 504),
        dead_timeout=30,
        http_compress=False,
    )


class Smoke:
    def __init__(self, client, args):
        self.os = client
        self.args = args
        self.failures = 0
        self.v1 = f"{PREFIX}-v1"
        self.v2 = f"{PREFIX}-v2"
        self.alias = PREFIX

    def check(self, name, fn):
        t0 = time.monotonic()
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001 - report any failure as a failed check
            self.failures += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            if self.args.verbose:
                traceback.print_exc()
            return
        ms = (time.monotonic() - t0) * 1000
        print(f"ok   {name} ({ms:.0f} ms){': ' + detail if detail else ''}")

    # --- checks ---------------------------------------------------------------------------
    def health(self):
        want = ("green", "yellow") if self.args.allow_yellow else ("green",)
        h = self.os.cluster.health(wait_for_status=want[-1], **SERVER_WAIT)
        assert h["status"] in want, f"status {h['status']}, want {'/'.join(want)}"
        assert h["number_of_nodes"] == self.args.nodes, (
            f"{h['number_of_nodes']} nodes, want {self.args.nodes}"
        )
        return f"{h['status']}, {h['number_of_nodes']} nodes"

    def cleanup(self):
        self.os.indices.delete(index=f"{PREFIX}-*", ignore_unavailable=True)
        return None

    def create(self):
        self.os.indices.create(index=self.v1, body=INDEX_BODY)
        # Green for this index = primaries AND replicas assigned on distinct nodes.
        want = "yellow" if self.args.allow_yellow else "green"
        h = self.os.cluster.health(index=self.v1, wait_for_status=want, **SERVER_WAIT)
        assert not h["timed_out"], f"index {self.v1} not {want}: {h['status']}"
        shards = self.os.cat.shards(index=self.v1, format="json")
        nodes = sorted({s["node"] for s in shards if s.get("node")})
        return f"{len(shards)} shard copies on {', '.join(nodes)}"

    def analyzer(self):
        r = self.os.indices.analyze(
            index=self.v1, body={"analyzer": "title_text", "text": "Wi-Fi routers"}
        )
        tokens = {t["token"] for t in r["tokens"]}
        assert {"wi", "fi", "wifi", "routers"} <= tokens, tokens
        return " ".join(sorted(tokens))

    def bulk(self):
        from opensearchpy import helpers

        actions = [
            {
                "_index": self.v1,
                "_id": i,
                "_source": {"story": s, "tag": t, "published": p, "views": v, "title": ti},
            }
            for i, s, t, p, v, ti in DOCS
        ]
        ok, errors = helpers.bulk(self.os, actions, refresh="wait_for", raise_on_error=False)
        assert not errors and ok == len(DOCS), errors
        n = self.os.count(index=self.v1)["count"]
        assert n == len(DOCS), f"count {n}"
        return f"{ok} docs"

    def _search(self, index, body, **kw):
        r = self.os.search(index=index, body=body, **kw)
        s = r["_shards"]
        assert s["failed"] == 0 and s["successful"] == s["total"], f"shard failures: {s}"
        return r

    def search(self):
        r = self._search(self.v1, {"query": {"match": {"title": "valley flood"}}})
        ids = [h["_id"] for h in r["hits"]["hits"]]
        assert r["hits"]["total"]["value"] == 4 and ids[0] in {"1", "2", "3"}, ids
        r = self._search(self.v1, {"query": {"match": {"title": "wifi"}}})
        ids = sorted(h["_id"] for h in r["hits"]["hits"])
        assert ids == ["6", "7"], f"word_delimiter should match Wi-Fi and WiFi7: {ids}"
        return "match + word_delimiter ok"

    def dfs(self):
        body = {"query": {"match": {"title": "valley"}}, "explain": False}
        qtf = self._search(self.v1, body)
        dfs = self._search(self.v1, body, search_type="dfs_query_then_fetch")
        assert dfs["hits"]["total"]["value"] == qtf["hits"]["total"]["value"] == 4
        # Scores differ: dfs scores with index-wide term statistics, the default per shard.
        return f"max_score qtf {qtf['hits']['max_score']:.3f}, dfs {dfs['hits']['max_score']:.3f}"

    def aggs(self):
        body = {
            "size": 0,
            "aggs": {
                "tags": {"terms": {"field": "tag", "size": 10}},
                "per_day": {
                    "date_histogram": {
                        "field": "published",
                        "calendar_interval": "day",
                        "min_doc_count": 0,
                    },
                    "aggs": {"views": {"sum": {"field": "views"}}},
                },
            },
        }
        r = self._search(self.v1, body)
        tags = {b["key"]: b["doc_count"] for b in r["aggregations"]["tags"]["buckets"]}
        assert tags == {"weather": 3, "economy": 2, "tech": 2, "sport": 1}, tags
        days = [
            (b["key_as_string"][:10], b["doc_count"])
            for b in r["aggregations"]["per_day"]["buckets"]
        ]
        assert days == [("2024-03-01", 3), ("2024-03-02", 3), ("2024-03-03", 2)], days
        return f"terms {tags}; per day {days}"

    def collapse(self):
        body = {
            "query": {"match_all": {}},
            "collapse": {
                "field": "story",
                "inner_hits": {"name": "latest", "size": 2, "sort": [{"published": "desc"}]},
            },
            "sort": [{"views": "desc"}],
            "size": 10,
        }
        r = self._search(self.v1, body)
        stories = [h["fields"]["story"][0] for h in r["hits"]["hits"]]
        assert sorted(stories) == ["s-flood", "s-match", "s-rates", "s-wifi"], stories
        flood = next(h for h in r["hits"]["hits"] if h["fields"]["story"][0] == "s-flood")
        inner = [h["_id"] for h in flood["inner_hits"]["latest"]["hits"]["hits"]]
        assert inner == ["3", "2"], inner
        return f"{len(stories)} stories, s-flood latest {inner}"

    def painless(self):
        body = {
            "query": {
                "script_score": {
                    "query": {"match_all": {}},
                    "script": {"source": "doc['views'].value * params.f", "params": {"f": 2}},
                }
            },
            "size": 1,
        }
        r = self._search(self.v1, body)
        top = r["hits"]["hits"][0]
        assert top["_id"] == "4" and top["_score"] == 1600, top
        return "script_score ok"

    def reindex_and_alias(self):
        o = self.os
        o.indices.put_alias(index=self.v1, name=self.alias)
        body = dict(INDEX_BODY, settings=dict(INDEX_BODY["settings"]))
        o.indices.create(index=self.v2, body=body)
        want = "yellow" if self.args.allow_yellow else "green"
        h = o.cluster.health(index=self.v2, wait_for_status=want, **SERVER_WAIT)
        assert not h["timed_out"], f"index {self.v2} not {want}: {h['status']}"
        r = o.reindex(
            body={"source": {"index": self.v1}, "dest": {"index": self.v2}},
            refresh=True,
            wait_for_completion=True,
        )
        assert r["created"] == len(DOCS) and not r["failures"], r
        o.index(
            index=self.v2,
            id="9",
            body={
                "story": "s-new",
                "tag": "tech",
                "published": "2024-03-04T08:00:00Z",
                "views": 1,
                "title": "Only in v2",
            },
            refresh="wait_for",
        )
        before = o.count(index=self.alias)["count"]
        o.indices.update_aliases(
            body={
                "actions": [
                    {"remove": {"index": self.v1, "alias": self.alias}},
                    {"add": {"index": self.v2, "alias": self.alias}},
                ]
            }
        )
        after = o.count(index=self.alias)["count"]
        owners = sorted(o.indices.get_alias(name=self.alias))
        assert (before, after, owners) == (len(DOCS), len(DOCS) + 1, [self.v2]), (
            before,
            after,
            owners,
        )
        hit = self._search(self.alias, {"query": {"match": {"title": "only"}}})["hits"]["hits"]
        assert [h["_id"] for h in hit] == ["9"], hit
        return f"alias {self.alias}: {self.v1} ({before} docs) -> {self.v2} ({after} docs)"

    def run(self):
        self.check("cluster health", self.health)
        self.check("remove leftovers", self.cleanup)
        self.check("create index (2 shards, 1 replica)", self.create)
        self.check("custom analyzer", self.analyzer)
        self.check("bulk index", self.bulk)
        self.check("search", self.search)
        self.check("search_type=dfs_query_then_fetch", self.dfs)
        self.check("terms + date_histogram aggs", self.aggs)
        self.check("collapse + inner_hits", self.collapse)
        self.check("painless script", self.painless)
        self.check("reindex + alias swap", self.reindex_and_alias)
        if not self.args.keep:
            self.check("delete test indices", self.cleanup)
        return self.failures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--url", help="comma-separated node URLs (default: $OPENSEARCH_URL or .opensearch/url)"
    )
    ap.add_argument("--nodes", type=int, default=3, help="expected number of nodes (default 3)")
    ap.add_argument(
        "--allow-yellow", action="store_true", help="accept a yellow cluster (a node is down)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the test indices")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    try:
        import opensearchpy  # noqa: F401
    except ImportError:
        sys.exit("smoke: opensearch-py is not installed: pip install opensearch-py")
    urls = read_urls(args.url)
    print(f"smoke: {', '.join(urls)}")
    failures = Smoke(make_client(urls), args).run()
    print(f"smoke: {'all checks passed' if not failures else f'{failures} check(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
