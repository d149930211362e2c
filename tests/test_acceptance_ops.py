"""Acceptance checks of issue 16 (running it in production) that the rest of the suite lacks.

* ``GET /metrics`` read with ``prometheus_client.parser``: request counts and latency by
  endpoint and status, the served generation and document count, the last build, ingests,
  the optional token; under gunicorn, the workers' counts added up (e2e);
* one access-log line per request (text and JSON) with its request id, ``X-Request-Id``
  accepted or made and returned, errors logged with it, secrets never;
* CORS (``SEARCHSVC_CORS_ORIGINS``) and ``OPTIONS``;
* the OpenAPI document validated (``jsonschema``) against real responses of every endpoint;
* partial dates (``1987``, ``1987-03``, ``March 1987``) over HTTP and the command line;
* the wording of the command line, the progress display of a build, and ``serve``'s ready line
  and port-taken error (e2e).
"""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from jsonschema import Draft202012Validator
from prometheus_client.parser import text_string_to_metric_families
from support.cli import clean_env, invoke, run_cli
from support.e2e import HOST, Server, free_port, wait_until, write_corpus
from support.index import build_sources, engine_env, write_jsonl
from support.paths import ROOT, SADR_1, SEEDS

import searchsvc.core.search
import searchsvc.web.api
from searchsvc import config
from searchsvc.errors import BuildError

TOKEN = "ops-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROBLEM = "application/problem+json"


# -- metrics ---------------------------------------------------------------------------------------


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def with_name(samples: dict, name: str) -> dict[frozenset, float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_metrics_count_requests_and_time_them_by_endpoint_and_status(client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/search?q=sadr").status_code == 200
    assert client.get("/api/search?per_page=0").status_code == 400
    assert client.get(f"/api/articles/{SADR_1}").status_code == 200
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "searchsvc_http_requests_total"
    assert delta(requests, endpoint="/api/search", method="GET", status="200") == 3
    assert delta(requests, endpoint="/api/search", method="GET", status="400") == 1
    assert sum(delta(requests, **dict(labels)) for labels in with_name(after, requests)
               if dict(labels)["endpoint"].startswith("/api/articles/")) == 1
    latency = "searchsvc_http_request_duration_seconds"
    assert delta(f"{latency}_count", endpoint="/api/search") == 4
    assert delta(f"{latency}_sum", endpoint="/api/search") > 0
    assert delta(f"{latency}_bucket", endpoint="/api/search", le="+Inf") == 4


def test_metrics_name_the_served_generation_its_documents_and_the_last_build(client,
                                                                              engine_name):
    samples = scrape(client)
    health = client.get("/api/health").get_json()
    info = with_name(samples, "searchsvc_index_generation_info")
    assert {dict(labels)["generation"]: v for labels, v in info.items()} == {
        health["generation"]: 1.0}
    assert {dict(labels)["engine"] for labels in info} == {engine_name}
    assert value(samples, "searchsvc_index_documents") == 2
    assert value(samples, "searchsvc_last_build_success") == 1
    [(labels, seconds)] = with_name(samples, "searchsvc_last_build_seconds").items()
    assert dict(labels) == {"mode": "full", "state": "done"} and seconds >= 0


def test_metrics_say_when_the_last_build_failed(tmp_path, app_for, engine_name):
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", [{"id": "a", "date": "2020-01-01", "body": "Text."}])
    index = tmp_path / "index"
    build_sources(index, [src], engine_name)
    (src / "bad.txt").write_text("no date header\n", encoding="utf-8")
    with pytest.raises(BuildError):
        build_sources(index, [src], engine_name, strict=True)
    samples = scrape(app_for(index))
    assert value(samples, "searchsvc_last_build_success") == 0
    assert {dict(labels)["state"] for labels in
            with_name(samples, "searchsvc_last_build_seconds")} == {"failed"}
    assert value(samples, "searchsvc_index_documents") == 1  # the served index is unchanged


def test_metrics_count_ingested_and_rejected_articles(make_index, app_for):
    app = app_for(make_index([{"id": "a", "date": "2020-01-01", "body": "Text."}]),
                  ADMIN_TOKEN=TOKEN)
    before = scrape(app)
    body = '{"id": "n1", "body": "One."}\n{"id": "n2", "body": "Two."}\n{"body": "no id"}\n'
    assert app.post("/api/articles", data=body, headers=AUTH).status_code == 207
    after = scrape(app)
    counted = {dict(labels).get("result"): v - value(before, "searchsvc_ingested_articles_total",
                                                    **dict(labels))
               for labels, v in with_name(after, "searchsvc_ingested_articles_total").items()}
    assert sorted(counted.values()) == [1, 2], counted


def test_no_metric_is_listed_without_samples_once_searches_and_ingests_ran(make_index,
                                                                          app_for):
    # A family with a HELP line and never a sample is a dashboard panel that stays empty.
    app = app_for(make_index([{"id": "a", "date": "2020-01-01", "body": "Text."}]),
                  ADMIN_TOKEN=TOKEN)
    assert app.get("/api/search?q=text").status_code == 200
    assert app.post("/api/articles", data='{"id": "n1", "body": "One."}',
                    headers=AUTH).status_code == 200
    response = app.get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(
        as_text=True)) if f.name.startswith("searchsvc_")}
    assert "searchsvc_ingested_articles" in families
    assert not [name for name, f in families.items() if not f.samples], sorted(families)


