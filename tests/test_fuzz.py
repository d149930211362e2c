"""Hostile input, generated: queries, parameters and article files (issue #5).

Property tests (hypothesis) feed the search core and the HTTP API arbitrary unicode, Whoosh
operators, unbalanced quotes and brackets, wildcards and fuzzy marks everywhere, deep nesting,
long and oversized queries, and arbitrary strings for every other search parameter. Whatever
comes in, the answer is a contract-shaped result or a documented 400 — never a 500, never a
traceback, never a hang. Each call runs under a SIGALRM hang detector (generous: it only tells a
hang from a slow answer).

The readers and the indexer get random bytes, truncated UTF-8, enormous lines, nested folders,
file names with spaces and unicode, and symlinks out of the source folder: ``build`` reports
and continues, and every good article is indexed.

The OpenAPI document is checked with schemathesis against the app in-process: no 500 and no
response outside the schema, for positive and negative (schema-violating) requests.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, load_all_checks
from support.index import build_sources, doc_ids, open_engine, open_snapshot, write_jsonl
from support.web import close_client, make_client

from searchsvc.core.params import parse_search_args
from searchsvc.core.search import search
from searchsvc.errors import ServiceError
from searchsvc.web.app import create_app

# The 400 codes the README documents for a search request.
SEARCH_400_CODES = {"invalid_parameter", "query_too_long", "result_window_too_large",
                    "too_many_buckets", "query_too_expensive"}
SEARCH_KEYS = {"query", "total", "took_ms", "hits", "facets", "did_you_mean"}
HIT_KEYS = {"id", "date", "title", "title_html", "score", "snippets", "url", "topics", "places"}
PROBLEM_KEYS = {"type", "title", "status", "code", "detail"}
PROBLEM_MIME = "application/problem+json"
HANG_SECONDS = 10.0  # a hang detector, not a performance target

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- a small index with a varied vocabulary ----------------------------------------------------

VOCAB = (
    "oil crude market price bank rate trade export government minister election protest troops "
    "border talks deal shares profit growth inflation currency harvest wheat coffee sugar gold "
    "strike union court police storm flood energy power plant port airline tax café naïve "
    "straße zürich москва нефть 石油 市场 東京 ١٢٣ 2020 1987 3.5 u.s. o'neill e-mail x ab abc "
    "abcd abcde abcdef and or not to the"
).split()
TOPICS = ["crude", "grain", "<b>bold</b>", "a & b", "ünï", "<script>alert(1)</script>"]
PLACES = ["usa", "uk", "zürich", "east timor", "\"quoted\""]


def fuzz_records(n: int = 80, seed: int = 5) -> list[dict]:
    rnd = random.Random(seed)
    records = []
    for i in range(n):
        record = {
            "id": f"doc{i}",
            "title": " ".join(rnd.choice(VOCAB) for _ in range(rnd.randint(1, 8))),
            "body": " ".join(rnd.choice(VOCAB) for _ in range(rnd.randint(3, 80))),
            "topics": rnd.sample(TOPICS, rnd.randint(0, 2)),
            "places": rnd.sample(PLACES, rnd.randint(0, 2)),
            "source": rnd.choice(["wire", "paper", "<i>blog</i>"]),
        }
        if i % 7:  # every seventh article is undated
            record["date"] = f"{1987 + i % 30}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        records.append(record)
    # Two versions of one story, so collapse has something to do.
    records.append({"id": "story-a", "date": "2020-01-24", "title": "Oil price talks",
                    "body": "Ministers met for oil price talks in Vienna on Friday. " * 5})
    records.append({"id": "story-b", "date": "2020-01-25", "title": "Oil price talks resume",
                    "body": "Ministers met for oil price talks in Vienna on Friday. " * 5})
    return records


@pytest.fixture(scope="module")
def fuzz_index(tmp_path_factory, engine_name) -> Path:
    root = tmp_path_factory.mktemp("fuzz-index")
    source = write_jsonl(root / "src" / "articles.jsonl", fuzz_records())
    build_sources(root / "index", [source], engine_name)
    return root / "index"


@pytest.fixture(scope="module")
def view(fuzz_index, engine_name):
    with open_snapshot(fuzz_index, engine_name) as snapshot:
        yield snapshot


@pytest.fixture(scope="module")
def tight_view(fuzz_index, engine_name):
    """The same index with a tiny expansion cap, so wildcards hit ``query_too_expensive``."""
    with open_snapshot(fuzz_index, engine_name, max_terms=8) as snapshot:
        yield snapshot


@pytest.fixture(scope="module")
def api(fuzz_index, engine_name):
    client = make_client(fuzz_index, engine_name)
    yield client
    close_client(client)


# -- the hang detector -------------------------------------------------------------------------


class Hang(BaseException):
    """Raised by SIGALRM; a BaseException so no ``except Exception`` in the service eats it."""


@contextlib.contextmanager
def hang_guard(seconds: float = HANG_SECONDS):
    def on_alarm(signum, frame):
        raise Hang()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def bounded(fn, *args, seconds: float = HANG_SECONDS, what: str = "", **kwargs):
    """``fn(*args)``; an AssertionError (which hypothesis can shrink) if it takes over
    ``seconds``."""
    started = time.monotonic()
    try:
        with hang_guard(seconds):
            result = fn(*args, **kwargs)
    except Hang:
        raise AssertionError(f"no answer within {seconds} s: {what[:300]!r}") from None
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.1f} s: {what[:300]!r}"
    return result


# -- checks ------------------------------------------------------------------------------------

_MARK = re.compile(r"</?mark>")


def assert_html_safe(fragment: str) -> None:
    """Only ``<mark>``/``</mark>`` may be markup; everything else is escaped."""
    rest = _MARK.sub("", fragment)
    assert "<" not in rest and ">" not in rest, fragment[:300]


def assert_search_document(doc: dict) -> None:
    assert SEARCH_KEYS <= doc.keys(), sorted(doc)
    assert isinstance(doc["total"], int) and doc["total"] >= 0
    assert isinstance(doc["took_ms"], (int, float))
    assert isinstance(doc["hits"], list)
    for hit in doc["hits"]:
        assert HIT_KEYS <= hit.keys(), sorted(hit)
        assert isinstance(hit["id"], str) and isinstance(hit["title"], str)
        assert hit["date"] is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", hit["date"])
        assert_html_safe(hit["title_html"])
        assert isinstance(hit["snippets"], list)
        for snippet in hit["snippets"]:
            assert_html_safe(snippet)
    facets = doc["facets"]
    assert {"date", "topics", "places", "people", "orgs", "source"} <= facets.keys()
    assert facets["date"]["interval"] in ("day", "week", "month", "year")
    for name in ("topics", "places", "people", "orgs", "source"):
        for value in facets[name]:
            assert {"value", "count", "selected"} <= value.keys()
            assert isinstance(value["count"], int) and value["count"] >= 0
    dym = doc["did_you_mean"]
    assert dym is None or (isinstance(dym["q"], str) and assert_html_safe(dym["html"]) is None)


def core_search(v, params: dict, **parse_kwargs) -> dict | None:
    """Run the core on ``params``: the result document (checked), or None after a documented
    400 (anything else propagates and fails the test)."""
    what = json.dumps(params, ensure_ascii=False)[:300]

    def run():
        try:
            return search(v, parse_search_args(params, **parse_kwargs)).to_dict()
        except ServiceError as exc:
            assert exc.status == 400 and exc.code in SEARCH_400_CODES, (exc.status, exc.code,
                                                                        what)
            assert exc.detail and "Traceback" not in exc.detail
            return None
        except Exception as exc:  # a 500 through the API: report the input that caused it
            raise AssertionError(f"{type(exc).__name__}: {exc} for {what}") from exc

    doc = bounded(run, what=what)
    if doc is not None:
        json.dumps(doc)  # serialisable as the API would return it
        assert_search_document(doc)
    return doc


def assert_api_answer(resp, what: str = "") -> dict:
    """200 with the search document, or a 400 problem+json with a documented code."""
    body = resp.get_data(as_text=True)
    assert resp.status_code in (200, 400, 414), (resp.status_code, body[:500], what[:300])
    assert "Traceback" not in body
    doc = json.loads(body)
    if resp.status_code == 414:  # a documented limit: query strings over 16 KiB
        assert len(resp.request.query_string) > 16 * 1024
        assert resp.mimetype == PROBLEM_MIME and doc["code"] == "uri_too_long"
    elif resp.status_code == 200:
        assert resp.mimetype == "application/json"
        assert_search_document(doc)
    else:
        assert resp.mimetype == PROBLEM_MIME
        assert PROBLEM_KEYS <= doc.keys() and doc["status"] == 400
        assert doc["code"] in SEARCH_400_CODES, doc
    return doc


# -- query strategies --------------------------------------------------------------------------

OPERATORS = ["AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO", "and", "or", "&&", "||", "!"]
PUNCT = ['"', "'", "(", ")", "[", "]", "{", "}", ":", "*", "?", "~", "^", "+", "-", "\\", "/",
         "<", ">", "=", "&", "%", "#", ";", ",", ".", "…", "«", "»", "\u200b", "\ufeff"]
FIELDS = ["title:", "body:", "date:", "topics:", "places:", "people:", "orgs:", "source:",
          "id:", "nosuch:", "TITLE:", "url:", ":"]

vocab_word = st.sampled_from(VOCAB)
short_text = st.text(min_size=1, max_size=12)
word = st.one_of(vocab_word, vocab_word.map(str.upper), short_text)


@st.composite
def wildcarded(draw) -> str:
    """A word with ``*``/``?`` inserted anywhere (start, middle, end, several)."""
    w = draw(word)
    chars = list(w)
    for _ in range(draw(st.integers(1, 3))):
        chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from("*?")))
    return "".join(chars)


fuzzy_mark = st.one_of(st.sampled_from(["~", "~0", "~1", "~2"]),
                      st.from_regex(r"~\d?/\d{1,3}|~[3-9]", fullmatch=True))
fuzzy = st.tuples(word, fuzzy_mark).map("".join)
phrase = st.lists(word, min_size=0, max_size=5).map(lambda ws: '"' + " ".join(ws) + '"')
date_range = st.tuples(
    st.sampled_from(["[", "{"]),
    st.one_of(st.just(""), st.dates().map(str), short_text),
    st.one_of(st.just(""), st.dates().map(str), short_text),
    st.sampled_from(["]", "}", ""]),
).map(lambda t: f"date:{t[0]}{t[1]} TO {t[2]}{t[3]}")
token = st.one_of(
    word, wildcarded(), fuzzy, phrase, date_range,
    st.sampled_from(OPERATORS), st.sampled_from(PUNCT),
    st.tuples(st.sampled_from(FIELDS), st.one_of(word, wildcarded(), phrase)).map("".join),
    st.tuples(word, st.sampled_from(["^2", "^0", "^-1", "^1e308", "^nan", "^"])).map("".join),
)


@st.composite
def syntax_query(draw) -> str:
    tokens = draw(st.lists(token, max_size=25))
    seps = draw(st.lists(st.sampled_from([" ", " ", " ", "", "\t", "\n"]),
                         min_size=len(tokens), max_size=len(tokens)))
    return "".join(t + s for t, s in zip(tokens, seps, strict=True))


@st.composite
def nested(draw) -> str:
    depth = draw(st.integers(1, 400))
    inner = draw(st.one_of(word, syntax_query()))
    op = draw(st.sampled_from([" ", " AND ", " OR ", " NOT ", ""]))
    closing = draw(st.integers(0, depth))  # often unbalanced
    return ("(" + inner + op) * depth + ")" * closing


many_terms = st.lists(st.one_of(vocab_word, wildcarded(), fuzzy), min_size=100,
                      max_size=700).map(" ".join)
oversized = st.integers(2001, 100_000).flatmap(
    lambda n: st.sampled_from(["oil ", "a", "(", '"x', "*", "é"]).map(lambda s: (s * n)[:n]))

every_word_fuzzy = st.lists(st.tuples(word, fuzzy_mark), min_size=1,
                            max_size=30).map(lambda ws: " ".join(w + f for w, f in ws))
every_word_wild = st.lists(wildcarded(), min_size=1, max_size=30).map(" ".join)
query_text = st.one_of(st.text(max_size=300), syntax_query(), nested(), oversized,
                       every_word_fuzzy, every_word_wild)
# Long queries cost up to ~2 s each (did-you-mean and fuzzy automata on long words), so they
# have properties of their own with fewer examples.
long_query = st.one_of(many_terms.map(lambda s: s[:2000]),
                       st.text(alphabet=st.characters(codec="utf-8"), min_size=300,
                               max_size=2000))
LONG = settings(FUZZ, max_examples=25)

# -- 1a. queries → the core ----------------------------------------------------------------------


@FUZZ
@given(q=query_text)
def test_core_search_any_query_is_a_result_or_documented_400(view, q):
    doc = core_search(view, {"q": q})
    if len(q.strip()) > 2000:
        assert doc is None  # query_too_long, before any parsing


@FUZZ
@given(q=syntax_query(),
       sort=st.sampled_from(["relevance", "newest", "oldest"]),
       collapse=st.booleans(), page=st.integers(1, 3))
def test_core_search_syntax_with_options(view, q, sort, collapse, page):
    core_search(view, {"q": q, "sort": sort, "collapse": str(collapse),
                       "page": str(page), "per_page": "7"})


@settings(FUZZ, max_examples=100)
@given(q=st.lists(st.one_of(wildcarded(), fuzzy, vocab_word), min_size=1, max_size=40)
       .map(" ".join))
def test_core_expansion_cap_gives_query_too_expensive_not_a_crash(tight_view, q):
    try:
        bounded(lambda: search(tight_view, parse_search_args({"q": q})), what=q)
    except ServiceError as exc:
        assert exc.status == 400 and exc.code in SEARCH_400_CODES, (exc.code, q)


def test_core_expansion_cap_example(tight_view):
    with pytest.raises(ServiceError) as caught:
        search(tight_view, parse_search_args({"q": "a* b* c* d* e* o* p* s* t*"}))
    assert (caught.value.status, caught.value.code) == (400, "query_too_expensive")


@LONG
@given(q=long_query)
def test_core_long_queries_at_the_limit(view, q):
    core_search(view, {"q": q})


@LONG
@given(q=long_query)
def test_api_long_queries_at_the_limit(api, q):
    resp = bounded(api.get, "/api/search", query_string={"q": q}, what=q)
    assert_api_answer(resp, q)


@pytest.mark.parametrize("q", [
    "(" * 1000, ")" * 1000, "(" * 500 + "oil" + ")" * 500, "NOT " * 499 + "oil",
    '"' * 2000, "[" * 2000, "oil AND " * 249, "*" * 2000, "?" * 2000, "~" * 2000,
    "a*" * 1000, "*a" * 1000, "oil~ " * 400, "title:" * 333, "date:[" * 333,
    " ".join(["zq"] * 666), "é" * 2000, "石油" * 1000, "\u0301" * 2000, "x" * 2000,
])
def test_core_pathological_queries_at_the_size_limit(view, q):
    core_search(view, {"q": q})


@FUZZ
@given(q=oversized)
def test_core_oversized_query_is_query_too_long(view, q):
    with pytest.raises(ServiceError) as caught:
        bounded(lambda: parse_search_args({"q": q}), what=q[:50])
    assert (caught.value.status, caught.value.code) == (400, "query_too_long")


@pytest.mark.parametrize("q", ["abcdefghijklmnop~7", "abcdefghijklmnop~9/1",
                               "abcdefghijkl~6 mnopqrstuvwx~9"])
def test_fuzzy_edit_distance_is_bounded(view, q):
    """Once a DoS: ~7 on 16 letters built a Levenshtein automaton for over a minute. A normal
    fuzzy query takes milliseconds; 5 s allows a slow machine."""
    core_search_bounded(view, q, seconds=5)


@pytest.mark.parametrize("q", ["oil~1/4", "x~/2", "ab~2/3", "oil~/999"])
def test_fuzzy_prefix_longer_than_the_word(api, q):
    """Once a 500 (IndexError in Whoosh's Levenshtein automaton)."""
    assert_api_answer(api.get("/api/search", query_string={"q": q}), q)


@pytest.mark.parametrize("q", ['date:"x"', 'date:""', 'oil date:"x"', 'date:(2020 "x")'])
def test_date_field_phrase_is_not_a_500(api, q):
    """Once a 500 (Whoosh raised a bare Exception matching a phrase on the date field)."""
    assert_api_answer(api.get("/api/search", query_string={"q": q}), q)


def core_search_bounded(v, q: str, seconds: float) -> None:
    try:
        bounded(lambda: search(v, parse_search_args({"q": q})), seconds=seconds, what=q[:60])
    except ServiceError as exc:
        assert exc.status == 400, exc


@pytest.mark.parametrize("q", ["oil\udcff*", "\udcffoil~", "\udcff", "oil \ud800"])
def test_core_lone_surrogates_in_terms_do_not_crash(view, q):
    """Once UnicodeEncodeError (reachable from the CLI: searchsvc search $'oil\\xff*')."""
    core_search(view, {"q": q})


# -- 1b. queries → the HTTP API ------------------------------------------------------------------


@FUZZ
@given(q=query_text)
def test_api_search_any_query_is_200_or_documented_400(api, q):
    assume(len(q.encode("utf-8")) < 4000)  # longer ones are test_api_oversized_queries
    resp = bounded(api.get, "/api/search", query_string={"q": q}, what=q)
    assert_api_answer(resp, q)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(n=st.integers(2001, 100_000), unit=st.sampled_from(["a", "oil ", "(", "*", "é", "~"]))
def test_api_oversized_queries(api, n, unit):
    q = (unit * n)[:n]
    resp = bounded(api.get, "/api/search", query_string={"q": q}, what=q[:50])
    body = json.loads(resp.get_data(as_text=True))
    assert resp.mimetype == PROBLEM_MIME
    if len(resp.request.query_string) > 16 * 1024:
        assert (resp.status_code, body["code"]) == (414, "uri_too_long")
    else:
        assert (resp.status_code, body["code"]) == (400, "query_too_long")


@FUZZ
@given(raw=st.binary(max_size=300).map(lambda b: bytes(c & 0x7F for c in b)))
def test_api_raw_query_string_bytes(api, raw):
    """Any ASCII after ``?``: invalid percent escapes (of invalid UTF-8 too), NULs, controls.
    (gunicorn answers a raw byte ≥ 0x80 in the request line with its own 400.)"""
    resp = bounded(api.get, "/api/search", what=repr(raw),
                   environ_overrides={"QUERY_STRING": raw.decode("latin-1")})
    assert_api_answer(resp, repr(raw))


# -- 1c. every other search parameter ------------------------------------------------------------

PARAMS = ["from", "to", "sort", "page", "per_page", "interval", "collapse", "recency",
          "topics", "places", "people", "orgs", "source", "facet_size"]
numbers = st.one_of(
    st.integers(-10**6, 10**6).map(str), st.from_regex(r"[+-]?\d{1,40}", fullmatch=True),
    st.just("9" * 5000),
    st.sampled_from(["1e3", "0x10", "1_000", "١٢", "NaN", "inf", " 5 ", "10.0", "-0"]))
dates = st.one_of(st.dates().map(str), st.datetimes().map(str),
                  st.from_regex(r"\d{1,5}[-/.]\d{1,3}[-/.]\d{1,5}", fullmatch=True),
                  st.sampled_from(["24 Jan 2020", "January 24, 2020", "0000-00-00", "9999-12-31",
                                   "0001-01-01", "2020-02-30", "yesterday", "1e9", "Jan",
                                   "2020-01-24T25:61", "-2020-01-01"]))
valueish = st.one_of(
    st.text(max_size=60), numbers, dates,
    st.sampled_from(["relevance", "newest", "oldest", "auto", "day", "week", "month", "year",
                     "true", "false", "TRUE", "0", "1", "7d", "0d", "99999y", "1y", "30D",
                     "crude", "usa", "<script>", ""]),
    st.from_regex(r"\d{1,6}[dwmyh]", fullmatch=True),
)
params = st.dictionaries(st.sampled_from(PARAMS), st.lists(valueish, min_size=1, max_size=3),
                         max_size=6)


@FUZZ
@given(raw=st.binary(min_size=1, max_size=100))
def test_api_raw_non_ascii_query_string_is_not_a_500(api, raw):
    """Once a 500 (UnicodeDecodeError in request.args). gunicorn rejects such a request line
    itself; another WSGI server may pass it on."""
    resp = api.get("/api/search", environ_overrides={"QUERY_STRING": raw.decode("latin-1")})
    assert_api_answer(resp, repr(raw))


@FUZZ
@given(args=params, q=st.one_of(st.just(""), vocab_word, syntax_query()))
def test_core_any_parameters_are_a_result_or_documented_400(view, args, q):
    args = {k: v for k, v in args.items() if k != "facet_size"}
    core_search(view, {**args, "q": q})


@FUZZ
@given(args=params, q=st.one_of(st.just(""), vocab_word, syntax_query()))
def test_api_any_parameters_are_200_or_documented_400(api, args, q):
    query = {**args, "q": q}
    resp = bounded(api.get, "/api/search", query_string=query, what=repr(query))
    assert_api_answer(resp, repr(query))


@FUZZ
@given(path=st.text(min_size=1, max_size=80), limit=st.one_of(st.just(None), numbers),
       prefix=st.text(max_size=250))
def test_api_other_endpoints_never_500(api, path, limit, prefix):
    extra = {} if limit is None else {"limit": limit}
    path = quote(path, safe="/")
    for url, qs in [(f"/api/articles/{path}", {}), (f"/api/articles/{path}/related", extra),
                    ("/api/suggest", {"q": prefix, **extra})]:
        resp = bounded(api.get, url, query_string=qs, what=url)
        body = resp.get_data(as_text=True)
        assert resp.status_code in (200, 400, 404, 405), (url, resp.status_code, body[:300])
        assert "Traceback" not in body
        json.loads(body)
        expected = "application/json" if resp.status_code == 200 else PROBLEM_MIME
        assert resp.mimetype == expected, (url, resp.status_code)


@pytest.mark.parametrize("url", ["/api//search", "/api/articles//doc1", "/api//health"])
def test_api_double_slash_is_json(api, url):
    """Once werkzeug's merge_slashes 308 redirect, with a text/html body."""
    resp = api.get(url)
    assert resp.mimetype in ("application/json", PROBLEM_MIME), (resp.status_code, resp.mimetype)


# -- 1d. article files → readers and indexer -----------------------------------------------------

good_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                    min_size=1, max_size=200)
safe_name = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "Zs", "Pd")),
                    min_size=1, max_size=20).map(str.strip).filter(
                        lambda s: s and not s.startswith(".") and "/" not in s)


