"""The HTTP API (contract §3) through Flask's test client: every endpoint and response field, the
acceptance checks from the issue, and the error contract (problem+json, stable codes, never a
traceback).

Most tests run on the two bundled seed articles (``client``); a few build a tiny JSONL corpus
with ``make_index`` and serve it with ``app_for``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from urllib.parse import quote

import pytest
from support.index import build_sources
from support.paths import SADR_1, SADR_2, SEED_IDS, SEEDS
from support.web import close_client, make_client

import searchsvc.core.search
import searchsvc.web.api
from searchsvc.ingest import ingested

PROBLEM_KEYS = {"type", "title", "status", "code", "detail"}
ENDPOINTS = ["/api/search", "/api/articles/{id}", "/api/articles/{id}/related", "/api/suggest",
             "/api/stats", "/api/health", "/api/reindex", "/api/openapi.json"]


def ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """An RFC 9457 problem document with the contract's keys and no traceback."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    text = response.get_data(as_text=True)
    body = json.loads(text)
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)
    if code is not None:
        assert body["code"] == code
    assert "Traceback" not in text and 'File "' not in text
    return body


def hit_ids(body: dict) -> set[str]:
    """Ids of the hits, including the other articles of collapsed stories."""
    found = set()
    for hit in body["hits"]:
        found.add(hit["id"])
        found.update((hit.get("story") or {}).get("others", []))
    return found


def seed_words() -> set[str]:
    words = set()
    for path in SEEDS.glob("*.txt"):
        words |= set(re.findall(r"[a-z]+", path.read_text(encoding="utf-8").lower()))
    return words


@pytest.fixture
def serve(make_index, app_for):
    """A client over a fresh index of the given records."""

    def _serve(records: list[dict], **config):
        return app_for(make_index(records), **config)

    return _serve


# -- acceptance -------------------------------------------------------------------------------


def test_sadr_finds_both_seed_articles_with_marked_snippets_and_one_day_bucket(client):
    body = ok(client.get("/api/search?q=Sadr"))
    assert body["total"] == 2
    assert hit_ids(body) == SEED_IDS
    for hit in body["hits"]:
        assert any("<mark>Sadr</mark>" in s for s in hit["snippets"]), hit["snippets"]
    histogram = body["facets"]["date"]
    assert histogram["interval"] == "day"
    assert [(b["value"], b["count"]) for b in histogram["buckets"]] == [("2020-01-24", 2)]


def test_sadr_without_collapsing_shows_both_articles_each_with_a_marked_snippet(client):
    body = ok(client.get("/api/search?q=Sadr&collapse=false"))
    assert body["total"] == 2
    assert {h["id"] for h in body["hits"]} == SEED_IDS
    for hit in body["hits"]:
        assert any("<mark>Sadr</mark>" in s for s in hit["snippets"]), hit["snippets"]


def test_the_two_seed_reports_collapse_into_one_story_by_default(client):
    body = ok(client.get("/api/search?q=Sadr"))
    assert body["query"]["collapse"] is True
    assert body["total"] == 2  # articles, while the hits list stories
    [hit] = body["hits"]
    story = hit["story"]
    assert {"id", "size", "others"} <= set(story)
    assert story["size"] == 2
    assert story["others"] == list(SEED_IDS - {hit["id"]})
    assert story["id"] in SEED_IDS


def test_protester_matches_protesters(client):
    body = ok(client.get("/api/search?q=protester"))
    assert body["total"] == 2
    html = " ".join(s for h in body["hits"] for s in [h["title_html"], *h["snippets"]])
    assert "<mark>protesters</mark>" in html


@pytest.fixture
def xss(serve):
    return serve([{"id": "x", "date": "2020-01-24",
                   "title": "Attack <script>alert(1)</script> feared",
                   "body": "Researchers found <script>alert(1)</script> in a page & said the "
                           "attack <b>spread</b> quickly."}])


@pytest.mark.parametrize("q", ["attack", "alert", "script", "", "feared"])
def test_markup_in_articles_comes_back_escaped_never_raw(xss, q):
    body = ok(xss.get("/api/search", query_string={"q": q}))
    [hit] = body["hits"]
    for html in (hit["title_html"], *hit["snippets"]):
        assert "<script" not in html and "</script>" not in html and "<b>" not in html
        assert re.sub(r"</?mark>", "", html).count("<") == 0
    assert "&lt;" in hit["title_html"] and any("&lt;" in s for s in hit["snippets"])
    assert hit["title"] == "Attack <script>alert(1)</script> feared"  # plain text


def test_article_endpoint_returns_markup_as_plain_text(xss):
    article = ok(xss.get("/api/articles/x"))
    assert article["body"].startswith("Researchers found <script>alert(1)</script>")


@pytest.mark.parametrize("query, code", [
    ("per_page=0", "invalid_parameter"),
    ("per_page=101", "invalid_parameter"),
    ("per_page=abc", "invalid_parameter"),
    ("page=-1", "invalid_parameter"),
    ("page=0", "invalid_parameter"),
    ("from=notadate", "invalid_parameter"),
    ("to=2020-02-30", "invalid_parameter"),
    ("from=2020-02-01&to=2020-01-01", "invalid_parameter"),
    ("sort=bogus", "invalid_parameter"),
    ("interval=bogus", "invalid_parameter"),
    ("collapse=maybe", "invalid_parameter"),
    ("recency=abc", "invalid_parameter"),
    ("q=Sadr&recency=7", "invalid_parameter"),
    ("page=101&per_page=100", "result_window_too_large"),
    ("page=1001", "result_window_too_large"),
    ("facet_size=0", "invalid_parameter"),
    ("facet_size=1001", "invalid_parameter"),
])
def test_bad_parameter_values_are_400_problems(client, query, code):
    body = assert_problem(client.get(f"/api/search?{query}"), 400, code)
    assert body["title"] == "Bad Request"
    assert body["detail"]