def test_a_metrics_token_is_required_when_one_is_set(seed_index, app_for):
    app = app_for(seed_index, METRICS_TOKEN="scrape-me")
    assert app.get("/metrics").status_code == 401
    assert app.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    samples = scrape(app, Authorization="Bearer scrape-me")
    assert value(samples, "searchsvc_index_documents") == 2
    assert app_for(seed_index).get("/metrics").status_code == 200  # no token set: open


def test_metrics_token_errors_are_problem_json_as_documented(seed_index, app_for):
    app = app_for(seed_index, METRICS_TOKEN="scrape-me")
    for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 403)):
        response = app.get("/metrics", headers=headers)
        assert (response.status_code, response.mimetype) == (status, PROBLEM)
        assert "scrape-me" not in response.get_data(as_text=True)


# -- access log and request ids --------------------------------------------------------------------


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.INFO, logger="searchsvc.access")
    caplog.set_level(logging.INFO, logger="searchsvc")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "searchsvc.access"]

    return lines


def test_one_access_log_line_per_request_with_method_path_status_time_and_request_id(
        client, access):
    responses = [client.get("/api/search?q=sadr"), client.get("/api/search?per_page=0"),
                 client.get("/api/nope"), client.get("/"), client.post("/api/search")]
    lines = access()
    assert len(lines) == len(responses), lines
    expected = [("GET", "/api/search?q=sadr", 200), ("GET", "/api/search?per_page=0", 400),
                ("GET", "/api/nope", 404), ("GET", "/", 200), ("POST", "/api/search", 405)]
    for line, response, (method, path, status) in zip(lines, responses, expected, strict=True):
        rid = response.headers["X-Request-Id"]
        assert re.fullmatch(rf"{method} {re.escape(path)} {status} \d+(\.\d+)? ms rid="
                            rf"{re.escape(rid)}", line), line


def test_json_access_log_lines(seed_index, app_for, access):
    app = app_for(seed_index, LOG_FORMAT="json")
    response = app.get("/api/search?q=sadr", headers={"X-Request-Id": "trace-42"})
    [line] = access()
    record = json.loads(line)
    assert record["method"] == "GET" and record["path"] == "/api/search?q=sadr"
    assert record["status"] == 200 and record["request_id"] == "trace-42"
    duration = next(v for k, v in record.items() if k in ("ms", "duration_ms", "duration"))
    assert isinstance(duration, int | float) and duration >= 0
    assert response.headers["X-Request-Id"] == "trace-42"