def _marker(n: int) -> str:
    return "".join("bcdfghjklmnpqrstvwxz"[int(d)] for d in f"{n:04d}") + "qu"


@st.composite
def corpus(draw) -> dict:
    """A source tree of good and bad article files, described (written by ``write_corpus``)."""
    files: list[tuple[str, bytes, str | None]] = []  # (relative path, content, good id or None)
    n_good = draw(st.integers(1, 6))
    used: set[str] = set()
    for i in range(n_good):
        depth = draw(st.integers(0, 3))
        parts = [draw(safe_name) for _ in range(depth)] + [draw(safe_name) + f" {i}"]
        rel = "/".join(parts)
        if rel.lower() in used:
            continue
        used.add(rel.lower())
        body = draw(good_text).replace("\r", " ")
        line = "word " * draw(st.sampled_from([0, 0, 10_000]))  # sometimes a 50 KB line
        text = f"date 2020-01-{1 + i:02d}\n\nHeadline {_marker(i)}\n\n{_marker(i)} {body} {line}\n"
        files.append((rel + ".txt", text.encode("utf-8"), rel))
    records = [{"id": f"j{i} {draw(safe_name)}", "body": f"{_marker(100 + i)} " + draw(good_text),
                "date": "2021-05-06", "topics": [draw(safe_name)]}
               for i in range(draw(st.integers(0, 4)))]
    good_lines = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in records]
    bad_lines = draw(st.lists(st.binary(max_size=80).filter(lambda b: b"\n" not in b),
                              max_size=4))
    lines = good_lines + bad_lines
    order = draw(st.permutations(range(len(lines)))) if lines else []
    jsonl = b"\n".join(lines[k] for k in order)
    files.append((f"{draw(safe_name)} feed.jsonl", jsonl, None))
    for k in range(draw(st.integers(0, 3))):  # random bytes
        files.append((f"junk {k}.{draw(st.sampled_from(['txt', 'jsonl']))}",
                       draw(st.binary(max_size=300)), None))
    for k in range(draw(st.integers(0, 2))):  # good text cut in the middle of a UTF-8 sequence
        encoded = f"date 2020-02-0{1 + k}\n\nÉtat {_marker(200 + k)} ünïcödé 石油".encode()
        files.append((f"cut {k}.txt", encoded[: draw(st.integers(1, len(encoded) - 1))], None))
    return {"files": files, "jsonl_ids": {r["id"] for r in records},
            "huge_line": draw(st.booleans()), "symlinks": draw(st.booleans())}