def test_largest_result_window_is_allowed(client):
    body = ok(client.get("/api/search?page=100&per_page=100"))
    assert body["hits"] == [] and body["total"] == 2


def test_query_longer_than_the_limit_is_a_400(client, app_for, seed_index):
    assert_problem(client.get("/api/search", query_string={"q": "a" * 2001}), 400,
                   "query_too_long")
    short = app_for(seed_index, MAX_QUERY_CHARS=10)
    assert_problem(short.get("/api/search?q=Sadr+al+cleric"), 400, "query_too_long")
    assert ok(short.get("/api/search?q=Sadr"))["total"] == 2


def test_wildcard_that_expands_too_far_is_a_400(app_for, seed_index):
    strict = app_for(seed_index, MAX_TERMS=5)
    assert_problem(strict.get("/api/search?q=s*"), 400, "query_too_expensive")
    assert ok(strict.get("/api/search?q=Sadr*"))["total"] == 2


def test_interval_with_too_many_buckets_is_a_400(serve):
    wide = serve([{"id": "a", "date": "1980-01-01", "body": "old"},
                  {"id": "b", "date": "2020-01-01", "body": "new"}])
    assert_problem(wide.get("/api/search?interval=day"), 400, "too_many_buckets")
    assert ok(wide.get("/api/search?interval=month"))["facets"]["date"]["interval"] == "month"


def test_unknown_api_route_is_a_404_problem(client):
    assert_problem(client.get("/api/nope"), 404, "not_found")
    assert_problem(client.get("/api/search/extra"), 404, "not_found")


@pytest.mark.parametrize("method, path", [("delete", "/api/search"), ("post", "/api/search"),
                                          ("put", "/api/stats"), ("get", "/api/reindex"),
                                          ("put", f"/api/articles/{SADR_1}"),
                                          ("get", "/api/articles"),
                                          ("post", "/api/builds/last")])
def test_wrong_method_is_a_405_problem(client, method, path):
    response = getattr(client, method)(path)
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers.get("Allow")


def test_405_names_the_allowed_methods(client):
    assert "GET" in client.delete("/api/search").headers["Allow"]


def test_unknown_query_parameters_are_ignored(client):
    plain = ok(client.get("/api/search?q=Sadr"))
    noisy = ok(client.get("/api/search?q=Sadr&utm_source=mail&foo=bar&foo=baz&debug=1"))
    assert noisy["total"] == plain["total"] == 2
    assert [h["id"] for h in noisy["hits"]] == [h["id"] for h in plain["hits"]]
    assert noisy["query"] == plain["query"]