def test_a_request_id_is_kept_when_given_and_made_when_not(client):
    assert client.get("/api/health", headers={"X-Request-Id": "abc-123"}).headers[
        "X-Request-Id"] == "abc-123"
    made = {client.get("/api/health").headers["X-Request-Id"] for _ in range(3)}
    assert len(made) == 3 and all(made)
    for bad in ("x" * 200, "has space", "tab\there", "ünïcode"):
        rid = client.get("/api/health", headers={"X-Request-Id": bad}).headers["X-Request-Id"]
        assert rid != bad and re.fullmatch(r"[\x21-\x7e]{1,128}", rid), rid
    # Also on errors, and on what the pages answer.
    assert client.get("/api/nope", headers={"X-Request-Id": "e-1"}).headers[
        "X-Request-Id"] == "e-1"
    assert client.get("/", headers={"X-Request-Id": "p-1"}).headers["X-Request-Id"] == "p-1"


def test_errors_are_logged_with_the_request_id_and_never_the_admin_token(
        seed_index, app_for, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    app = app_for(seed_index, ADMIN_TOKEN=TOKEN)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(searchsvc.core.search, "search", broken)
    monkeypatch.setattr(searchsvc.web.api.core, "search", broken)
    response = app.get(f"/api/search?q=sadr&token={TOKEN}&api_key={TOKEN}",
                       headers={**AUTH, "X-Request-Id": "fail-7"})
    assert response.status_code == 500
    messages = [r.getMessage() for r in caplog.records]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and any("fail-7" in r.getMessage() for r in errors), messages
    assert any("fail-7" in m for m in messages if "500" in m)  # the access line
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert TOKEN not in text, text


# -- CORS and OPTIONS ------------------------------------------------------------------------------

ORIGIN = "https://newsroom.example"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "x-request-id"}


def cors_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control")}


def test_without_configured_origins_there_are_no_cors_headers(client):
    assert cors_headers(client.get("/api/search?q=sadr", headers={"Origin": ORIGIN})) == {}
    preflight = client.options("/api/search", headers=PREFLIGHT)
    assert preflight.status_code == 204 and cors_headers(preflight) == {}


def test_an_allowed_origin_gets_cors_headers_on_answers_and_errors(seed_index, app_for):
    app = app_for(seed_index, CORS_ORIGINS=f"https://other.example, {ORIGIN}")
    for url, status in (("/api/search?q=sadr", 200), ("/api/search?per_page=0", 400),
                        ("/api/nope", 404)):
        response = app.get(url, headers={"Origin": ORIGIN})
        assert response.status_code == status
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Origin" in response.headers.get("Vary", "")
        assert "X-Request-Id" in response.headers.get("Access-Control-Expose-Headers", "")
    denied = app.get("/api/search?q=sadr", headers={"Origin": "https://evil.example"})
    assert denied.status_code == 200 and "Access-Control-Allow-Origin" not in denied.headers
    anyone = app_for(seed_index, CORS_ORIGINS="*")
    assert anyone.get("/api/health", headers={"Origin": "https://x.example"}).headers[
        "Access-Control-Allow-Origin"] == "*"