OUTSIDE_MARKER = "exfiltratedqu"


def write_corpus(root: Path, spec: dict) -> tuple[Path, set[str]]:
    src = root / "src"
    src.mkdir()
    good: set[str] = set(spec["jsonl_ids"])
    for rel, content, good_id in spec["files"]:
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if good_id is not None:
            good.add(good_id)
    if spec["huge_line"]:  # one JSONL line over the size limit (build runs with 64 KB)
        (src / "huge.jsonl").write_text(
            json.dumps({"id": "huge", "body": "x" * 100_000}) + "\n", "utf-8")
    if spec["symlinks"]:
        outside = root / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_text(f"date 2020-01-01\n\n{OUTSIDE_MARKER} secret\n")
        (outside / "secret.jsonl").write_text(
            json.dumps({"id": "secret", "body": OUTSIDE_MARKER}) + "\n")
        os.symlink(outside / "secret.txt", src / "link to secret.txt")
        os.symlink(outside / "secret.jsonl", src / "link.jsonl")
        os.symlink(outside, src / "linked folder")
        os.symlink("/etc/passwd", src / "passwd.txt")
    return src, good


def indexed_ids(index_dir: Path) -> set[str]:
    with open_snapshot(index_dir) as snapshot:
        return doc_ids(snapshot)