def test_unexpected_errors_are_500_problems_without_traceback(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals /etc/shadow")

    monkeypatch.setattr(searchsvc.core.search, "search", boom)
    body = assert_problem(client.get("/api/search?q=Sadr"), 500, "internal_error")
    assert "secret" not in json.dumps(body) and "RuntimeError" not in json.dumps(body)


# -- /api/search: shape -----------------------------------------------------------------------


def test_search_response_has_every_contract_field(client):
    body = ok(client.get("/api/search?q=Sadr"))
    assert {"query", "total", "took_ms", "hits", "facets", "did_you_mean"} <= set(body)
    assert isinstance(body["took_ms"], (int, float)) and body["took_ms"] >= 0
    assert body["did_you_mean"] is None
    query = body["query"]
    assert {"q", "from", "to", "sort", "page", "per_page", "filters"} <= set(query)
    assert query["q"] == "Sadr" and query["sort"] == "relevance"
    assert (query["page"], query["per_page"], query["from"], query["to"]) == (1, 10, None, None)
    assert query["filters"] == {}
    for hit in body["hits"]:
        assert {"id", "date", "title", "title_html", "score", "snippets", "url", "topics",
                "places"} <= set(hit)
        assert hit["date"] == "2020-01-24"
        assert hit["url"] == f"/articles/{hit['id']}"
        assert isinstance(hit["score"], (int, float)) and hit["score"] > 0
        assert 1 <= len(hit["snippets"]) <= 3
        for name in ("topics", "places"):
            assert isinstance(hit[name], list) and all(isinstance(v, str) for v in hit[name])
    facets = body["facets"]
    assert {"date", "topics", "places", "people", "orgs", "source"} <= set(facets)
    assert set(facets["date"]) >= {"interval", "buckets"}
    for bucket in facets["date"]["buckets"]:
        assert {"value", "count", "selected"} <= set(bucket)
        assert bucket["from"] <= bucket["to"]


def test_hits_are_ranked_by_score(client):
    scores = [h["score"] for h in ok(client.get("/api/search?q=Sadr+cleric"))["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_query_echo_normalises_what_was_asked(client):
    body = ok(client.get("/api/search?q=+Sadr+&from=24+Jan+2020&to=January+25,+2020"
                         "&sort=OLDEST&page=1&per_page=5&topics=crude&topics=grain&places=usa"))
    query = body["query"]
    assert query["q"] == "Sadr"
    assert query["from"] == "2020-01-24" and query["to"] == "2020-01-25"
    assert query["sort"] == "oldest" and query["per_page"] == 5
    assert query["filters"] == {"topics": ["crude", "grain"], "places": ["usa"]}


def test_empty_query_matches_everything_newest_first(serve):
    app = serve([{"id": "mid", "date": "2020-06-01", "body": "b"},
                 {"id": "none", "body": "undated"},
                 {"id": "new", "date": "2021-01-01", "body": "c"},
                 {"id": "old", "date": "2019-01-01", "body": "a"}])
    for url in ("/api/search?collapse=false", "/api/search?q=&collapse=false",
                "/api/search?q=*&collapse=false"):
        body = ok(app.get(url))
        assert body["total"] == 4
        assert [h["id"] for h in body["hits"]] == ["new", "mid", "old", "none"]
    assert ok(app.get("/api/search"))["query"]["sort"] == "newest"
    oldest = ok(app.get("/api/search?sort=oldest&collapse=false"))
    assert [h["id"] for h in oldest["hits"]] == ["old", "mid", "new", "none"]


def test_star_query_echoes_the_newest_first_order_it_uses(client):
    assert ok(client.get("/api/search?q=*"))["query"]["sort"] == "newest"


@pytest.fixture
def wires(serve):
    return serve([
        {"id": "wires/2020/oil-1", "date": "2020-01-10", "title": "Oil rises",
         "body": "Oil prices rose.", "topics": ["crude"], "places": ["usa"], "source": "wire-a",
         "people": ["smith"], "orgs": ["opec"], "url": "https://example.com/oil-1"},
        {"id": "wires/2020/grain-1", "date": "2020-01-12", "title": "Grain falls",
         "body": "Grain prices fell.", "topics": ["grain"], "places": ["usa"],
         "source": "wire-b"},
        {"id": "wires/2020/both", "date": "2020-02-20", "title": "Oil and grain",
         "body": "Oil and grain prices were mixed.", "topics": ["crude", "grain"],
         "places": ["canada"], "source": "wire-a"},
        {"id": "memo", "title": "Undated memo", "body": "Prices memo without a date."},
    ])


def test_facet_filters_or_within_and_across_facets_over_http(wires):
    body = ok(wires.get("/api/search?q=prices&topics=crude&topics=grain&places=usa"))
    assert hit_ids(body) == {"wires/2020/oil-1", "wires/2020/grain-1"}
    topics = {v["value"]: (v["count"], v["selected"]) for v in body["facets"]["topics"]}
    assert topics == {"crude": (1, True), "grain": (1, True)}
    places = {v["value"]: (v["count"], v["selected"]) for v in body["facets"]["places"]}
    assert places == {"usa": (2, True), "canada": (1, False)}
    source = {v["value"]: v["count"] for v in body["facets"]["source"]}
    assert source == {"wire-a": 1, "wire-b": 1}


def test_hits_carry_their_facet_values(wires):
    [hit] = ok(wires.get("/api/search?q=rises"))["hits"]
    assert hit["topics"] == ["crude"] and hit["places"] == ["usa"]
    assert hit["url"] == "/articles/wires/2020/oil-1"


def test_date_filter_over_http_is_inclusive_and_skips_undated(wires):
    body = ok(wires.get("/api/search?q=prices&from=January+10,+2020&to=2020-01-12"))
    assert hit_ids(body) == {"wires/2020/oil-1", "wires/2020/grain-1"}
    buckets = body["facets"]["date"]["buckets"]
    assert sum(b["count"] for b in buckets) == 3  # the histogram ignores from/to
    selected = [b["value"] for b in buckets if b["selected"]]
    assert selected and all("2020-01-10" <= v <= "2020-01-12" for v in selected)


def test_pagination_over_http(serve):
    app = serve([{"id": f"a{i:02d}", "date": f"2020-01-{i + 1:02d}", "body": "markets"}
                 for i in range(15)])
    one = ok(app.get("/api/search?q=markets&sort=newest&per_page=10&collapse=false"))
    two = ok(app.get("/api/search?q=markets&sort=newest&per_page=10&page=2&collapse=false"))
    assert one["total"] == two["total"] == 15
    ids_one, ids_two = [h["id"] for h in one["hits"]], [h["id"] for h in two["hits"]]
    assert len(ids_one) == 10 and len(ids_two) == 5 and not set(ids_one) & set(ids_two)
    assert ids_one + ids_two == [f"a{i:02d}" for i in reversed(range(15))]


def test_did_you_mean_over_http(serve):
    # Changed by the restructure: a word nobody wrote is corrected only to a word in at least
    # three articles, so the two seeds are too few; three reports of a protest are enough.
    app = serve([{"id": f"p{i}", "date": "2020-01-24", "title": f"Report {i}",
                  "body": "Protesters marched through central Baghdad."} for i in range(3)])
    body = ok(app.get("/api/search?q=protestors"))
    assert body["total"] == 0
    dym = body["did_you_mean"]
    assert dym == {"q": "protesters", "html": "<mark>protesters</mark>", "total": 3}
    assert ok(app.get("/api/search", query_string={"q": dym["q"]}))["total"] == 3


def test_no_did_you_mean_on_the_seeds_for_a_word_in_only_two_articles(client):
    assert ok(client.get("/api/search?q=protestors"))["did_you_mean"] is None


def test_search_says_how_syntax_was_read_when_plain_words_find_far_more(serve):
    app = serve([{"id": "a", "date": "2020-01-01", "body": "The bank of England met."},
                 {"id": "b", "date": "2020-01-01", "body": "A bank in England closed."},
                 {"id": "c", "date": "2020-01-01", "body": "England won; the bank lost."}])
    body = ok(app.get("/api/search", query_string={"q": '"bank of england"'}))
    assert body["total"] == 1
    assert body["interpreted_as"]["plain"] == {"q": "bank of england", "total": 3}
    assert isinstance(body["interpreted_as"]["query"], str)
    assert ok(app.get("/api/search?q=bank+england"))["interpreted_as"] is None


def test_search_counts_stories_besides_articles(client):
    body = ok(client.get("/api/search?q=Sadr"))
    assert (body["total"], body["total_stories"]) == (2, 1)
    apart = ok(client.get("/api/search?q=Sadr&collapse=false"))
    assert (apart["total"], apart["total_stories"]) == (2, 1)
    assert "approximate" not in body  # the embedded engine counts everything exactly


@pytest.mark.parametrize("q", ['"unbalanced', "(((oil", "AND", "title:", "OR", "NOT",
                               "oil)", "date:[2020 TO", "title:(Sadr", "~", "*:*", "??",
                               "Sadr^", "\\", "'", "<script>", "\u00e9l\u00e8ve"])
def test_invalid_syntax_never_errors_over_http(client, q):
    body = ok(client.get("/api/search", query_string={"q": q}))
    assert body["total"] >= 0 and body["query"]["q"] == q.strip()


@pytest.mark.parametrize("q", ["title:[a TO c]", "[a TO]", "title:{a TO c}", "topics:[a TO z]",
                               "Sadr [a TO c]", "date:[notadate TO 2020]",
                               "date:[2020-01-31 TO 2020-01-01]", "date:[2020 TO 2021]",
                               "date:[TO 2020-01-31]", "date:[2020-01-01 TO]",
                               "date:[yesterday TO today]"])
def test_range_syntax_never_errors_over_http(client, q):
    body = ok(client.get("/api/search", query_string={"q": q}))
    assert body["total"] >= 0


@pytest.mark.parametrize("q, total", [
    ("date:[2020-01-01 TO 2020-01-31]", 2),
    ("date:[2020-01-24 TO 2020-01-24]", 2),
    ("date:[2020-01-25 TO 2020-12-31]", 0),
    ("Sadr AND date:[2020-01-01 TO 2020-01-31]", 2),
    ("date:{2020-01-01 TO 2020-02-01}", 2),
])
def test_date_range_syntax_over_http(client, q, total):
    assert ok(client.get("/api/search", query_string={"q": q}))["total"] == total


def test_plain_words_of_invalid_syntax_are_searched(client):
    assert ok(client.get('/api/search?q=%22Sadr'))["total"] == 2
    assert ok(client.get("/api/search?q=(((Sadr"))["total"] == 2


# -- /api/articles/<id> -----------------------------------------------------------------------


def test_article_has_every_contract_field(client):
    article = ok(client.get(f"/api/articles/{SADR_1}"))
    assert set(article) >= {"id", "date", "title", "body", "url", "source", "topics", "places",
                            "people", "orgs"}
    assert article["id"] == SADR_1 and article["date"] == "2020-01-24"
    assert article["title"].startswith("Thousands of protesters marched")
    assert "Moqtada al-Sadr" in article["body"]
    assert "\n\n" in article["body"]  # paragraphs kept
    assert article["url"] == f"/articles/{SADR_1}"
    assert article["source"] is None
    for name in ("topics", "places", "people", "orgs"):
        assert isinstance(article[name], list)
        assert all(isinstance(v, str) for v in article[name])


def test_headline_seed_has_title_and_the_rest_as_body(client):
    article = ok(client.get(f"/api/articles/{SADR_2}"))
    assert article["title"].startswith("Supporters of Iraqi cleric Muqtada al-Sadr")
    assert article["body"].startswith("The demonstrators")


def test_article_with_facets_source_and_url(wires):
    article = ok(wires.get("/api/articles/wires/2020/oil-1"))
    assert article["id"] == "wires/2020/oil-1"
    assert article["source"] == "wire-a"
    assert article["topics"] == ["crude"] and article["places"] == ["usa"]
    assert article["people"] == ["smith"] and article["orgs"] == ["opec"]
    assert article["url"] == "https://example.com/oil-1"


def test_undated_article_has_null_date(wires):
    assert ok(wires.get("/api/articles/memo"))["date"] is None


def test_ids_with_slashes_work_as_path_segments(wires):
    assert ok(wires.get("/api/articles/wires/2020/both"))["title"] == "Oil and grain"
    assert ok(wires.get("/api/articles/wires%2F2020%2Fboth"))["id"] == "wires/2020/both"
    assert_problem(wires.get("/api/articles/wires/2020"), 404, "not_found")
    assert_problem(wires.get("/api/articles/wires/2020/both/extra"), 404, "not_found")


def test_ids_with_spaces_and_unicode_are_found(serve):
    app = serve([{"id": "news/caf\u00e9 story", "date": "2020-01-01", "body": "text"}])
    assert ok(app.get("/api/articles/" + quote("news/caf\u00e9 story")))["body"] == "text"
    [hit] = ok(app.get("/api/search"))["hits"]
    assert hit["url"] == "/articles/news/caf%C3%A9%20story"


def test_unknown_article_is_a_404_problem(client):
    assert_problem(client.get("/api/articles/no-such-article"), 404, "not_found")
    assert_problem(client.get(f"/api/articles/{SADR_1}x"), 404, "not_found")


@pytest.mark.parametrize("path", [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "..%252F..%252Fetc%252Fpasswd",
    "....//....//etc/passwd",
    "%2Fetc%2Fpasswd",
    "..%5C..%5Cetc%5Cpasswd",
    f"../seeds/{SADR_1}",
])
def test_path_traversal_ids_are_404(client, path):
    for url in (f"/api/articles/{path}", f"/api/articles/{path}/related"):
        response = client.get(url, follow_redirects=True)  # "//" is merged by a redirect
        assert response.status_code == 404
        assert "root:" not in response.get_data(as_text=True)
        assert_problem(response, 404)


# -- /api/articles/<id>/related ---------------------------------------------------------------


def test_the_two_seed_articles_are_related_to_each_other(client):
    for this, other in ((SADR_1, SADR_2), (SADR_2, SADR_1)):
        body = ok(client.get(f"/api/articles/{this}/related"))
        assert body["id"] == this
        assert [h["id"] for h in body["related"]] == [other]
        hit = body["related"][0]
        assert {"id", "date", "title", "title_html", "score", "snippets", "url", "topics",
                "places"} <= set(hit)


def test_related_is_most_similar_first_and_leaves_out_unrelated(serve):
    wire = ("Heavy rain flooded the river valley overnight, forcing hundreds of families to "
            "leave their homes as rescue teams used boats to reach villages cut off by water.")
    app = serve([
        {"id": "flood-a", "date": "2020-05-01", "title": "Floods force families out",
         "body": wire},
        {"id": "flood-b", "date": "2020-05-02", "title": "Floods force families out",
         "body": wire + " More rain is expected."},
        {"id": "flood-c", "date": "2020-05-03", "title": "River valley cleanup",
         "body": "Families returned to the river valley after the flood water went down."},
        {"id": "tennis", "date": "2020-05-01", "title": "Champion wins final",
         "body": "The champion won the tennis final in straight sets on Sunday."},
    ])
    related = [h["id"] for h in ok(app.get("/api/articles/flood-a/related"))["related"]]
    assert related[:2] == ["flood-b", "flood-c"]
    assert "flood-a" not in related and "tennis" not in related


def test_related_limit(client):
    body = ok(client.get(f"/api/articles/{SADR_1}/related?limit=1"))
    assert len(body["related"]) == 1
    assert len(ok(client.get(f"/api/articles/{SADR_1}/related?limit=50"))["related"]) == 1


@pytest.mark.parametrize("limit", ["0", "-1", "51", "x", "1.5"])
def test_related_limit_out_of_range_is_a_400(client, limit):
    assert_problem(client.get(f"/api/articles/{SADR_1}/related?limit={limit}"), 400,
                   "invalid_parameter")


def test_related_of_unknown_article_is_404(client):
    assert_problem(client.get("/api/articles/nope/related"), 404, "not_found")


def test_related_with_slash_ids(wires):
    body = ok(wires.get("/api/articles/wires/2020/both/related"))
    assert body["id"] == "wires/2020/both"
    assert "wires/2020/both" not in [h["id"] for h in body["related"]]


# -- /api/suggest -----------------------------------------------------------------------------


def test_suggest_completes_to_words_that_occur_never_to_stems(client):
    body = ok(client.get("/api/suggest?q=protes"))
    assert body["q"] == "protes"
    words = [s for s in body["suggestions"] if " " not in s]
    assert {"protesters", "protest"} <= set(words)
    assert all(w.startswith("protes") and w in seed_words() for w in words)


def test_suggest_never_offers_a_stem(client):
    suggestions = ok(client.get("/api/suggest?q=demonstr"))["suggestions"]
    assert {"demonstrators", "demonstration"} <= set(suggestions)
    assert "demonstr" not in suggestions
    for word in (s for s in suggestions if " " not in s):
        assert word in seed_words()


def test_suggest_keeps_the_words_typed_before(client):
    assert "iraqi cleric" in ok(client.get("/api/suggest?q=iraqi+cler"))["suggestions"]


def test_suggest_limit(client):
    assert len(ok(client.get("/api/suggest?q=protes&limit=1"))["suggestions"]) == 1
    many = ok(client.get("/api/suggest?q=s&limit=50"))["suggestions"]
    assert 8 < len(many) <= 50
    default = ok(client.get("/api/suggest?q=s"))["suggestions"]
    assert len(default) <= 8 and set(default) <= set(many)


def test_suggest_fills_the_default_limit_when_there_are_enough(client):
    assert len(ok(client.get("/api/suggest?q=s&limit=50"))["suggestions"]) > 8
    assert len(ok(client.get("/api/suggest?q=s"))["suggestions"]) == 8


@pytest.mark.parametrize("limit", ["0", "51", "many"])
def test_suggest_limit_out_of_range_is_a_400(client, limit):
    assert_problem(client.get(f"/api/suggest?q=protes&limit={limit}"), 400, "invalid_parameter")


@pytest.mark.parametrize("q", ["", "   ", "zzzzq", "(((", '"'])
def test_suggest_with_nothing_to_complete_is_empty_not_an_error(client, q):
    body = ok(client.get("/api/suggest", query_string={"q": q}))
    assert body["suggestions"] == []


# -- /api/stats, /api/health ------------------------------------------------------------------


def test_stats_on_the_seeds(client):
    body = ok(client.get("/api/stats"))
    assert body["documents"] == 2
    assert body["date_range"] == {"min": "2020-01-24", "max": "2020-01-24"}
    assert isinstance(body["index"], dict) and isinstance(body["facets"], dict)


def test_stats_count_facets_and_ignore_undated_in_the_date_range(wires):
    body = ok(wires.get("/api/stats"))
    assert body["documents"] == 4
    assert body["date_range"] == {"min": "2020-01-10", "max": "2020-02-20"}
    topics = {v["value"]: v["count"] for v in body["facets"]["topics"]}
    assert topics == {"crude": 2, "grain": 2}


def test_health_is_ok_with_the_document_count(client):
    body = ok(client.get("/api/health"))
    assert body["status"] == "ok" and body["documents"] == 2


@pytest.mark.parametrize("path", ["/api/health", "/api/search?q=Sadr", "/api/stats",
                                  f"/api/articles/{SADR_1}", "/api/suggest?q=pro"])
def test_without_an_index_the_api_answers_503(app_for, tmp_path, path):
    missing = app_for(tmp_path / "nothing-here")
    assert_problem(missing.get(path), 503, "index_unavailable")
    (tmp_path / "empty").mkdir()
    assert_problem(app_for(tmp_path / "empty").get(path), 503, "index_unavailable")


# -- /api/reindex (never the 202 path: that spawns a build) ----------------------------------


def test_reindex_is_404_without_a_configured_admin_token(app_for, seed_index):
    app = app_for(seed_index, ADMIN_TOKEN="")
    assert_problem(app.post("/api/reindex"), 404, "not_found")
    assert_problem(app.post("/api/reindex", headers={"Authorization": "Bearer x"}), 404)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic czNjcmV0",
                                    "s3cret-token"])
def test_reindex_without_a_bearer_token_is_401(app_for, seed_index, header):
    app = app_for(seed_index, ADMIN_TOKEN="s3cret-token")
    headers = {} if header is None else {"Authorization": header}
    response = app.post("/api/reindex", headers=headers)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["wrong", "s3cret-toke", "s3cret-token-x", "S3CRET-TOKEN"])