def test_a_preflight_from_an_allowed_origin_is_204_with_allow_and_the_cors_headers(
        seed_index, app_for):
    app = app_for(seed_index, CORS_ORIGINS=ORIGIN)
    response = app.options("/api/search", headers=PREFLIGHT)
    assert response.status_code == 204 and response.get_data() == b""
    assert "GET" in response.headers["Allow"]
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "x-request-id" in response.headers["Access-Control-Allow-Headers"].lower()
    post = app.options("/api/articles", headers={**PREFLIGHT,
                                                 "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers":
                                                     "authorization, content-type"})
    assert post.status_code == 204 and "POST" in post.headers["Access-Control-Allow-Methods"]
    allowed_headers = post.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    other = app.options("/api/search", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert other.status_code == 204 and "Allow" in other.headers
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize("path, methods", [("/api/search", {"GET"}), ("/", {"GET"}),
                                           ("/api/articles/x", {"GET", "DELETE"}),
                                           ("/api/reindex", {"POST"}), ("/metrics", {"GET"}),
                                           (f"/articles/{SADR_1}", {"GET"})])
def test_every_other_options_is_a_204_with_allow_and_no_html_body(client, path, methods):
    response = client.options(path)
    assert response.status_code == 204
    assert response.get_data() == b""
    allow = {m.strip() for m in response.headers["Allow"].split(",")}
    assert methods | {"OPTIONS"} <= allow


# -- the OpenAPI document against real responses ---------------------------------------------------

OPENAPI_RECORDS = [
    {"id": "sadr-1", "date": "2020-01-24", "title": "Protesters march in Baghdad",
     "body": (SEEDS / f"{SADR_1}.txt").read_text(encoding="utf-8").split(" ", 2)[2],
     "topics": ["politics"], "places": ["iraq"], "source": "wire", "url": "https://x.example/1"},
    *({"id": f"gov-{i}", "date": f"2020-02-{1 + i % 28:02d}", "title": f"Government note {i}",
       "body": f"The government said bank of england item {i}.", "orgs": ["gov"]}
      for i in range(60)),
    {"id": "typo", "date": "2020-03-01", "title": "A note", "body": "The goverment pledged."},
    {"id": "bfe", "date": "2020-03-02", "title": "Bank for England", "body": "A bank for england."},
    {"id": "undated", "title": "Undated memo", "body": "Undated government memo."},
]


def _template_of(doc: dict, path: str) -> str:
    if path in doc["paths"]:
        return path
    best = None
    for template in doc["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", ".+", re.escape(template)) + "$"
        if re.match(pattern, path) and (best is None or len(template) > len(best)):
            best = template
    assert best, f"{path} is not in the OpenAPI document"
    return best


def check_against(doc: dict, method: str, url: str, response) -> None:
    """The response is what the document says this operation answers with this status."""
    path = url.split("?", 1)[0]
    operation = doc["paths"][_template_of(doc, path)].get(method.lower())
    assert operation, f"{method} {path} is not documented"
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {url}: {status} is not documented"
    spec = operation["responses"][status]
    content = spec.get("content")
    if response.status_code == 204:
        assert not content and response.get_data() == b"", url
        return
    assert content, f"{method} {url} {status}: no content documented"
    assert response.mimetype in content, (url, response.mimetype, list(content))
    schema = content[response.mimetype].get("schema")
    if not schema or response.mimetype not in ("application/json", PROBLEM):
        return
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.path))
    assert not errors, f"{method} {url} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5])


class _RunningBuild:
    """The reindex's build process, never started (test_e2e runs a real one); its pid is this
    process's, so the build record reads as running."""

    pid = os.getpid()

    def __init__(self, args, **kwargs):
        pass

    def wait(self, timeout=None) -> int:
        return 0

    def poll(self):
        return None


