"""The search page's research tools (issue 15) and its production items (issue 16), in Chromium.

Issue 15: the Timeline view (lines drawn as server-rendered SVG, count or share, comparison
queries added and removed, the CSV), the export links (CSV, NDJSON), the Atom feed (``<link
rel="alternate">`` and a visible link) and the "What stands out" panel. Issue 16: a page past the
end, the histogram's zoom and a date range narrower than a bar, clickable place tags, the
collapse / per-page / recency controls, the ``interpreted_as`` note, and a CORS preflight from
another origin.

One ``searchsvc serve`` (gunicorn, ``SEARCHSVC_CORS_ORIGINS`` set to the first of two small
sites on other ports) serves a corpus of 126 market reports over ten months of 2020 (so
``q=market`` has 126 results, 13 pages), a story in three versions and a few articles for the
recency and query-reading checks. Every test checks that no dialog opened, no script failed and
the page caused no CSP violation, and saves a screenshot to ``artifacts/screenshots/``
(git-ignored).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from support import e2e
from support.browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    TIMEOUT_MS,
    Watch,
    desktop_context,
    launch,
    watched_page,
)
from support.cli import clean_env
from support.index import build_sources

pytestmark = pytest.mark.browser

ATOM = "{http://www.w3.org/2005/Atom}"


# -- the corpus -------------------------------------------------------------------------------

TOPIC_WORDS = {
    "crude": "oil prices rose as the pipeline reopened and tanker traffic resumed; barrels of "
             "crude output were steady",
    "grain": "the wheat harvest was strong and farmers expect record grain exports; the harvest "
             "season ended early",
    "trade": "the trade deficit narrowed as exports grew and tariffs were cut",
    "ship": "port congestion eased and shipping rates for bulk carriers fell",
    "coffee": "coffee growers warned that frost could cut the crop and lift prices",
    "money-fx": "the dollar weakened against the yen as the central bank intervened",
}
PLACES = ["usa", "uk", "japan", "brazil", "iraq", "france", "india"]
SOURCES = ["Wire A", "Wire B", "Wire C"]
MARKET = 126  # articles with "market": 13 pages of 10
STORY = ["Tanker collision spills oil in Strait of Hormuz",
         "Oil spill after tanker collision near Hormuz",
         "Hormuz tanker collision: salvage teams contain spill"]


def corpus_records() -> list[dict]:
    rnd = random.Random(15)
    topics = list(TOPIC_WORDS)
    records = []
    start = dt.date(2020, 1, 6)
    for i in range(MARKET):
        topic = topics[i % len(topics)]
        place = PLACES[(i * 3) % len(PLACES)]
        # Made-up words make every report its own story (no two are "the same event").
        made_up = " ".join("".join(rnd.choice("bcdfghklmnprstvz") + rnd.choice("aeiou")
                                   for _ in range(3)) for _ in range(6))
        records.append({
            "id": f"m{i:03d}", "date": (start + dt.timedelta(days=i * 293 // MARKET)).isoformat(),
            "title": f"Market report {i + 1}: {topic.replace('-', ' ')} in {place.upper()}",
            "body": f"Market report number {i + 1} from {place}. "
                    f"{TOPIC_WORDS[topic].capitalize()}. Traders mentioned {made_up}.",
            "topics": [topic], "places": [place], "source": SOURCES[i % 3],
        })
    story = ("A tanker collision in the Strait of Hormuz spilled oil near the shipping lane on "
             "Tuesday, the coast guard said. Two crew members were injured and the tanker "
             "Aurora Spirit was towed to port. Salvage teams worked through the night to contain "
             "the slick, and insurers said the collision would raise premiums for the route.")
    for n, (source, day) in enumerate([("Wire A", "2020-05-12"), ("Wire B", "2020-05-12"),
                                       ("Wire C", "2020-05-13")]):
        records.append({
            "id": f"story-{n}", "date": day, "title": STORY[n],
            "body": story + ["", " Oil prices rose.", " The route reopened on Wednesday."][n],
            "topics": ["ship", "crude"], "places": ["iran"], "source": source,
        })
    # "refinery": the oldest article ranks first on relevance alone; a recency half-life
    # brings the newest first.
    records.append({"id": "refinery-old", "date": "2020-01-10",
                    "title": "Refinery fire: refinery output halted at the refinery",
                    "body": "The refinery fire halted refinery output. Refinery workers left the "
                            "refinery site.", "topics": ["crude"], "places": ["uk"]})
    for n, day in enumerate(["2020-10-20", "2020-10-23"]):
        records.append({"id": f"refinery-new-{n}", "date": day,
                        "title": f"Fuel supplies steady in autumn ({n + 1})",
                        "body": "Officials said fuel supplies were steady this autumn while one "
                                "refinery was being serviced and imports filled the gap for a "
                                "few weeks.", "topics": ["crude"], "places": ["usa"]})
    return records


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "articles.jsonl").open("w", encoding="utf-8") as fh:
        for record in corpus_records():
            fh.write(json.dumps(record) + "\n")
    return folder


# -- the other origins: a tiny site that calls the API from the browser ------------------------

OTHER_SITE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title></head>
<body>
<h1>Another site</h1>
<p>This page is served from <code id="origin"></code> and calls the searchsvc API.</p>
<button id="call" type="button">Call the API</button>
<p id="out" role="status">Not called yet.</p>
<script>
document.getElementById("origin").textContent = location.origin;
document.getElementById("call").addEventListener("click", async function () {
  var api = new URLSearchParams(location.search).get("api");
  var out = document.getElementById("out");
  out.textContent = "Calling…";
  try {
    // A custom header makes this a non-simple request: the browser sends a preflight first.
    var r = await fetch(api + "/api/search?q=tanker", {headers: {"X-Request-Id": "cors-check-1"}});
    var data = await r.json();
    out.textContent = "Allowed: HTTP " + r.status + ", " + data.total + " results, request id " +
                      r.headers.get("X-Request-Id");
  } catch (e) {
    out.textContent = "Blocked: " + e;
  }
});
</script>
</body></html>
"""