def test_reindex_with_a_wrong_token_is_403(app_for, seed_index, token):
    app = app_for(seed_index, ADMIN_TOKEN="s3cret-token")
    response = app.post("/api/reindex", headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(response, 403, "forbidden")
    assert "s3cret" not in json.dumps(body)


# -- POST /api/reindex with the token, build records -----------------------------------------


class _FakePopen:
    """A reindex that is accepted would start a real build (test_e2e runs one): record it."""

    calls: list[list[str]] = []

    def __init__(self, args, **kwargs):
        _FakePopen.calls.append(list(args))
        self.pid = 424242

    def wait(self, timeout=None) -> int:  # the build "ran" and exited at once
        return 0

    def poll(self) -> int:
        return 0


@pytest.fixture
def no_builds(monkeypatch):
    _FakePopen.calls = []
    monkeypatch.setattr(searchsvc.web.api.subprocess, "Popen", _FakePopen)
    return _FakePopen.calls


def test_reindex_answers_202_with_the_build_id_and_its_location(app_for, make_index,
                                                                 no_builds):
    index = make_index([{"id": "a", "date": "2020-01-01", "body": "text"}])
    app = app_for(index, ADMIN_TOKEN="tok", SOURCE="/some/source")
    response = app.post("/api/reindex", headers={"Authorization": "Bearer tok"})
    assert response.status_code == 202
    body = response.get_json()
    build_id = body["build"]
    assert response.headers["Location"] == f"/api/builds/{build_id}"
    assert [args[args.index("--build-id") + 1] for args in no_builds] == [build_id]
    record = ok(app.get(f"/api/builds/{build_id}"))
    assert record["id"] == build_id and record["mode"] == "full"
    # The fake build process never ran: its record reads as failed, not running forever.
    assert record["state"] in ("running", "failed")
    assert "pid" not in record


def test_build_records_of_the_builds_that_made_the_index(serve):
    app = serve([{"id": "a", "date": "2020-01-01", "body": "text"},
                 {"id": "b", "body": "   ", "title": None}])  # b is skipped
    last = ok(app.get("/api/builds/last"))
    assert {"id", "state", "started", "finished", "summary", "problems"} <= set(last)
    assert last["state"] == "done" and last["mode"] == "full"
    assert last["summary"]["indexed"] == 1 and last["summary"]["skipped"] == 1
    [problem] = last["problems"]
    assert {"path", "line", "reason"} <= set(problem) and problem["line"] == 2
    assert ok(app.get(f"/api/builds/{last['id']}")) == last
    assert ok(app.get("/api/stats"))["last_build"] == last


@pytest.mark.parametrize("build_id", ["nope", "..", "../current", ".hidden"])
def test_unknown_build_is_a_404_problem(client, build_id):
    assert_problem(client.get(f"/api/builds/{quote(build_id, safe='')}"), 404, "not_found")


def test_no_build_record_is_a_404_problem(app_for, tmp_path):
    assert_problem(app_for(tmp_path / "nothing").get("/api/builds/last"), 404, "not_found")


def test_health_names_the_engine_and_the_generation(client, engine_name):
    body = ok(client.get("/api/health"))
    assert body["engine"] == engine_name
    assert body["generation"] == ok(client.get("/api/stats"))["index"]["generation"]


def test_suggest_items_say_what_each_suggestion_is(client):
    body = ok(client.get("/api/suggest?q=protes"))
    assert [i["text"] for i in body["items"]] == body["suggestions"]
    kinds = {i["kind"] for i in body["items"]}
    assert kinds <= {"completion", "article"} and "completion" in kinds
    for item in body["items"]:
        if item["kind"] == "article":
            assert item["id"] in SEED_IDS
            assert ok(client.get(f"/api/articles/{item['id']}"))["title"] == item["text"]


# -- POST /api/articles, DELETE /api/articles/<id> ---------------------------------------------

TOKEN = "ingest-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = [{"id": f"base-{i}", "date": f"2020-01-0{i + 1}", "title": f"Base {i}",
         "body": f"Base article {i} about harbours."} for i in range(3)]


