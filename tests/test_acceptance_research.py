"""Acceptance checks of issue 15 (research tools) over the HTTP API: the timeline, export, the
Atom feed, proximity and distinctive terms — shapes, numbers worked out by hand from the small
archives below, and every non-JSON format read back with the standard parsers (``csv``,
``json``, ``xml.etree``).

Each archive is served by a module-scoped Flask client on the engine ``engine_name`` names.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode, urlsplit

import pytest
from support.index import build_index
from support.paths import ROOT
from support.web import close_client, make_client

PROBLEM = "application/problem+json"


def ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return response.get_json()


def problem(response, status: int = 400) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    return response.get_json()


def get(client, path: str, **params) -> object:
    return client.get(f"{path}?{urlencode(params, doseq=True)}" if params else path)


@pytest.fixture(scope="module")
def serve_module(tmp_path_factory, engine_name):
    """``serve_module(name, records)``: a client over a fresh index, closed with the module."""
    made = []

    def _serve(name: str, records: list[dict]):
        index_dir = build_index(tmp_path_factory.mktemp(name), records, engine_name)
        made.append(make_client(index_dir, engine_name))
        return made[-1]

    yield _serve
    for client in made:
        close_client(client)


# -- 1. GET /api/timeline --------------------------------------------------------------------------
# January: 4 articles (2 about oil), February: 2 (1 about oil), March: none, April: 2 (none about
# oil); an undated oil note is in no bucket.

TIMELINE = [
    {"id": "jan-oil-1", "date": "2020-01-03", "body": "Oil prices rose.", "topics": ["crude"]},
    {"id": "jan-oil-2", "date": "2020-01-17", "body": "Oil output fell.", "topics": ["crude"]},
    {"id": "jan-grain", "date": "2020-01-20", "body": "Wheat and grain exports rose.",
     "topics": ["grain"]},
    {"id": "jan-other", "date": "2020-01-28", "body": "The central bank held rates.",
     "topics": ["crude"]},
    {"id": "feb-oil", "date": "2020-02-11", "body": "Oil tankers waited.", "topics": ["ship"]},
    {"id": "feb-other", "date": "2020-02-12", "body": "Coffee harvest news.", "topics": ["ship"]},
    {"id": "apr-grain", "date": "2020-04-02", "body": "Grain silos filled.", "topics": ["grain"]},
    {"id": "apr-other", "date": "2020-04-30", "body": "Gold mining strike.", "topics": ["gold"]},
    {"id": "undated-oil", "body": "An undated note about oil.", "topics": ["crude"]},
]
MONTHS = ["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"]


@pytest.fixture(scope="module")
def timeline_app(serve_module):
    return serve_module("timeline", TIMELINE)


def series(doc: dict, label: str) -> list[tuple[str, int, float]]:
    [found] = [s for s in doc["series"] if s["label"] == label]
    return [(b["value"], b["count"], b["share"]) for b in found["buckets"]]


def test_timeline_counts_and_shares_each_query_against_all_articles_of_the_bucket(timeline_app):
    doc = ok(get(timeline_app, "/api/timeline", q=["oil", "grain"], interval="month"))
    assert doc["interval"] == "month"
    assert [(b["value"], b["from"], b["to"], b["count"]) for b in doc["all"]] == [
        ("2020-01-01", "2020-01-01", "2020-01-31", 4), ("2020-02-01", "2020-02-01",
                                                        "2020-02-29", 2),
        ("2020-03-01", "2020-03-01", "2020-03-31", 0), ("2020-04-01", "2020-04-01",
                                                        "2020-04-30", 2)]
    assert [s["q"] for s in doc["series"]] == ["oil", "grain"]
    assert series(doc, "oil") == [(MONTHS[0], 2, 0.5), (MONTHS[1], 1, 0.5), (MONTHS[2], 0, 0.0),
                                  (MONTHS[3], 0, 0.0)]
    assert series(doc, "grain") == [(MONTHS[0], 1, 0.25), (MONTHS[1], 0, 0.0),
                                    (MONTHS[2], 0, 0.0), (MONTHS[3], 1, 0.5)]
    for s in doc["series"]:  # every series has the buckets of "all", in a chart's order
        assert [(b["value"], b["from"], b["to"]) for b in s["buckets"]] == [
            (b["value"], b["from"], b["to"]) for b in doc["all"]]


def test_timeline_labels_a_query_written_label_colon_query_but_not_a_field_query(timeline_app):
    doc = ok(get(timeline_app, "/api/timeline", q=["crude oil:oil", "energy:oil",
                                                  "body:grain"], interval="month"))
    assert [(s["label"], s["q"]) for s in doc["series"]] == [
        ("crude oil:oil", "crude oil:oil"),  # a label is one word
        ("energy", "oil"), ("body:grain", "body:grain")]
    assert series(doc, "energy") == series(ok(get(timeline_app, "/api/timeline", q="oil",
                                                  interval="month")), "oil")
    assert [c for _, c, _ in series(doc, "body:grain")] == [1, 0, 0, 1]


def test_timeline_respects_the_facet_filters_in_counts_and_shares(timeline_app):
    doc = ok(get(timeline_app, "/api/timeline", q="oil", topics="crude", interval="month"))
    # crude: jan-oil-1, jan-oil-2, jan-other (and the undated note): one month, oil 2 of 3.
    assert [(b["value"], b["count"]) for b in doc["all"]] == [(MONTHS[0], 3)]
    assert series(doc, "oil") == [(MONTHS[0], 2, round(2 / 3, 6))]


def test_timeline_respects_from_and_to(timeline_app):
    dated = ok(get(timeline_app, "/api/timeline", q="oil", interval="month",
                   **{"from": "2020-02-01", "to": "2020-04-30"}))
    assert [b["value"] for b in dated["all"]] == MONTHS[1:]
    assert [c for _, c, _ in series(dated, "oil")] == [1, 0, 0]


def test_timeline_buckets_and_auto_interval_follow_from_and_to(timeline_app):
    # The whole archive (January to April) is charted by week; 10 January to 20 February
    # is 42 days, so by day, from the first day of the range to its last, empty days included.
    assert ok(get(timeline_app, "/api/timeline", q="oil"))["interval"] == "week"
    doc = ok(get(timeline_app, "/api/timeline", q="oil",
                 **{"from": "2020-01-10", "to": "2020-02-20"}))
    assert doc["interval"] == "day"
    days = [b["value"] for b in doc["all"]]
    assert days[0] == "2020-01-10" and days[-1] == "2020-02-20" and len(days) == 42
    assert {v: c for v, c, _ in series(doc, "oil") if c} == {"2020-01-17": 1, "2020-02-11": 1}
    # Months cut by the range count only their part of it, and say which part.
    monthly = ok(get(timeline_app, "/api/timeline", q="oil", interval="month",
                     **{"from": "2020-01-10", "to": "2020-02-20"}))
    assert [(b["value"], b["from"], b["to"], b["count"]) for b in monthly["all"]] == [
        ("2020-01-01", "2020-01-10", "2020-01-31", 3), ("2020-02-01", "2020-02-01",
                                                        "2020-02-20", 2)]
    assert series(monthly, "oil") == [(MONTHS[0], 1, round(1 / 3, 6)), (MONTHS[1], 1, 0.5)]


def test_every_timeline_query_is_held_to_the_query_length_limit(timeline_app):
    too_long = " ".join(["oil"] * 700)  # 2,799 characters; the default limit is 2,000
    for queries in ([too_long, "grain"], ["grain", too_long]):
        doc = problem(get(timeline_app, "/api/timeline", q=queries))
        assert doc["code"] == "query_too_long", queries


def test_timeline_interval_day_buckets_are_days(timeline_app):
    doc = ok(get(timeline_app, "/api/timeline", q="oil", interval="day", topics="crude"))
    assert doc["interval"] == "day"
    days = [b["value"] for b in doc["all"]]
    assert days[0] == "2020-01-03" and days[-1] == "2020-01-28" and len(days) == 26
    assert [b["to"] for b in doc["all"]] == days  # a day bucket is one day
    counts = {v: c for v, c, _ in series(doc, "oil") if c}
    assert counts == {"2020-01-03": 1, "2020-01-17": 1}


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": ["a", "b", "c", "d", "e", "f"]},
                                    {"q": "oil", "interval": "hour"},
                                    {"q": "oil", "format": "xml"}])
def test_timeline_without_a_query_with_more_than_five_or_bad_values_is_a_400(timeline_app,
                                                                              params):
    doc = problem(get(timeline_app, "/api/timeline", **params))
    assert doc["code"] == "invalid_parameter" and doc["detail"]


@pytest.mark.parametrize("how", ["format", "accept"])
def test_timeline_csv_is_the_same_table_read_with_the_csv_module(timeline_app, how):
    params = {"q": ["oil", "grains:grain"], "interval": "month"}
    doc = ok(get(timeline_app, "/api/timeline", **params))
    if how == "format":
        response = get(timeline_app, "/api/timeline", format="csv", **params)
    else:
        response = timeline_app.get(f"/api/timeline?{urlencode(params, doseq=True)}",
                                    headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers.get("Content-Disposition", "")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["bucket"] for r in rows] == [b["value"] for b in doc["all"]]
    assert [int(r["all"]) for r in rows] == [b["count"] for b in doc["all"]]
    for s in doc["series"]:
        assert [int(r[f"{s['label']} count"]) for r in rows] == [b["count"] for b in s["buckets"]]
        assert [float(r[f"{s['label']} share"]) for r in rows] == [
            b["share"] for b in s["buckets"]]


# -- 2. GET /api/export ----------------------------------------------------------------------------

DEFAULT_COLUMNS = ["id", "date", "title", "url", "source", "topics", "places", "people", "orgs",
                   "story"]
EXPORT = [
    {"id": f"e{i:02d}", "date": f"2021-03-{1 + i % 5:02d}", "title": f"Harbour report {i}",
     "body": f"Harbour traffic note {i}, with \"quotes\", commas, and a\nsecond line.",
     "topics": ["ship", "port"] if i % 2 else ["ship"], "places": ["uk"], "source": "wire",
     "url": f"https://news.example/{i}"} for i in range(23)
] + [{"id": "other", "date": "2021-03-02", "title": "Unrelated", "body": "Coffee prices."},
     {"id": "undated", "title": "Undated harbour memo", "body": "A harbour memo."}]
HARBOUR = {r["id"] for r in EXPORT if "harbour" in r["body"].lower()}


@pytest.fixture(scope="module")
def export_app(serve_module):
    return serve_module("export", EXPORT)


def ndjson_rows(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/x-ndjson"
    text = response.get_data(as_text=True)
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))


def test_export_ndjson_has_every_match_with_the_documented_columns(export_app):
    rows = ndjson_rows(get(export_app, "/api/export", q="harbour", format="ndjson"))
    assert {r["id"] for r in rows} == HARBOUR and len(rows) == len(HARBOUR)
    assert all(list(r) == DEFAULT_COLUMNS for r in rows)  # no body unless asked for
    by_id = {r["id"]: r for r in rows}
    e3 = by_id["e03"]
    assert (e3["date"], e3["title"], e3["url"], e3["source"]) == (
        "2021-03-04", "Harbour report 3", "https://news.example/3", "wire")
    assert (e3["topics"], e3["places"], e3["people"]) == (["ship", "port"], ["uk"], [])
    assert by_id["undated"]["date"] is None
    story = ok(export_app.get("/api/search?q=harbour&collapse=false&per_page=100"))
    stories = {h["id"]: h["story"]["id"] for h in story["hits"]}
    assert {r["id"]: r["story"] for r in rows} == stories


def test_export_csv_is_the_same_records_read_with_the_csv_module(export_app):
    params = {"q": "harbour", "fields": "+body"}
    records = ndjson_rows(get(export_app, "/api/export", format="ndjson", **params))
    rows = csv_rows(get(export_app, "/api/export", format="csv", **params))
    assert [r["id"] for r in rows] == [r["id"] for r in records]  # the same stable order
    assert list(rows[0]) == [*DEFAULT_COLUMNS, "body"]
    for row, record in zip(rows, records, strict=True):
        assert row["body"] == record["body"]  # quotes, commas and line breaks survive
        assert row["topics"] == "; ".join(record["topics"])
        assert row["date"] == (record["date"] or "")


FORMULAS = [
    {"id": "f-link", "date": "2021-04-01", "title": '=HYPERLINK("http://evil.example","Open")',
     "body": "Tanker formula one.", "source": "@wire"},
    {"id": "f-plus", "date": "2021-04-02", "title": "+44 line to the tanker desk",
     "body": "Tanker formula two.", "topics": ["-cmd"]},
    {"id": "f-tab", "date": "2021-04-03", "title": "\t=1+1", "body": "Tanker formula three."},
    {"id": "f-number", "date": "2021-04-04", "title": "-3.5",
     "body": "Tanker formula four."},
    {"id": "f-plain", "date": "2021-04-05", "title": "Tanker rates = steady",
     "body": "Tanker formula five."},
]


def test_export_csv_writes_what_a_spreadsheet_would_run_as_text(serve_module):
    # A title, a source or a facet value a spreadsheet would read as a formula gets a leading
    # ' (shown as text); a plain number or a formula sign inside the text is left alone, and
    # the NDJSON export keeps every value as indexed.
    app = serve_module("formulas", FORMULAS)
    records = {r["id"]: r for r in ndjson_rows(get(app, "/api/export", q="tanker",
                                                   format="ndjson"))}
    rows = {r["id"]: r for r in csv_rows(get(app, "/api/export", q="tanker", format="csv"))}
    assert set(rows) == set(records) == {a["id"] for a in FORMULAS}
    assert records["f-link"]["title"] == FORMULAS[0]["title"]
    assert rows["f-link"]["title"] == "'" + FORMULAS[0]["title"]
    assert rows["f-link"]["source"] == "'@wire"
    assert rows["f-plus"]["title"] == "'+44 line to the tanker desk"
    assert rows["f-tab"]["title"] == "'" + records["f-tab"]["title"]
    assert rows["f-plus"]["topics"] == "'" + "; ".join(records["f-plus"]["topics"])
    assert rows["f-number"]["title"] == "-3.5"
    assert rows["f-plain"]["title"] == "Tanker rates = steady"


def test_timeline_csv_writes_a_formula_label_as_text(timeline_app):
    params = {"q": ["=2+3:oil", "grain"], "interval": "month", "format": "csv"}
    response = get(timeline_app, "/api/timeline", **params)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header[4:] == ["'=2+3 count", "'=2+3 share", "grain count", "grain share"]


def test_export_fields_choose_the_columns_and_an_unknown_one_is_a_400(export_app):
    rows = ndjson_rows(get(export_app, "/api/export", q="harbour", fields="id,title"))
    assert all(list(r) == ["id", "title"] for r in rows)
    doc = problem(get(export_app, "/api/export", q="harbour", fields="id,secret"))
    assert "secret" in doc["detail"]
    problem(get(export_app, "/api/export", q="harbour", format="xlsx"))


def test_export_order_is_stable_and_is_the_search_order_page_after_page(export_app):
    params = {"q": "harbour", "sort": "newest"}
    first = get(export_app, "/api/export", **params).get_data()
    assert get(export_app, "/api/export", **params).get_data() == first
    exported = [r["id"] for r in ndjson_rows(get(export_app, "/api/export", **params))]
    paged = []
    for page in range(1, 10):
        hits = ok(get(export_app, "/api/search", collapse="false", per_page="4", page=page,
                      **params))["hits"]
        paged += [h["id"] for h in hits]
    assert paged == exported  # the pages of the search, concatenated: nothing lost or repeated
    dates = [r["date"] for r in ndjson_rows(get(export_app, "/api/export", **params))]
    assert [d for d in dates if d] == sorted((d for d in dates if d), reverse=True)
    assert dates[-1] is None  # undated last


def test_export_honours_the_filters(export_app):
    rows = ndjson_rows(get(export_app, "/api/export", q="harbour", topics="port",
                           **{"from": "2021-03-02", "to": "2021-03-03"}))
    expected = {r["id"] for r in EXPORT if "port" in r.get("topics", []) and
                r.get("date") in ("2021-03-02", "2021-03-03")}
    assert {r["id"] for r in rows} == expected and expected


def test_export_ignores_the_page_a_search_link_was_on(export_app):
    # An export link copied from page 3 (or from a URL past the search's window) is still
    # every match, not that page and not a result_window_too_large.
    everything = [r["id"] for r in ndjson_rows(get(export_app, "/api/export", q="harbour"))]
    for paging in ({"page": "3", "per_page": "5"}, {"page": "500", "per_page": "100"},
                   {"page": "0", "per_page": "0"}):
        rows = ndjson_rows(get(export_app, "/api/export", q="harbour", **paging))
        assert [r["id"] for r in rows] == everything, paging
    assert len(everything) == len(HARBOUR)


def test_export_names_a_file_and_the_generation_it_was_made_from(export_app):
    generation = ok(export_app.get("/api/health"))["generation"]
    for fmt in ("csv", "ndjson"):
        response = get(export_app, "/api/export", q="harbour", format=fmt)
        assert response.status_code == 200 and response.get_data()
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment")
        name = re.search(r'filename="([^"]+)"', disposition)
        assert name and name.group(1).endswith(f".{fmt}") and "/" not in name.group(1)
        assert response.headers["X-Index-Generation"] == generation


def test_export_streams_every_match_beyond_the_10000_result_window(make_index, app_for):
    n = 10_050
    index_dir = make_index([{"id": f"x{i:05d}", "date": f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}",
                             "body": f"zebulon note {i}"} for i in range(n)])
    client = app_for(index_dir)
    # The search refuses to page that far …
    assert problem(get(client, "/api/search", q="zebulon", page="101", per_page="100"))[
        "code"] == "result_window_too_large"
    # … the export has every one, once.
    exported = [r["id"] for r in ndjson_rows(get(client, "/api/export", q="zebulon",
                                                 fields="id"))]
    assert len(exported) == n and len(set(exported)) == n
    rows = csv_rows(get(client, "/api/export", q="zebulon", format="csv", fields="id"))
    assert [r["id"] for r in rows] == exported


# -- 3. GET /api/feed.atom -------------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
START = dt.date(2021, 1, 1)
FEED = [
    *({"id": f"w{i:02d}", "date": (START + dt.timedelta(days=i)).isoformat(),
       "title": f"Wire item {i}", "body": f"Zebulon wire item number {i}.", "topics": ["wire"]}
      for i in range(55)),
    {"id": "hostile", "date": "2021-03-30",
     "title": "Zebulon <script>alert(1)</script> & \"co\"",
     "body": "Zebulon <b>bold</b> & <script>alert('x')</script> text."},
    {"id": "nomatch", "date": "2021-04-01", "title": "Other", "body": "Nothing to see."},
]


@pytest.fixture(scope="module")
def feed_app(serve_module):
    return serve_module("feed", FEED)


def parse_feed(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == f"{ATOM}feed"
    return root


def text_of(element: ET.Element, name: str) -> str:
    found = element.find(f"{ATOM}{name}")
    assert found is not None, f"<{element.tag}> has no <{name}>"
    assert found.text and found.text.strip(), f"<{name}> is empty"
    return found.text


def test_the_feed_has_every_element_atom_requires(feed_app):
    root = parse_feed(get(feed_app, "/api/feed.atom", q="zebulon"))
    assert text_of(root, "id").startswith("http")
    assert "zebulon" in text_of(root, "title").lower()
    assert RFC3339.fullmatch(text_of(root, "updated"))
    # Atom: a feed without an author needs one in every entry.
    assert root.find(f"{ATOM}author/{ATOM}name") is not None or all(
        e.find(f"{ATOM}author/{ATOM}name") is not None for e in root.iter(f"{ATOM}entry"))
    links = {link.get("rel", "alternate"): link.get("href") for link in root.iter(f"{ATOM}link")
             if link in list(root)}
    assert "self" in links and "/api/feed.atom" in links["self"]
    entries = root.findall(f"{ATOM}entry")
    assert entries
    entry_ids = []
    for entry in entries:
        entry_ids.append(text_of(entry, "id"))
        text_of(entry, "title")
        assert RFC3339.fullmatch(text_of(entry, "updated"))
        [alternate] = [link for link in entry.findall(f"{ATOM}link")
                       if link.get("rel", "alternate") == "alternate"]
        href = alternate.get("href")
        assert urlsplit(href).scheme in ("http", "https")
        page = feed_app.get(urlsplit(href).path)  # the link opens the article page
        assert page.status_code == 200 and page.mimetype == "text/html"
    assert len(set(entry_ids)) == len(entry_ids)


def test_the_feed_lists_the_newest_50_matches_newest_first(feed_app):
    root = parse_feed(get(feed_app, "/api/feed.atom", q="zebulon", sort="oldest"))
    titles = [text_of(e, "title") for e in root.findall(f"{ATOM}entry")]
    updated = [text_of(e, "updated") for e in root.findall(f"{ATOM}entry")]
    assert len(titles) == 50
    assert titles[0].startswith("Zebulon <script>")  # 2021-03-30, the newest match
    assert titles[1:] == [f"Wire item {i}" for i in range(54, 5, -1)]
    assert updated == sorted(updated, reverse=True)
    assert text_of(root, "updated").startswith("2021-03-30")


def test_the_feed_escapes_titles_and_summaries(feed_app):
    response = get(feed_app, "/api/feed.atom", q="zebulon", topics="wire", sort="newest")
    raw = get(feed_app, "/api/feed.atom", q="bold").get_data(as_text=True)
    assert "<script" not in raw and "<b>" not in raw
    root = parse_feed(get(feed_app, "/api/feed.atom", q="bold"))
    [entry] = root.findall(f"{ATOM}entry")
    assert text_of(entry, "title") == "Zebulon <script>alert(1)</script> & \"co\""
    summary = entry.find(f"{ATOM}summary")
    assert summary is not None and summary.get("type", "text") == "text"
    assert "<b>bold</b> & <script>" in summary.text  # the text as written, escaped in the XML
    assert "<mark>" not in summary.text
    # The filter applies: only the wire items, and the hostile one is not among them.
    wire = parse_feed(response)
    assert all(text_of(e, "title").startswith("Wire item") for e in wire.iter(f"{ATOM}entry"))


def test_a_feed_of_a_search_without_matches_is_a_valid_empty_feed(feed_app):
    root = parse_feed(get(feed_app, "/api/feed.atom", q="nonexistentword"))
    assert root.findall(f"{ATOM}entry") == []
    assert RFC3339.fullmatch(text_of(root, "updated")) and text_of(root, "id")


def test_a_bad_search_parameter_of_a_feed_is_a_400_problem(feed_app):
    assert problem(get(feed_app, "/api/feed.atom", q="zebulon", sort="sideways"))[
        "code"] == "invalid_parameter"


# -- 4. proximity ----------------------------------------------------------------------------------

PROXIMITY = [
    {"id": "adjacent", "date": "2020-05-01", "body": "Copper tin alloys are bronze."},
    {"id": "reversed", "date": "2020-05-02", "body": "Tin traders bought copper on Monday."},
    {"id": "far", "date": "2020-05-03",
     "body": "Copper output rose sharply at the big northern mines last year while tin fell."},
    {"id": "copper-only", "date": "2020-05-04", "body": "Copper wire exports rose."},
]


@pytest.fixture(scope="module")
def proximity_app(serve_module):
    return serve_module("proximity", PROXIMITY)


def found(client, q: str) -> set[str]:
    return {h["id"] for h in ok(get(client, "/api/search", q=q, collapse="false",
                                    per_page="100"))["hits"]}


@pytest.mark.parametrize("q", ["copper NEAR/3 tin", "tin NEAR/3 copper", "copper w/3 tin",
                               "copper W/3 tin", "copper near/3 tin"])
def test_near_finds_both_words_within_n_words_in_either_order(proximity_app, q):
    assert found(proximity_app, q) == {"adjacent", "reversed"}


def test_near_with_a_larger_distance_reaches_further(proximity_app):
    assert found(proximity_app, "copper NEAR/12 tin") == {"adjacent", "reversed", "far"}
    assert found(proximity_app, "copper NEAR/0 tin") <= {"adjacent"}


def test_a_sloppy_phrase_finds_the_words_within_n_positions(proximity_app):
    assert found(proximity_app, '"copper tin"') == {"adjacent"}
    assert found(proximity_app, '"copper tin"~3') >= {"adjacent"}
    assert "far" not in found(proximity_app, '"copper tin"~3')
    assert "far" in found(proximity_app, '"copper tin"~12')


@pytest.mark.parametrize("q", ["copper NEAR/3 tin", '"copper tin"~3'])
def test_proximity_hits_mark_both_words(proximity_app, q):
    hits = ok(get(proximity_app, "/api/search", q=q, collapse="false"))["hits"]
    assert hits
    for hit in hits:
        text = " ".join(hit["snippets"]).lower()
        assert "<mark>copper</mark>" in text and "<mark>tin</mark>" in text, hit["snippets"]


# -- 5. GET /api/terms -----------------------------------------------------------------------------

TERMS = [
    *({"id": f"volcano-{i}", "date": "2020-06-01", "title": f"Volcano update {i}",
       "body": f"The volcano sent lava and ash over the valley; eruptions continued, "
               f"the market said {i}."} for i in range(8)),
    *({"id": f"market-{i}", "date": "2020-06-02", "title": f"Market report {i}",
       "body": f"The market for shares and bonds was quiet on day {i}."} for i in range(30)),
]


@pytest.fixture(scope="module")
def terms_app(serve_module):
    return serve_module("terms", TERMS)


def test_terms_are_the_words_that_set_the_result_set_apart(terms_app):
    doc = ok(get(terms_app, "/api/terms", q="volcano"))
    assert doc["sample"] == 8 and doc["documents"] == len(TERMS)
    terms = {t["term"]: t for t in doc["terms"]}
    assert {"lava", "ash", "eruptions"} <= set(terms)  # unstemmed, as written
    assert "volcano" not in terms  # the query's own word
    assert not {"the", "and"} & set(terms)  # stop words
    for word in ("lava", "ash", "eruptions"):
        assert (terms[word]["count"], terms[word]["background"]) == (8, 8)
    if "market" in terms:  # in the sample, but everywhere else too
        assert terms["market"]["score"] < terms["lava"]["score"]
    scores = [t["score"] for t in doc["terms"]]
    assert scores == sorted(scores, reverse=True)  # most distinctive first
    assert all(set(t) >= {"term", "score", "count", "background"} for t in doc["terms"])


def test_terms_take_the_filters_and_a_size(terms_app):
    doc = ok(get(terms_app, "/api/terms", q="volcano", size="2"))
    assert len(doc["terms"]) == 2
    assert ok(get(terms_app, "/api/terms", q="volcano", **{"from": "2021-01-01"}))["terms"] == []
    problem(get(terms_app, "/api/terms", q="volcano", size="0"))


@pytest.mark.parametrize("q,own,others", [
    ('"lava and ash"', {"lava", "ash"}, {"volcano", "eruptions"}),
    ("volcano NEAR/3 lava", {"volcano", "lava"}, {"ash", "eruptions"}),
    ("lav*", {"lava"}, {"ash", "volcano"}),
    ("l?va", {"lava"}, {"ash", "volcano"}),
    ("volcanoe~", {"volcano"}, {"ash", "lava"}),
])
def test_terms_leave_out_every_word_the_query_has_whatever_its_syntax(terms_app, q, own,
                                                                       others):
    terms = {t["term"] for t in ok(get(terms_app, "/api/terms", q=q))["terms"]}
    assert not own & terms and others <= terms, terms


# -- the OpenAPI document and the page -------------------------------------------------------------


def test_the_openapi_document_describes_every_research_endpoint(timeline_app):
    doc = ok(timeline_app.get("/api/openapi.json"))
    for path, media in [("/api/timeline", "application/json"),
                        ("/api/export", "application/x-ndjson"),
                        ("/api/feed.atom", "application/atom+xml"),
                        ("/api/terms", "application/json")]:
        operation = doc["paths"][path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"q", "from", "to", "topics"} <= names, path
        assert media in operation["responses"]["200"]["content"], path
    assert "format" in {p["name"] for p in doc["paths"]["/api/export"]["get"]["parameters"]}
    assert "text/csv" in doc["paths"]["/api/timeline"]["get"]["responses"]["200"]["content"]


def test_the_search_page_links_the_feed_of_its_search(timeline_app):
    html = timeline_app.get("/?q=oil&topics=crude").get_data(as_text=True)
    link = re.search(r'<link[^>]+type="application/atom\+xml"[^>]*>', html)
    assert link and 'rel="alternate"' in link.group(0)
    assert "/api/feed.atom?" in link.group(0) and "q=oil" in link.group(0)


def test_the_search_page_has_an_export_link_for_its_search(timeline_app):
    html = timeline_app.get("/?q=oil&topics=crude").get_data(as_text=True)
    links = re.findall(r'href="(/api/export\?[^"]+)"', html)
    assert links and all("q=oil" in x and "topics=crude" in x for x in links)


def test_the_readme_documents_proximity():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "NEAR/" in readme and re.search(r'"[^"\n]+"~\d', readme)