def test_real_responses_of_every_endpoint_match_the_openapi_document(
        tmp_path, app_for, engine_name, monkeypatch):
    src, index = tmp_path / "src", tmp_path / "index"
    write_jsonl(src / "a.jsonl", OPENAPI_RECORDS)
    write_jsonl(src / "b.jsonl", [{"id": "sadr-2", "date": "2020-01-24",
                                   "title": "Sadr supporters rally",
                                   "body": (SEEDS / "003_3064415bd491f055.txt").read_text(
                                       encoding="utf-8").split("\n", 1)[1]}])
    (src / "skipped.txt").write_text("no date header\n", encoding="utf-8")
    build_sources(index, [src], engine_name)
    app = app_for(index, ADMIN_TOKEN=TOKEN, SOURCE=str(src))
    doc = app.get("/api/openapi.json").get_json()
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    checked: set[str] = set()

    def call(method: str, url: str, expect: int, **kwargs):
        response = app.open(url, method=method, **kwargs)
        assert response.status_code == expect, (method, url, response.get_data(as_text=True)
                                                [:300])
        check_against(doc, method, url, response)
        checked.add(f"{method} {_template_of(doc, url.split('?', 1)[0])}")
        return response

    search = call("GET", "/api/search?q=sadr", 200).get_json()
    assert search["hits"][0]["story"]["size"] == 2  # a collapsed story, described
    assert call("GET", "/api/search?q=goverment", 200).get_json()["did_you_mean"]
    assert call("GET", '/api/search?q="england+bank"', 200).get_json()["interpreted_as"]
    call("GET", "/api/search?sort=oldest&topics=politics&places=iraq&collapse=false"
                "&interval=week&from=2020-01&to=2020&recency=30d&facet_size=5", 200)
    call("GET", "/api/search?per_page=0", 400)
    call("GET", "/api/search?page=2000&per_page=10", 400)
    call("GET", "/api/articles/sadr-1", 200)
    call("GET", "/api/articles/undated", 200)
    call("GET", "/api/articles/nope", 404)
    call("GET", "/api/articles/sadr-1/related?limit=3", 200)
    call("GET", "/api/articles/sadr-1/related?limit=0", 400)
    items = call("GET", "/api/suggest?q=gov", 200).get_json()["items"]
    assert items
    call("GET", "/api/suggest?q=sadr+supp", 200)
    call("GET", "/api/suggest?limit=0", 400)
    stats = call("GET", "/api/stats", 200).get_json()
    assert stats["last_build"]["problems"]  # the skipped file, described
    call("GET", "/api/health", 200)
    call("GET", "/api/timeline?q=government&q=sadr:sadr&interval=month", 200)
    call("GET", "/api/timeline?q=government&format=csv", 200)
    call("GET", "/api/timeline", 400)
    call("GET", "/api/export?q=government&format=ndjson&fields=%2Bbody", 200).get_data()
    call("GET", "/api/export?q=government&format=csv", 200).get_data()
    call("GET", "/api/export?format=xlsx", 400)
    call("GET", "/api/feed.atom?q=government", 200)
    call("GET", "/api/terms?q=government", 200)
    call("GET", "/api/terms?size=0", 400)
    call("GET", "/api/builds/last", 200)
    call("GET", f"/api/builds/{stats['last_build']['id']}", 200)
    call("GET", "/api/builds/nope", 404)
    call("GET", "/api/openapi.json", 200)
    call("GET", "/metrics", 200)
    # the admin endpoints
    call("POST", "/api/articles", 200, headers=AUTH,
         data=json.dumps({"id": "posted", "date": "2020-04-01", "body": "Posted text."}))
    call("POST", "/api/articles", 207, headers=AUTH,
         data='{"id": "p2", "body": "Fine."}\n{"id": "p3"}\n')
    call("POST", "/api/articles", 400, headers=AUTH, data="not json")
    call("POST", "/api/articles", 401, data="{}")
    call("POST", "/api/articles", 403, headers={"Authorization": "Bearer no"}, data="{}")
    call("DELETE", "/api/articles/posted", 204, headers=AUTH)
    call("DELETE", "/api/articles/sadr-1", 409, headers=AUTH)
    small = app_for(index, ADMIN_TOKEN=TOKEN, MAX_INGEST_MB=0.0001)
    response = small.post("/api/articles", headers=AUTH, data=json.dumps(
        {"id": "big", "body": "word " * 500}))
    assert response.status_code == 413
    check_against(doc, "POST", "/api/articles", response)
    monkeypatch.setattr(searchsvc.web.api.subprocess, "Popen", _RunningBuild)
    monkeypatch.setattr(searchsvc.web.api.records, "watch", lambda *args: None)
    accepted = call("POST", "/api/reindex", 202, headers=AUTH)
    running = call("GET", accepted.headers["Location"], 200).get_json()
    assert running["state"] == "running"
    call("POST", "/api/reindex", 401)
    unavailable = app_for(tmp_path / "no-index-here")
    for url in ("/api/search?q=x", "/api/health", "/api/stats"):
        response = unavailable.get(url)
        assert response.status_code == 503
        check_against(doc, "GET", url, response)
    documented = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}
    assert documented - checked == set(), "endpoints never checked against their document"