@pytest.fixture
def ingest(make_index, app_for, tmp_path):
    """A writable index of BASE with an admin token; the client and the index directory."""
    index = make_index(BASE)
    return app_for(index, ADMIN_TOKEN=TOKEN), index


def post(app, body: bytes | str | dict | list, **headers):
    if isinstance(body, dict):
        body = json.dumps(body)
    elif isinstance(body, list):
        body = "\n".join(json.dumps(b) for b in body)
    return app.post("/api/articles", data=body, headers={**AUTH, **headers})


def test_a_posted_article_is_searchable_when_the_answer_comes(ingest):
    app, _ = ingest
    response = post(app, {"id": "new-1", "date": "2020-02-01", "title": "Walrus sighted",
                          "body": "A walrus was sighted in the harbour."})
    body = ok(response)
    assert body["accepted"] == ["new-1"] and body["rejected"] == []
    found = ok(app.get("/api/search?q=walrus"))
    assert [h["id"] for h in found["hits"]] == ["new-1"]
    assert ok(app.get("/api/articles/new-1"))["title"] == "Walrus sighted"
    assert ok(app.get("/api/health"))["documents"] == 4


def test_ndjson_with_a_bad_line_is_207_and_says_why(ingest):
    app, _ = ingest
    response = post(app, '{"id": "n1", "body": "Narwhal one."}\n'
                         '{"id": "n2", "body": \n'
                         '{"body": "no id"}\n'
                         '{"id": "n3", "body": "Narwhal three.", "date": "2020-02-02"}\n')
    assert response.status_code == 207
    body = response.get_json()
    assert body["accepted"] == ["n1", "n3"]
    assert [(r["line"], r["code"]) for r in body["rejected"]] == [
        (2, "invalid_json"), (3, "invalid_article")]
    assert all(r["detail"] for r in body["rejected"])
    assert {h["id"] for h in ok(app.get("/api/search?q=narwhal"))["hits"]} == {"n1", "n3"}