class _OtherSite(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        body = OTHER_SITE.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def origins() -> Iterator[list[str]]:
    """Two small sites on other loopback ports: the first is allowed by CORS, the second not."""
    sites = [ThreadingHTTPServer((e2e.HOST, 0), _OtherSite) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in sites]
    for t in threads:
        t.start()
    yield [f"http://{e2e.HOST}:{s.server_address[1]}" for s in sites]
    for s in sites:
        s.shutdown()
        s.server_close()


# -- the server and the browser ---------------------------------------------------------------


class Served:
    def __init__(self, proc: e2e.Server):
        self.proc = proc
        self.base = f"http://{e2e.HOST}:{proc.port}"

    def api(self, path: str):
        resp = self.proc.get(path)
        assert resp.status == 200, (path, resp.status, resp.body[:300])
        return resp


@pytest.fixture(scope="module")
def server(tmp_path_factory, engine_name, origins) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("browser-research")
    source = write_corpus(tmp / "source")
    index_dir = tmp / "index"
    build_sources(index_dir, [source], engine_name)
    proc = e2e.Server(tmp, index_dir, source, 2, clean_env(SEARCHSVC_CORS_ORIGINS=origins[0]))
    try:
        proc.wait_ready()
        yield Served(proc)
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser():
    yield from launch()


@pytest.fixture(scope="module")
def desktop(browser, server):
    yield from desktop_context(browser, server.base, accept_downloads=True)


@pytest.fixture
def page(desktop):
    yield from watched_page(desktop)


def shot(page, name: str, full_page: bool = True) -> None:
    """A screenshot once the "What stands out" panel has its words (it loads after the
    results)."""
    page.wait_for_function("""() => {
        const panel = document.getElementById("terms");
        return !panel || panel.hidden || !document.documentElement.classList.contains("js") ||
               !panel.textContent.includes("Reading the top matches");
    }""")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


# -- helpers ----------------------------------------------------------------------------------


def state(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def search_box(page):
    return page.get_by_role("search").get_by_role("combobox", name="Search articles")


def settled(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#results")).not_to_have_attribute("aria-busy", "true")


def hit_dates(page) -> list[str]:
    return page.locator("#results .hit time").evaluate_all(
        "els => els.map(e => e.getAttribute('datetime'))")


def downloaded(page, link) -> str:
    with page.expect_download() as info:
        link.click()
    return Path(info.value.path()).read_text("utf-8")


# -- issue 15: the research tools -------------------------------------------------------------


def test_timeline_draws_lines_and_compares_queries(page, server):
    """The Timeline view: one line per query (SVG drawn on the server, nothing loaded from
    elsewhere), comparisons added with a label and removed, count or share, the numbers."""
    from playwright.sync_api import expect

    page.goto("/?q=crude")
    page.evaluate("window.__noReload = 1")
    views = page.get_by_role("navigation", name="View")
    expect(views.get_by_role("link", name="Results")).to_have_attribute("aria-current", "page")
    views.get_by_role("link", name="Timeline").click()
    expect(page).to_have_url(re.compile(r"/\?q=crude&view=timeline$"))
    timeline = page.get_by_role("region", name="Coverage over time")
    expect(timeline).to_be_visible()
    expect(page.locator("#results")).to_be_hidden()
    chart = timeline.get_by_role("img", name="Coverage over time")
    expect(chart).to_be_visible()
    expect(chart.locator("polyline")).to_have_count(1)
    expect(timeline.locator(".legend-item")).to_have_text(
        [re.compile(r"^\s*crude\s+\d+ articles\s*$")])

    # Add a comparison with its own label, from the keyboard.
    compare = timeline.get_by_role("textbox", name="Compare with")
    compare.fill("grain:wheat")
    compare.press("Enter")
    expect(page).to_have_url(re.compile(r"compare=grain%3Awheat"))
    expect(chart.locator("polyline")).to_have_count(2)
    legend = timeline.locator(".legend-item")
    expect(legend).to_have_count(2)
    expect(legend.nth(1)).to_contain_text("grain")
    expect(legend.nth(1)).to_contain_text("(wheat)")
    expect(compare).to_be_focused()  # ready for the next one
    expect(compare).to_have_value("")

    # The drawn numbers are the API's: the table under "The numbers" lists them.
    api = server.api("/api/timeline?q=crude&q=grain:wheat").json()
    timeline.get_by_text("The numbers").click()
    rows = timeline.locator("tbody tr")
    expect(rows).to_have_count(len(api["all"]))
    first = [c.strip() for c in rows.first.locator("td").all_inner_texts()]
    b0 = [s["buckets"][0] for s in api["series"]]
    assert first[0] == f"{api['all'][0]['count']:,}"
    assert [c.split(" ")[0] for c in first[1:]] == [f"{b['count']:,}" for b in b0]
    totals = [sum(b["count"] for b in s["buckets"]) for s in api["series"]]
    expect(legend.nth(0).locator(".n")).to_have_text(f"{totals[0]:,} articles")
    expect(legend.nth(1).locator(".n")).to_have_text(f"{totals[1]:,} articles")

    # Share of all articles: the y axis in per cent.
    timeline.get_by_role("navigation", name="Timeline measure").get_by_role(
        "link", name="Share of all articles").click()
    expect(page).to_have_url(re.compile(r"measure=share"))
    expect(chart.locator("text.ytick").last).to_have_text(re.compile(r"^\d+(\.\d+)?%$"))
    expect(chart.locator("polyline")).to_have_count(2)

    # Remove the comparison again.
    timeline.get_by_role("link", name="Remove grain from the timeline").click()
    expect(chart.locator("polyline")).to_have_count(1)
    assert "compare" not in state(page)
    assert page.evaluate("window.__noReload") == 1  # all of it without reloading the page

    # Up to five lines: then the form says no more.
    for lines, word in enumerate(("coffee", "dollar", "port", "tariffs"), start=2):
        compare.fill(word)
        compare.press("Enter")
        expect(chart.locator("polyline")).to_have_count(lines)
    expect(legend).to_have_count(5)
    expect(compare).to_be_disabled()
    expect(timeline.get_by_role("button", name="Add line")).to_be_disabled()
    shot(page, "research-timeline")
    own = re.compile(re.escape(server.base) + r"/")
    assert all(own.match(u) for u in page.watch.requests), page.watch.requests


def test_timeline_csv_and_without_javascript(browser, server):
    """The CSV link downloads the table; without JavaScript the view is the same page."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=server.base, viewport=DESKTOP,
                                  java_script_enabled=False, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        watch = Watch(page)
        page.goto("/?q=crude&view=timeline")
        timeline = page.get_by_role("region", name="Coverage over time")
        compare = timeline.get_by_role("textbox", name="Compare with")
        compare.fill("ships:shipping")
        timeline.get_by_role("button", name="Add line").click()
        expect(page).to_have_url(re.compile(r"view=timeline.*compare=ships%3Ashipping"))
        expect(timeline.locator("polyline")).to_have_count(2)
        link = timeline.get_by_role("link", name="Download CSV")
        assert "format=csv" in link.get_attribute("href")
        table = list(csv.reader(io.StringIO(downloaded(page, link))))
        api = server.api("/api/timeline?q=crude&q=ships:shipping").json()
        assert table[0] == ["bucket", "from", "to", "all", "crude count", "crude share",
                            "ships count", "ships share"]
        assert [r[0] for r in table[1:]] == [b["value"] for b in api["all"]]
        assert [int(r[4]) for r in table[1:]] == [b["count"] for b in api["series"][0]["buckets"]]
        shot(page, "research-timeline-nojs")
        watch.check()
    finally:
        context.close()


def test_timeline_fits_a_phone(browser, server):
    from playwright.sync_api import expect

    context = browser.new_context(base_url=server.base, viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        watch = Watch(page)
        page.goto("/?q=crude&view=timeline&compare=grain%3Awheat&compare=coffee")
        chart = page.get_by_role("img", name="Coverage over time")
        expect(chart.locator("polyline")).to_have_count(3)
        box = chart.bounding_box()
        assert box["width"] <= PHONE["width"] and box["height"] > 100
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot(page, "research-timeline-phone")
        watch.check()
    finally:
        context.close()


def test_export_links_download_every_match(page, server):
    from playwright.sync_api import expect

    page.goto("/?q=market&topics=crude")
    total = server.api("/api/search?q=market&topics=crude").json()["total"]
    tools = page.locator("#tools")
    expect(tools).to_contain_text("Export every match:")
    as_csv = tools.get_by_role("link", name="Export every match as CSV")
    as_ndjson = tools.get_by_role("link", name="Export every match as NDJSON")
    expect(as_csv).to_have_text("CSV")
    expect(as_ndjson).to_have_text("NDJSON")
    rows = list(csv.DictReader(io.StringIO(downloaded(page, as_csv))))
    assert len(rows) == total
    assert all("crude" in r["topics"] for r in rows)
    lines = [json.loads(x) for x in downloaded(page, as_ndjson).splitlines() if x.strip()]
    assert len(lines) == total and {r["id"] for r in rows} == {x["id"] for x in lines}
    # The links follow the search as it changes in place.
    page.get_by_role("checkbox", name=re.compile(r"^crude \d+$")).uncheck()
    expect(page).to_have_url(re.compile(r"/\?q=market$"))
    expect(as_csv).to_have_attribute("href", "/api/export?q=market&format=csv")
    assert len(list(csv.DictReader(io.StringIO(downloaded(page, as_csv))))) == MARKET
    shot(page, "research-export")


def test_feed_is_linked_for_the_current_search(page, server):
    from playwright.sync_api import expect

    page.goto("/?q=tanker")
    alternate = page.locator('head link[rel="alternate"][type="application/atom+xml"]')
    expect(alternate).to_have_count(1)
    expect(alternate).to_have_attribute("href", "/api/feed.atom?q=tanker")
    visible = page.get_by_role("link", name="Atom feed")
    expect(visible).to_be_visible()
    expect(visible).to_have_attribute("href", "/api/feed.atom?q=tanker")
    feed = ET.fromstring(server.api("/api/feed.atom?q=tanker").body)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == server.api("/api/search?q=tanker").json()["total"]
    assert {e.findtext(f"{ATOM}title") for e in entries} >= set(STORY)
    # A new search in place: the feed of the page is the new search's.
    search_box(page).fill("refinery")
    search_box(page).press("Enter")
    expect(alternate).to_have_attribute("href", "/api/feed.atom?q=refinery")
    expect(visible).to_have_attribute("href", "/api/feed.atom?q=refinery")
    shot(page, "research-feed", full_page=False)


def test_what_stands_out_adds_a_word_to_the_query(page, server):
    from playwright.sync_api import expect

    page.goto("/?q=tanker")
    panel = page.get_by_role("region", name="What stands out")
    expect(panel).to_be_visible()
    api = server.api("/api/terms?q=tanker&size=12").json()["terms"]
    assert api, "the corpus has distinctive words for tanker"
    words = panel.locator("a.term")
    expect(words).to_have_count(len(api))
    assert [w.strip().removeprefix("Add").strip() for w in words.all_text_contents()] == \
        [t["term"] for t in api]
    word = api[0]["term"]
    panel.get_by_role("link", name=f"Add {word}", exact=True).click()
    expect(page).to_have_url(re.compile(r"/\?q=tanker\+" + re.escape(quote(word))))
    expect(search_box(page)).to_have_value(f"tanker {word}")
    expect(page.locator("#summary .count")).to_contain_text(f"“tanker {word}”")
    # The panel follows the new search (the word is no longer offered: it is in the query).
    expect(panel.locator("a.term").first).to_be_visible()
    expect(panel.get_by_role("link", name=f"Add {word}", exact=True)).to_have_count(0)
    shot(page, "research-terms")


# -- issue 16: the page items -----------------------------------------------------------------


def test_page_past_the_end_links_back_to_the_last(page, server):
    from playwright.sync_api import expect

    listed = server.api("/api/search?q=market").json()["total_stories"]
    last = -(-listed // 10)
    assert listed == MARKET and last == 13
    page.goto("/?q=market&page=50")
    results = page.locator("#results")
    expect(page.locator("#summary .count")).to_have_text("126 results for “market”")
    expect(results.get_by_role("heading")).to_have_text("No results on page 50")
    expect(results).to_contain_text(f"The results end on page {last}.")
    expect(results).not_to_contain_text("No articles found")
    expect(results).not_to_contain_text("Check the spelling")
    nav = page.get_by_role("navigation", name="Pagination")
    expect(nav.get_by_role("link", name=f"Page {last}")).to_be_visible()
    expect(nav.get_by_role("link", name=re.compile("Previous"))).to_have_attribute(
        "href", f"/?q=market&page={last}")
    shot(page, "page-past-the-end", full_page=False)
    results.get_by_role("link", name=f"Go to the last page ({last})").click()
    expect(page).to_have_url(re.compile(rf"/\?q=market&page={last}$"))
    expect(page.locator("#results .hit")).to_have_count(MARKET - 10 * (last - 1))
    expect(nav.get_by_role("link", name=f"Page {last}")).to_have_attribute("aria-current", "page")
    # Back to page 50 in place (the script renders the same regions).
    page.go_back()
    expect(page).to_have_url(re.compile(r"/\?q=market&page=50$"))
    expect(results.locator(".past-end h2")).to_have_text("No results on page 50")
    expect(results.get_by_role("link", name=f"Go to the last page ({last})")).to_be_visible()


def test_histogram_zooms_into_a_bar(page, server):
    from playwright.sync_api import expect

    page.goto("/")
    overview = page.locator("#histogram")
    expect(overview.get_by_role("group")).to_have_attribute(
        "aria-label", re.compile(r"^Articles per month"))
    march = overview.locator('a.bar[data-from="2020-03-01"]')
    march.click()
    expect(page).to_have_url(re.compile(r"/\?from=2020-03-01&to=2020-03-31$"))
    zoom = page.locator("#histogram-zoom")
    expect(zoom).to_be_visible()
    expect(zoom.locator(".zoom-caption")).to_contain_text("1 Mar 2020 – 31 Mar 2020 by day")
    expect(zoom.get_by_role("group")).to_have_attribute(
        "aria-label", re.compile(r"^Articles per day from 1 Mar 2020 to 31 Mar 2020"))
    expect(zoom.locator(".zbar")).to_have_count(31)  # a bar per day, empty days included
    api = server.api("/api/search?from=2020-03-01&to=2020-03-31&interval=day").json()
    days = {b["value"]: b["count"] for b in api["facets"]["date"]["buckets"]
            if "2020-03-01" <= b["value"] <= "2020-03-31"}
    busy = max(days, key=lambda d: days[d])
    bar = zoom.locator(f'a.zbar[data-from="{busy}"]')
    expect(bar).to_have_attribute("aria-label", re.compile(
        rf"^{int(busy[8:])} Mar 2020: {days[busy]} articles?$"))
    assert sum(days.values()) == api["total"]
    shot(page, "page-histogram-zoom")
    bar.click()  # narrows again, to that day
    expect(page).to_have_url(re.compile(rf"from={busy}&to={busy}$"))
    # The address changes before the response arrives: wait for the regions to be swapped.
    expect(zoom.locator(".zbar")).to_have_count(1)
    expect(page.locator("#results")).not_to_have_attribute("aria-busy", "true")
    assert set(hit_dates(page)) == {busy}
    expect(zoom.locator("a.zbar")).to_have_attribute("aria-label", re.compile("choose again"))
    # A longer range zooms by week; "Show all dates" zooms out.
    page.goto("/?from=2020-02-01&to=2020-04-30")
    expect(zoom.locator(".zoom-caption")).to_contain_text("by week")
    zoom.get_by_role("link", name="Show all dates").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(zoom).to_be_hidden()
    expect(page.locator("#chips")).to_be_hidden()


def test_a_range_narrower_than_a_bar_is_drawn(page):
    from playwright.sync_api import expect

    page.goto("/?from=2020-03-10&to=2020-03-19")
    march = page.locator('#histogram a.bar[data-from="2020-03-01"]')
    expect(march).to_have_class(re.compile(r"\bpartial\b"))
    marks = page.locator("#histogram .rail .mark")
    expect(marks).to_have_count(1)
    bar, mark = march.bounding_box(), marks.first.bounding_box()
    assert mark["width"] >= 2, "the range is visible"
    assert mark["width"] < bar["width"] * 0.6, "and narrower than the month"
    assert bar["x"] <= mark["x"] and mark["x"] + mark["width"] <= bar["x"] + bar["width"]
    expect(page.locator("#histogram-zoom .zoom-caption")).to_contain_text(
        "10 Mar 2020 – 19 Mar 2020")
    expect(page.locator("#histogram-zoom .zbar")).to_have_count(10)
    # A range over months marks each month it covers, the partly covered ones partly.
    page.goto("/?from=2020-02-15&to=2020-04-30")
    expect(page.locator("#histogram .rail .mark")).to_have_count(3)
    expect(page.locator('#histogram a.bar[data-from="2020-02-01"]')).to_have_class(
        re.compile(r"\bpartial\b"))
    expect(page.locator('#histogram a.bar[data-from="2020-03-01"]')).to_have_class(
        re.compile(r"\bselected\b"))
    page.goto("/?from=2020-03-10&to=2020-03-19")
    shot(page, "page-histogram-narrow-range")


def test_place_tags_toggle_the_place_filter(page):
    from playwright.sync_api import expect

    page.goto("/?q=market")
    tag = page.locator("#results .hit").first.locator('a.tag[data-facet="places"]')
    place = tag.get_attribute("data-value")
    expect(tag).to_have_accessible_name(f"Filter by place {place}")
    tag.click()
    expect(page).to_have_url(re.compile(rf"/\?q=market&places={place}$"))
    expect(page.locator(".chip", has_text=f"Places: {place}")).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile(rf"^{place} \d+$"))).to_be_checked()
    for hit in page.locator("#results .hit").all():
        expect(hit.locator(f'a.tag[data-facet="places"][data-value="{place}"]')).to_have_class(
            re.compile(r"\bselected\b"))
    shot(page, "page-place-tags", full_page=False)
    # The same tag, now selected, takes the filter off again (keyboard this time).
    selected = page.locator("#results .hit").first.get_by_role(
        "link", name=f"Stop filtering by place {place}")
    selected.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/\?q=market$"))
    expect(page.locator("#chips")).to_be_hidden()


def test_collapse_per_page_and_recency_controls(page, server):
    from playwright.sync_api import expect

    page.goto("/?q=tanker+collision")
    stories = page.get_by_role("combobox", name="Stories")
    per_page = page.get_by_role("combobox", name="Per page")
    recency = page.get_by_role("combobox", name="Recency")
    expect(stories).to_have_value("")
    summary = page.locator("#summary .count")
    expect(summary).to_contain_text(" in ")  # "N results for … in M stories"
    expect(page.locator("#results .story")).to_contain_text("2 more versions of this story")
    titles = page.locator("#results .hit-title")
    assert sum(t in STORY for t in titles.all_inner_texts()) == 1
    stories.focus()
    page.keyboard.press("ArrowDown")  # the keyboard picks "Every article"
    expect(page).to_have_url(re.compile(r"collapse=false"))
    expect(summary).not_to_contain_text(" in ")
    expect(page.locator("#results .story")).to_have_count(0)
    assert sum(t in STORY for t in titles.all_inner_texts()) == 3
    expect(stories).to_be_focused()  # keyboard focus survives the re-render
    stories.select_option(label="One article per story")
    expect(page).to_have_url(re.compile(r"/\?q=tanker\+collision$"))

    page.goto("/?q=market")
    expect(page.locator("#results .hit")).to_have_count(10)
    per_page.select_option("20")
    expect(page).to_have_url(re.compile(r"/\?q=market&per_page=20$"))
    expect(page.locator("#results .hit")).to_have_count(20)
    nav = page.get_by_role("navigation", name="Pagination")
    expect(nav.get_by_role("link", name="Page 7")).to_be_visible()  # 126 / 20
    expect(nav.get_by_role("link", name="Page 8")).to_have_count(0)
    shot(page, "page-result-options", full_page=False)

    page.goto("/?q=refinery")
    assert hit_dates(page)[0] == "2020-01-10"  # relevance alone: the oldest mentions it most
    recency.select_option(label="Half-life 7 days")
    expect(page).to_have_url(re.compile(r"/\?q=refinery&recency=7d$"))
    expect(page.locator("#results .hit time").first).to_have_attribute("datetime", "2020-10-23")
    api = server.api("/api/search?q=refinery&recency=7d").json()
    assert hit_dates(page) == [h["date"] for h in api["hits"]]
    # Without JavaScript the controls are part of the search form.
    recency.select_option("")
    expect(page).to_have_url(re.compile(r"/\?q=refinery$"))


def test_options_without_javascript(browser, server):
    from playwright.sync_api import expect

    context = browser.new_context(base_url=server.base, viewport=DESKTOP,
                                  java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        watch = Watch(page)
        page.goto("/?q=market&collapse=false")
        page.get_by_role("combobox", name="Per page").select_option("50")
        page.get_by_role("combobox", name="Stories").select_option(label="One article per story")
        page.get_by_role("button", name="Apply options").click()
        expect(page.locator("#results .hit")).to_have_count(50)
        assert state(page)["per_page"][-1] == "50"
        expect(page.get_by_role("combobox", name="Stories")).to_have_value("")
        page.goto("/?q=market&page=50")
        expect(page.locator("#results")).to_contain_text("No results on page 50")
        watch.check()
    finally:
        context.close()


def test_interpreted_as_note(page, server):
    from playwright.sync_api import expect

    q = '"tanker collision"'
    doc = server.api("/api/search?q=" + quote(q)).json()
    found = doc["interpreted_as"]
    assert found and found["plain"]["q"] == "tanker collision"
    page.goto("/?q=" + quote(q))
    note = page.locator("#interpreted")
    expect(note).to_be_visible()
    expect(note).to_contain_text(f"Your query was read as {found['query']}.")
    link = note.get_by_role("link", name="Search the plain words “tanker collision” instead")
    expect(note).to_contain_text(f"({found['plain']['total']:,} articles)")
    shot(page, "page-interpreted-as", full_page=False)
    link.click()
    expect(page).to_have_url(re.compile(r"/\?q=tanker\+collision$"))
    expect(page.locator("#summary .count")).to_contain_text(
        f"{found['plain']['total']:,} results for “tanker collision”")
    expect(note).to_be_hidden()  # plain words need no note


def test_cors_preflight_from_another_origin(browser, server, origins):
    """From a page of the allowed origin, fetch() with a custom header (a preflight first)
    works and can read the exposed X-Request-Id; from another origin the browser blocks it."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 900, "height": 400})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        for name, origin, allowed in (("allowed", origins[0], True),
                                      ("blocked", origins[1], False)):
            page = context.new_page()
            page.goto(f"{origin}/?api={quote(server.base)}")
            page.get_by_role("button", name="Call the API").click()
            out = page.get_by_role("status")
            if allowed:
                total = server.api("/api/search?q=tanker").json()["total"]
                expect(out).to_have_text(
                    f"Allowed: HTTP 200, {total} results, request id cors-check-1")
            else:
                expect(out).to_have_text(re.compile(r"^Blocked: TypeError"))
            shot(page, f"cors-{name}", full_page=False)
            page.close()
    finally:
        context.close()
    # The browser did send preflights (the access log has them), answered 204; only the
    # allowed origin's carries the CORS headers.
    log = server.proc.log_path.read_text("utf-8", "replace")
    assert len(re.findall(r"^OPTIONS /api/search\?q=tanker 204 ", log, re.MULTILINE)) >= 2, log
    for origin, allowed in ((origins[0], True), (origins[1], False)):
        resp = e2e.request(server.proc.port, "OPTIONS", "/api/search?q=tanker", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-request-id"})
        assert resp.status == 204
        if allowed:
            assert resp.headers["access-control-allow-origin"] == origin
            assert "x-request-id" in resp.headers["access-control-allow-headers"].lower()
        else:
            assert "access-control-allow-origin" not in resp.headers


def test_fragments_escape_what_they_are_given(server):
    """The regions the script swaps in are rendered (and escaped) as the page is."""
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    query = "&".join(f"{k}={quote(v)}" for k, v in (
        ("q", hostile), ("topics", hostile), ("compare", f"x:{hostile}"), ("compare", hostile),
        ("view", "timeline"), ("recency", hostile), ("per_page", hostile)))
    for path in ("/fragments/search?", "/fragments/terms?", "/?"):
        resp = server.proc.get(path + query)
        assert resp.status in (200, 400) and resp.content_type == "text/html"
        body = resp.body.decode("utf-8")
        assert "<script>alert" not in body and "<img src=x" not in body, path
    assert "Can’t search" in server.proc.get("/fragments/search?from=x").body.decode()


# -- what the page needs from the API -------------------------------------------------------


def test_api_timeline_honours_from_and_to(server):
    doc = server.api("/api/timeline?q=market&from=2020-03-01&to=2020-03-31").json()
    assert doc["interval"] == "day"
    assert [b["value"] for b in doc["all"]][0] >= "2020-03-01"
    assert all("2020-03-01" <= b["from"] and b["to"] <= "2020-03-31" for b in doc["all"])


def test_api_terms_leave_out_the_words_of_a_phrase(server):
    terms = server.api("/api/terms?q=" + quote('"tanker collision"')).json()["terms"]
    assert terms and not {"tanker", "collision"} & {t["term"] for t in terms}