def test_the_response_objects_are_closed_so_a_missing_field_fails(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for name in ("SearchResponse", "Hit", "Story", "Article", "Stats", "Health", "Build",
                 "Ingested", "Timeline", "Terms", "Problem"):
        assert schemas[name].get("additionalProperties") is False, name
    assert {"total_stories", "interpreted_as"} <= set(schemas["SearchResponse"]["required"])
    assert "generation" in schemas["Health"]["required"]


# -- partial dates ---------------------------------------------------------------------------------

DAYS = ["1986-12-31", "1987-01-01", "1987-02-28", "1987-03-01", "1987-03-31", "1987-04-01",
        "1987-12-31", "1988-01-01"]


@pytest.fixture
def dated_app(make_index, app_for):
    return app_for(make_index([{"id": d, "date": d, "body": "Market report."} for d in DAYS]))


@pytest.mark.parametrize("low, high, first, last", [
    ("1987", "1987", "1987-01-01", "1987-12-31"),
    ("1987-03", "1987-03", "1987-03-01", "1987-03-31"),
    ("March 1987", "March 1987", "1987-03-01", "1987-03-31"),
    ("Mar 1987", "1987-04", "1987-03-01", "1987-04-30"),
    (None, "1987-03", None, "1987-03-31"),
    ("1987-03", None, "1987-03-01", None),
    ("1987-02", "1987-02", "1987-02-01", "1987-02-28"),
])
def test_partial_dates_mean_the_whole_period_over_http(dated_app, low, high, first, last):
    params = {k: v for k, v in (("from", low), ("to", high)) if v}
    body = dated_app.get(f"/api/search?{urlencode(params)}&per_page=100").get_json()
    assert (body["query"]["from"], body["query"]["to"]) == (first, last)
    expected = {d for d in DAYS if (first is None or d >= first) and (last is None or d <= last)}
    assert {h["id"] for h in body["hits"]} == expected and body["total"] == len(expected)


def test_partial_dates_on_the_command_line(make_index, engine_name):
    index = make_index([{"id": d, "date": d, "body": "Market report."} for d in DAYS])
    result = invoke("search", "--index", index, "--from", "March 1987", "--to", "1987-03",
                    "--json", env=engine_env(engine_name, index))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert sorted(h["id"] for h in doc["hits"]) == ["1987-03-01", "1987-03-31"]


# -- wording -------------------------------------------------------------------------------------


def test_search_says_1_article_in_1_story(make_index, seed_index, engine_name):
    def first_line(q: str, index: Path) -> str:
        result = invoke("search", q, "--index", index, env=engine_env(engine_name, index))
        assert result.exit_code == 0, result.stderr
        return result.stdout.splitlines()[0]

    one = make_index([{"id": "z", "date": "2020-01-01", "body": "A zebra crossing."}])
    assert first_line("zebra", one).startswith("1 article in 1 story (")
    assert first_line("sadr", seed_index).startswith("2 articles in 1 story (")
    assert first_line("qwxzy", seed_index).startswith("0 articles")


def test_an_update_summary_never_says_0_articles_per_second(tmp_path, engine_name):
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", [{"id": "a", "date": "2020-01-01", "body": "First."}])
    index = tmp_path / "index"
    env = clean_env(**engine_env(engine_name, index))
    assert run_cli("index", src, "--index", index, env=env).returncode == 0
    write_jsonl(src / "b.jsonl", [{"id": "b", "date": "2020-01-02", "body": "Second."}])
    for args in (["--update"], ["--update"], []):  # one added, nothing, a small full build
        done = run_cli("index", src, "--index", index, *args, env=env)
        assert done.returncode == 0, done.stderr
        last = done.stdout.strip().splitlines()[-1]
        assert "articles/s" not in last and "(0 " not in last, last


def test_stats_of_an_empty_index_never_prints_none(tmp_path, engine_name):
    (tmp_path / "empty").mkdir()
    index = tmp_path / "index"
    env = clean_env(**engine_env(engine_name, index))
    assert run_cli("index", tmp_path / "empty", "--index", index, env=env).returncode == 0
    done = run_cli("stats", "--index", index, env=env)
    assert done.returncode == 0, done.stderr
    assert "None" not in done.stdout and "null" not in done.stdout, done.stdout
    assert re.search(r"^documents\s+0$", done.stdout, re.MULTILINE)


# -- the progress display of a full build on a terminal --------------------------------------------


@pytest.fixture(scope="module")
def build_on_a_terminal(tmp_path_factory) -> str:
    """What ``searchsvc index`` shows on a terminal while it builds 2,100 JSONL articles (a
    parallel build, as Reuters' is)."""
    root = tmp_path_factory.mktemp("progress")
    write_corpus(root / "src" / "wire.jsonl", 0, 2100, seed=11)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "searchsvc", "index", str(root / "src"),
                             "--index", str(root / "index")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave, env=clean_env(),
                            cwd=root)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the build closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return b"".join(chunks).decode("utf-8", "replace")