@pytest.mark.parametrize("body", ['{"id": "x"}', "not json", "[1, 2]", "", "   "])
def test_a_post_with_nothing_acceptable_is_a_400(ingest, body):
    app, _ = ingest
    problem = assert_problem(post(app, body), 400)
    assert problem["code"] in ("invalid_article", "invalid_parameter")
    assert ok(app.get("/api/health"))["documents"] == 3


def test_a_post_over_the_size_limit_is_413(make_index, app_for):
    app = app_for(make_index(BASE), ADMIN_TOKEN=TOKEN, MAX_INGEST_MB=0.001)
    big = {"id": "big", "body": "word " * 1000}
    assert_problem(post(app, big), 413, "payload_too_large")
    assert ok(post(app, {"id": "small", "body": "Small enough."}))["accepted"] == ["small"]


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer no"}, 403)])
def test_ingest_and_delete_need_the_admin_token(ingest, headers, status):
    app, _ = ingest
    response = app.post("/api/articles", data='{"id": "x", "body": "y"}', headers=headers)
    assert_problem(response, status)
    assert_problem(app.delete("/api/articles/base-0", headers=headers), status)
    assert ok(app.get("/api/health"))["documents"] == 3


def test_ingest_is_404_without_an_admin_token(client):
    assert_problem(client.post("/api/articles", data='{"id": "x", "body": "y"}'), 404)
    assert_problem(client.delete(f"/api/articles/{SADR_1}"), 404)