def build(index_dir: Path, sources, **kwargs):
    return build_sources(index_dir, sources, **kwargs)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(spec=corpus())
def test_build_reports_bad_files_and_indexes_every_good_one(spec):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src, good = write_corpus(root, spec)
        report = bounded(build, root / "index", [src], max_bytes=64 * 1024, what="build")
        ids = indexed_ids(root / "index")
        assert good <= ids, f"good articles missing: {sorted(good - ids)}; {report.to_dict()}"
        assert not any(i.startswith(("link", "secret", "passwd")) for i in ids), ids
        assert report.documents == len(ids)
        reported = {Path(p.path).name for p in report.skipped}
        if spec["huge_line"]:
            assert "huge" not in ids and "huge.jsonl" in reported
        if spec["symlinks"]:
            assert {"link to secret.txt", "link.jsonl", "linked folder",
                    "passwd.txt"} <= reported, reported
        # every file is accounted for: indexed, or reported
        for rel, _content, good_id in spec["files"]:
            if good_id is None and rel.endswith(".txt"):
                article_id = rel[: -len(".txt")]
                assert article_id in ids or Path(rel).name in reported, (rel, report.to_dict())


def test_build_deterministic_nasty_corpus(tmp_path):
    """The same hazards, fixed: every hazard reported once, every good file indexed."""
    src = tmp_path / "src"
    (src / "a b" / "ünï cödé" / "深い").mkdir(parents=True)
    good = {
        "a b/ünï cödé/深い/記事 one": "date 2020-01-24\n\nFirst\n\nBody one.\n",
        "space name": "\ufeffdate 24 Jan 2020\n\nSecond\n\nBody two " + "word " * 10_000,
        "a b/plain": "   date January 24, 2020 body three.\n",
    }
    for rel, text in good.items():
        (src / f"{rel}.txt").write_text(text, "utf-8")
    (src / "random.txt").write_bytes(bytes(random.Random(3).randrange(256) for _ in range(4096)))
    (src / "nul.txt").write_bytes(b"date 2020-01-01\n\nhello\x00world")
    (src / "cut.txt").write_bytes("date 2020-01-01\n\n石油".encode()[:-1])
    (src / "nodate.txt").write_text("no header here", "utf-8")
    (src / "big.txt").write_text("date 2020-01-01\n\n" + "x" * 200_000, "utf-8")
    write_jsonl(src / "feed.jsonl", [{"id": "j1", "body": "jsonl body", "date": "2020-03-04"}])
    with (src / "feed.jsonl").open("ab") as fh:
        fh.write(b'{"id": "j2", "body": "trunc\n')  # malformed
        fh.write(b"\xff\xfe\x00garbage\n")
        fh.write(json.dumps({"id": "j3", "body": "y" * 200_000}).encode() + b"\n")  # enormous
        fh.write(json.dumps({"id": "j4", "body": "last good"}).encode() + b"\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"date 2020-01-01\n\n{OUTSIDE_MARKER}\n", "utf-8")
    os.symlink(outside / "secret.txt", src / "secret.txt")
    os.symlink(outside, src / "elsewhere")
    os.symlink("../outside/secret.txt", src / "a b" / "relative.txt")

    report = build(tmp_path / "index", [src], max_bytes=100_000)
    ids = indexed_ids(tmp_path / "index")
    assert ids - {"cut"} == set(good) | {"j1", "j4"}, (ids, report.to_dict())
    skipped = {(Path(p.path).name, p.line) for p in report.skipped}
    for name in ("random.txt", "nul.txt", "nodate.txt", "big.txt", "secret.txt", "elsewhere",
                 "relative.txt"):
        assert any(n == name for n, _ in skipped), (name, skipped)
    assert {("feed.jsonl", 2), ("feed.jsonl", 3), ("feed.jsonl", 4)} <= skipped, skipped
    # cut.txt: not valid UTF-8; cp1252 cannot decode it either (0x8f/0x81 are undefined), or it
    # is indexed with a warning — either way it is accounted for.
    assert "cut" in ids or any(n == "cut.txt" for n, _ in skipped)


def test_build_survives_a_file_name_that_is_not_utf8(tmp_path):
    """Once a failed build (UnicodeEncodeError: a surrogate in the id)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.txt").write_text("date 2020-01-02\n\nGood\n\nA good article.\n", "utf-8")
    with open(os.path.join(os.fsencode(src), b"bad\xff name.txt"), "wb") as fh:
        fh.write(b"date 2020-01-02\n\nHello\n\nA good article under a bad name.\n")
    report = build(tmp_path / "index", [src])
    assert "good" in indexed_ids(tmp_path / "index")
    assert report.problems


# -- 2. schemathesis: the OpenAPI document against the app -----------------------------------------

# Built at import (schemathesis needs the app to load the schema); the index is attached by the
# fixture below. Nothing is opened until a request is made.
SCHEMA_APP = create_app({"TESTING": True, "INDEX": os.devnull})
schema = (schemathesis.openapi.from_wsgi("/api/openapi.json", SCHEMA_APP)
          # The admin endpoints: no admin token configured, so 404 (test_security.py and
          # test_api.py cover them with a token).
          .exclude(path="/api/reindex")
          .exclude(path="/api/articles", method="POST")
          .exclude(path="/api/articles/{id}", method="DELETE"))
load_all_checks()
POSITIVE_ACCEPTANCE = CHECKS.get_by_names(["positive_data_acceptance"])
NEGATIVE_REJECTION = CHECKS.get_by_names(["negative_data_rejection"])


@pytest.fixture(scope="module")
def schema_index(fuzz_index, engine_name):
    engine = SCHEMA_APP.extensions["searchsvc"]
    SCHEMA_APP.extensions["searchsvc"] = open_engine(fuzz_index, engine_name,
                                                     max_terms=SCHEMA_APP.config["MAX_TERMS"])
    yield
    SCHEMA_APP.extensions["searchsvc"].close()
    SCHEMA_APP.extensions["searchsvc"] = engine


# 400s for rules the README documents but a JSON schema cannot state: dates in any spelling
# dateutil reads (so not every string is one), from ≤ to, the size and cost limits, and
# page × per_page ≤ 10,000.
_BEYOND_SCHEMA_CODES = {"query_too_long", "result_window_too_large", "too_many_buckets",
                        "query_too_expensive"}
_BEYOND_SCHEMA_DETAIL = re.compile(
    r"^(from|to)[: ]|^q must not contain NUL"
    # A blank value means absent, so a timeline of blank queries has none; export's fields
    # are names of columns, comma-separated.
    r"|^timeline needs at least one q|^fields: unknown ")


def _explained_rejection(case, response) -> bool:
    if response.status_code != 400:
        return False
    problem = response.json()
    if problem.get("code") in _BEYOND_SCHEMA_CODES:
        return True
    return problem.get("code") == "invalid_parameter" and bool(
        _BEYOND_SCHEMA_DETAIL.match(problem.get("detail", "")))


@schema.parametrize()
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_openapi_schemathesis(case, schema_index):
    """schemathesis's checks, positive and negative (schema-violating) requests: never a 5xx;
    status codes, content types, headers and bodies as documented; schema-valid requests
    accepted unless the README documents a rule beyond the schema (above).

    Not ``negative_data_rejection``: the API is deliberately lenient — a blank value means
    absent, enums ignore case and surrounding spaces, unknown parameters are ignored — and once
    serialised into a query string many of schemathesis's type violations (a boolean or number
    for a string, an empty object) are valid strings, so "schema-violating request accepted" is
    noise here. That every bad value of every parameter is a documented 400 is what the
    properties above assert.
    """
    response = bounded(case.call, what=str(case.query))
    excluded = list(NEGATIVE_REJECTION)
    if _explained_rejection(case, response):
        excluded += POSITIVE_ACCEPTANCE
    if case.operation.path == "/api/articles/{id}/related":
        # Article ids may contain "/", so DELETE /api/articles/{id} also matches
        # ".../related" (an article named so), and OPTIONS advertises DELETE here.
        excluded += CHECKS.get_by_names(["allow_header_conformance"])
    case.validate_response(response, excluded_checks=excluded)


def test_openapi_documents_the_endpoints_added_with_the_restructure(api):
    doc = api.get("/api/openapi.json").json
    paths = doc["paths"]
    assert "post" in paths["/api/articles"]
    assert "delete" in paths["/api/articles/{id}"]
    assert "get" in paths["/api/builds/last"]
    assert [p for p in paths if p.startswith("/api/builds/{")]
    accepted = paths["/api/reindex"]["post"]["responses"]["202"]
    schema = accepted["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert "build" in schema.get("properties", {})


@pytest.mark.parametrize("recency", ["0d", "00w", "00000y", "99999y", "7d"])
def test_openapi_recency_pattern_matches_what_the_api_accepts(api, recency):
    """Once a mismatch: the pattern allowed 0d, which the API rejected."""
    pattern = api.get("/api/openapi.json").json["paths"]["/api/search"]["get"]["parameters"]
    spec = next(p for p in pattern if p["name"] == "recency")["schema"]["pattern"]
    assert re.search(spec, recency)  # documented as valid…
    assert api.get("/api/search", query_string={"recency": recency}).status_code == 200  # …so