def shown(output: str) -> list[str]:
    return [s.strip() for s in output.split("\r") if s.strip()]


@pytest.mark.engines("whoosh")
def test_the_progress_of_a_build_says_when_it_writes_segments(build_on_a_terminal):
    assert any(s.startswith("writing segments") for s in shown(build_on_a_terminal)), shown(
        build_on_a_terminal)[-5:]


@pytest.mark.engines("whoosh")
def test_the_progress_of_a_build_says_when_it_clusters_stories(build_on_a_terminal):
    assert any(s.startswith("clustering stories") for s in shown(build_on_a_terminal)), shown(
        build_on_a_terminal)[-5:]


@pytest.mark.engines("whoosh")
def test_the_progress_of_a_jsonl_build_counts_the_articles_indexed(build_on_a_terminal):
    counts = [int(m.group(1).replace(",", "")) for s in shown(build_on_a_terminal)
              if (m := re.match(r"indexing: ([\d,]+)/", s))]
    assert counts and max(counts) > 0, counts


# -- serve: the ready line and a taken port (e2e) --------------------------------------------------


@pytest.mark.e2e
def test_serve_prints_its_url_engine_generation_and_documents_and_counts_every_worker(
        tmp_path, engine_name):
    index = tmp_path / "index"
    env = clean_env(**engine_env(engine_name, index))
    server = Server(tmp_path, index, SEEDS, 2, env)
    try:
        assert server.wait_ready().status == 200
        url = f"http://{HOST}:{server.port}/"
        assert wait_until(lambda: f"Serving {url}" in server.log(), 15), server.log()
        [line] = [x for x in server.log().splitlines() if x.startswith("Serving ")]
        health = server.get("/api/health").json()
        assert f"engine {engine_name}" in line and health["generation"] in line, line
        assert re.search(r"\b2 documents\b", line), line

        def counted() -> float:
            body = server.get("/metrics").body.decode()
            return sum(s.value for f in text_string_to_metric_families(body) for s in f.samples
                       if s.name == "searchsvc_http_requests_total"
                       and s.labels.get("endpoint") == "/api/search"
                       and s.labels.get("status") == "200")

        before = counted()
        for _ in range(30):  # spread over both workers by the kernel
            assert server.get("/api/search?q=sadr").status == 200
        assert counted() - before == 30  # every worker's requests, added up
    finally:
        server.stop()


@pytest.mark.e2e
def test_serve_on_a_taken_port_fails_at_once_with_one_line(tmp_path):
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, port))
        taken.listen(1)
        done = run_cli("serve", "--host", HOST, "--port", str(port), "--index",
                       tmp_path / "index", "--source", SEEDS, timeout=60)
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert str(port) in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "index").exists()  # it said so before building anything


@pytest.mark.e2e
def test_serve_removes_the_metrics_folder_it_made_when_it_exits(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = clean_env(TMPDIR=str(tmp))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = Server(tmp_path, tmp_path / "index", SEEDS, 2, env)
    try:
        assert server.wait_ready().status == 200
        assert server.get("/api/search?q=sadr").status == 200
        [folder] = tmp.glob("searchsvc-metrics-*")
        assert any(folder.iterdir())  # the workers' samples are written there
        server.proc.send_signal(signal.SIGTERM)  # how a service manager stops it
        assert server.proc.wait(timeout=60) == 0, server.log()
        assert not list(tmp.glob("searchsvc-metrics-*")), server.log()
    finally:
        server.stop()


# -- the README names every setting --------------------------------------------------------------


def test_the_readme_settings_table_names_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.envvar for s in config.SETTINGS if f"`{s.envvar}`" not in readme]
    assert not missing, missing