def test_deleting_an_article_from_a_source_folder_is_409(ingest):
    app, _ = ingest
    problem = assert_problem(app.delete("/api/articles/base-0", headers=AUTH), 409)
    assert problem["code"] == "source_article"
    assert ok(app.get("/api/articles/base-0"))["id"] == "base-0"


def test_deleting_an_unknown_article_is_404(ingest):
    app, _ = ingest
    assert_problem(app.delete("/api/articles/no-such-one", headers=AUTH), 404, "not_found")


def test_a_deleted_ingested_article_is_searchable_no_more(ingest):
    app, _ = ingest
    ok(post(app, {"id": "gone", "body": "A dugong swam by."}))
    response = app.delete("/api/articles/gone", headers=AUTH)
    assert response.status_code == 204 and response.get_data() == b""
    assert ok(app.get("/api/search?q=dugong"))["total"] == 0
    assert_problem(app.get("/api/articles/gone"), 404, "not_found")


def test_deleting_one_of_two_articles_posted_together_keeps_the_other(ingest):
    # Posted together, the two share a segment: the deletion is recorded in it.
    app, _ = ingest
    ok(post(app, [{"id": "pair-1", "body": "A dugong swam by."},
                  {"id": "pair-2", "body": "A second dugong followed."}]))
    assert app.delete("/api/articles/pair-1", headers=AUTH).status_code == 204
    assert [h["id"] for h in ok(app.get("/api/search?q=dugong"))["hits"]] == ["pair-2"]
    assert ok(app.get("/api/health"))["documents"] == 4


def test_posting_an_article_again_replaces_it(ingest):
    app, _ = ingest
    ok(post(app, {"id": "v", "body": "First version about otters."}))
    ok(post(app, {"id": "v", "body": "Second version about beavers."}))
    assert ok(app.get("/api/search?q=otters"))["total"] == 0
    assert [h["id"] for h in ok(app.get("/api/search?q=beavers"))["hits"]] == ["v"]
    assert ok(app.get("/api/health"))["documents"] == 4


def test_a_full_rebuild_keeps_what_was_ingested(ingest, engine_name):
    app, index = ingest
    ok(post(app, {"id": "kept", "body": "A manatee surfaced."}))
    manifest_sources = ok(app.get("/api/stats"))["index"]["sources"]
    folder = ingested.ingest_dir(index, None)
    build_sources(index, ingested.with_ingest_dir(manifest_sources, folder), engine_name)
    assert [h["id"] for h in ok(app.get("/api/search?q=manatee"))["hits"]] == ["kept"]
    assert ok(app.get("/api/health"))["documents"] == 4


# -- /api/openapi.json ------------------------------------------------------------------------


def test_openapi_document_describes_every_endpoint(client):
    doc = ok(client.get("/api/openapi.json"))
    assert doc["openapi"].startswith("3.1")
    assert set(ENDPOINTS) <= set(doc["paths"])
    assert "post" in doc["paths"]["/api/reindex"]
    for path in ENDPOINTS:
        if path != "/api/reindex":
            assert "get" in doc["paths"][path], path
    names = {p["name"] for p in doc["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "from", "to", "sort", "page", "per_page", "topics", "places", "people", "orgs",
            "source", "interval", "collapse", "recency"} <= names


# -- Reuters ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reuters_client(reuters_index, engine_name):
    client = make_client(reuters_index, engine_name)
    yield client
    close_client(client)


@pytest.fixture(scope="module")
def reuters_records(reuters_jsonl) -> list[dict]:
    with gzip.open(reuters_jsonl, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.mark.reuters
def test_reuters_search_has_topic_and_place_facets_and_monthly_histogram(reuters_client):
    body = ok(reuters_client.get("/api/search?q=oil"))
    assert body["total"] > 1000
    assert body["facets"]["topics"][0]["value"] == "crude"
    assert any(v["value"] == "usa" for v in body["facets"]["places"])
    assert body["facets"]["date"]["interval"] == "month"
    empty = ok(reuters_client.get("/api/search"))
    assert empty["facets"]["date"]["interval"] == "month"
    assert [b["value"][:7] for b in empty["facets"]["date"]["buckets"]] == [
        f"1987-{m:02d}" for m in range(2, 11)]


@pytest.mark.reuters
def test_reuters_multi_select_counts_over_http(reuters_client, reuters_records):
    body = ok(reuters_client.get(
        "/api/search?topics=crude&places=usa&facet_size=1000&per_page=1"))
    crude = [r for r in reuters_records if "crude" in r["topics"]]
    usa = [r for r in reuters_records if "usa" in r["places"]]
    assert body["total"] == sum(1 for r in crude if "usa" in r["places"])
    topics = {v["value"]: v["count"] for v in body["facets"]["topics"] if v["count"]}
    places = {v["value"]: v["count"] for v in body["facets"]["places"] if v["count"]}
    assert topics == dict(Counter(t for r in usa for t in set(r["topics"])))
    assert places == dict(Counter(p for r in crude for p in set(r["places"])))


@pytest.mark.reuters
def test_reuters_headline_only_items_are_indexed_and_found(reuters_client, reuters_records):
    record = next(r for r in reuters_records if r["id"] == "reuters-30")
    assert record["body"] == "" and record["title"]
    app = reuters_client
    article = ok(app.get("/api/articles/reuters-30"))
    assert article["title"] == record["title"] and article["body"] == ""
    body = ok(app.get("/api/search?q=title:mutual+AND+title:latest&from=1987-02-26"
                      "&to=1987-02-26"))
    [hit] = [h for h in body["hits"] if h["id"] == "reuters-30"]
    assert "<mark>MUTUAL</mark>" in hit["title_html"]
