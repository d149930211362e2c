"""The search page and the article page in a real browser (Debian's Chromium via Playwright).

A real ``searchsvc serve`` process (gunicorn) serves a small generated corpus plus the seeds on a
free loopback port. Every test checks that no dialog opened, no script error happened and the
page's own code caused no Content-Security-Policy violation.

When /usr/bin/chromium is missing the tests are skipped — except in CI (``CI`` set), where that
is a failure: the browser tests must run there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
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
from support.index import build_sources
from support.paths import SEEDS

pytestmark = pytest.mark.browser


# -- the corpus -------------------------------------------------------------------------------

TOPIC_WORDS = {
    "crude": "oil prices rose as the pipeline reopened and tanker traffic resumed; barrels of "
             "crude output were steady",
    "grain": "the wheat harvest was strong and farmers expect record grain exports; the harvest "
             "season ended early",
    "trade": "the trade deficit narrowed as exports grew and tariffs were cut",
    "ship": "port congestion eased and shipping rates for bulk carriers fell",
    "money-fx": "the dollar weakened against the yen as the central bank intervened",
    "coffee": "coffee growers warned that frost could cut the crop and lift prices",
}
PLACES = ["usa", "uk", "japan", "brazil", "iraq", "saudi-arabia"]
SOURCES = ["Wire A", "Wire B", "Wire C"]
XSS_TITLE = '<script>alert("xss-title")</script> Pipeline sabotage suspected'
XSS_BODY = ("Investigators said the pipeline sabotage was deliberate. "
            "<script>alert('xss-body')</script> A note read <img src=x onerror=alert(1)> "
            "and officials asked for calm.\n\nThe pipeline will stay closed for a week.")


def corpus_records() -> list[dict]:
    """46 articles over nine months of 2020, a <script> article and a story in three versions."""
    topics = list(TOPIC_WORDS)
    records = []
    start = dt.date(2020, 1, 6)
    for i in range(46):
        topic = topics[i % len(topics)]
        second = topics[(i * 5 + 1) % len(topics)] if i % 4 == 0 else None
        place = PLACES[i % len(PLACES)]
        day = start + dt.timedelta(days=i * 6 + (i % 3))
        records.append({
            "id": f"gen-{i:02d}",
            "date": day.isoformat(),
            "title": f"Market report {i + 1}: {topic.replace('-', ' ')} news from {place.upper()}",
            "body": (f"Market report number {i + 1}. In {place}, {TOPIC_WORDS[topic]}.\n\n"
                     f"Analysts said the market would watch {topic} closely in the coming weeks."
                     + (f"\n\nAlso: {TOPIC_WORDS[second]}." if second else "")),
            "topics": [topic] + ([second] if second and second != topic else []),
            "places": [place],
            "people": ["jane doe"] if i % 5 == 0 else [],
            "orgs": ["Procter & Gamble"] if i % 7 == 0 else (["opec"] if topic == "crude" else []),
            "source": SOURCES[i % len(SOURCES)],
        })
    records.append({
        "id": "xss-1", "date": "2020-04-15", "title": XSS_TITLE, "body": XSS_BODY,
        "topics": ["crude"], "places": ["iraq"], "source": "Wire A",
    })
    story = ("A tanker collision in the Strait of Hormuz spilled oil near the shipping lane on "
             "Tuesday, the coast guard said. Two crew members were injured and the tanker "
             "Aurora Spirit was towed to port. Salvage teams worked through the night to contain "
             "the slick, and insurers said the collision would raise premiums for the route.")
    for n, (source, day) in enumerate([("Wire A", "2020-05-12"), ("Wire B", "2020-05-12"),
                                       ("Wire C", "2020-05-13")]):
        records.append({
            "id": f"story-{n}", "date": day,
            "title": ["Tanker collision spills oil in Strait of Hormuz",
                      "Oil spill after tanker collision near Hormuz",
                      "Hormuz tanker collision: salvage teams contain spill"][n],
            "body": story + ["", " Oil prices rose.", " The route reopened on Wednesday."][n],
            "topics": ["ship", "crude"], "places": ["iran"], "source": source,
        })
    return records


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "articles.jsonl").open("w", encoding="utf-8") as fh:
        for record in corpus_records():
            fh.write(json.dumps(record) + "\n")
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, folder / seed.name)
    return folder


# -- the server and the browser ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``searchsvc serve`` in its own process group on a free loopback port."""

    def __init__(self, index_dir: Path, source: Path, log_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
        self.log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "searchsvc", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--index", str(index_dir), "--source", str(source),
             "--workers", "2"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.log_path = log_path

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.base + "/api/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("searchsvc serve did not become ready:\n" + self.log_path.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def start_server(index_dir: Path, source: Path, log_path: Path) -> Server:
    server = Server(index_dir, source, log_path)
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory, engine_name) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("browser")
    source = write_corpus(tmp / "source")
    index_dir = tmp / "index"
    build_sources(index_dir, [source], engine_name)
    srv = start_server(index_dir, source, tmp / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    yield from launch()


def new_page(browser, server: Server, viewport=DESKTOP, javascript: bool = True):
    context = browser.new_context(base_url=server.base, viewport=viewport,
                                  java_script_enabled=javascript, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    return context, page, Watch(page)


@pytest.fixture(scope="module")
def desktop(browser, server):
    """One desktop context for the JavaScript tests (each test gets its own tab)."""
    yield from desktop_context(browser, server.base)


@pytest.fixture
def page(desktop):
    yield from watched_page(desktop)


# -- helpers ------------------------------------------------------------------------------------


def state(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def hit_dates(page) -> list[str]:
    return page.locator("#results .hit time").evaluate_all(
        "els => els.map(e => e.getAttribute('datetime'))")


def wait_for_query(page, q: str) -> None:
    """Wait until the results shown are for ``q`` (the summary names it)."""
    from playwright.sync_api import expect

    expect(page.locator("#summary .count")).to_contain_text(f"“{q}”")
    expect(page.locator("#results")).not_to_have_attribute("aria-busy", "true")


def search_box(page):
    return page.get_by_role("search").get_by_role("combobox", name="Search articles")


def search_for(page, q: str) -> None:
    """Type ``q`` and press Enter (which also closes the suggestions), then wait for it."""
    box = search_box(page)
    box.fill(q)
    box.press("Enter")
    wait_for_query(page, q)


# -- the tests -------------------------------------------------------------------------------


def test_results_appear_as_you_type(page):
    from playwright.sync_api import expect

    page.goto("/")
    page.evaluate("window.__noReload = 1")  # survives only if the page is never reloaded
    length = page.evaluate("history.length")
    search_box(page).press_sequentially("pipeline", delay=40)
    wait_for_query(page, "pipeline")
    expect(page).to_have_url(re.compile(r"/\?q=pipeline$"))
    assert page.evaluate("window.__noReload") == 1
    # One typing session is one history entry, not one per keystroke.
    assert page.evaluate("history.length") == length + 1
    hits = page.locator("#results .hit")
    assert hits.count() >= 3
    first = hits.first
    expect(first.locator(".hit-title a")).to_have_attribute(
        "href", re.compile(r"^/articles/.+\?q=pipeline$"))
    expect(page.locator("#results mark").first).to_have_text(re.compile("pipeline", re.I))
    expect(first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\d$"))
    expect(page.locator("#summary .took")).to_have_text(re.compile(r"^\d+(\.\d+)? ms$"))
    expect(page).to_have_title("pipeline · searchsvc")


def test_landmarks_live_region_and_labels(page):
    from playwright.sync_api import expect

    page.goto("/")
    expect(search_box(page)).to_be_visible()  # the box is inside the role="search" landmark
    summary = page.locator("#summary")
    expect(summary).to_have_attribute("aria-live", "polite")
    expect(summary).to_contain_text("articles")
    expect(page.get_by_role("navigation", name="Pagination")).to_be_visible()
    # Every facet checkbox is reachable by its label.
    expect(page.get_by_role("checkbox", name=re.compile(r"^crude \d+$"))).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile(r"^Procter & Gamble \d+$"))).to_be_visible()
    unlabelled = page.locator("#facets input[type=checkbox]").evaluate_all(
        "els => els.filter(e => !e.labels || !e.labels.length || !e.labels[0].textContent.trim())"
        ".length")
    assert unlabelled == 0
    # The count is announced: the live region's text changes with the search.
    search_box(page).fill("tanker")
    wait_for_query(page, "tanker")
    expect(summary).to_contain_text(re.compile(r"\d+ results? for “tanker”"))


def test_slash_focuses_the_search_box(page):
    from playwright.sync_api import expect

    page.goto("/?q=oil")
    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("/")
    box = search_box(page)
    expect(box).to_be_focused()
    expect(box).to_have_value("oil")  # the slash was not typed into it
    page.keyboard.type("harvest")
    wait_for_query(page, "harvest")
    page.goto("/articles/gen-01")
    page.keyboard.press("/")
    expect(search_box(page)).to_be_focused()


def test_facet_checkboxes_filter(page):
    from playwright.sync_api import expect

    page.goto("/?q=market")
    crude = page.get_by_role("checkbox", name=re.compile(r"^crude \d+$"))
    expected = int(crude.locator("xpath=..").locator(".n").inner_text())
    crude.check()
    expect(page).to_have_url(re.compile(r"topics=crude"))
    expect(page.locator("#summary .count")).to_contain_text(f"{expected} results")
    expect(page.locator(".chip", has_text="Topics: crude")).to_be_visible()
    expect(crude).to_be_checked()
    expect(crude).to_be_focused()  # keyboard focus survives the re-render
    for hit in page.locator("#results .hit").all():
        expect(hit.locator(".hit-meta")).to_contain_text("crude")
    page.get_by_role("checkbox", name=re.compile(r"^grain \d+$")).check()
    # Values within one facet are OR-ed: the page shows what the API counts.
    api = page.request.get("/api/search?q=market&topics=crude&topics=grain").json()
    assert api["total"] > expected
    expect(page.locator("#summary .count")).to_contain_text(f"{api['total']} results")
    assert state(page)["topics"] == ["crude", "grain"]
    page.get_by_role("checkbox", name=re.compile(r"^Procter & Gamble \d+$")).check()
    assert state(page)["orgs"] == ["Procter & Gamble"]
    expect(page.locator(".chip", has_text="Organisations: Procter & Gamble")).to_be_visible()


def test_histogram_bar_filters_to_its_dates(page):
    from playwright.sync_api import expect

    page.goto("/")
    bars = page.locator("#histogram a.bar")
    assert bars.count() >= 6  # months January … August
    march = page.locator('#histogram a.bar[data-from="2020-03-01"]')
    expect(march).to_have_attribute("aria-label", re.compile(r"^Mar 2020: \d+ articles?$"))
    march.click()
    expect(page).to_have_url(re.compile(r"from=2020-03-01&to=2020-03-31"))
    expect(page.locator('#histogram a.bar[data-from="2020-03-01"]')).to_have_class(
        re.compile(r"\bselected\b"))
    expect(page.locator(".chip", has_text="From 2020-03-01")).to_be_visible()
    expect(page.locator("#from")).to_have_value("2020-03-01")
    expect(page.locator("#to")).to_have_value("2020-03-31")
    dates = hit_dates(page)
    assert dates and all("2020-03-01" <= d <= "2020-03-31" for d in dates)
    # The other bars stay selectable (the histogram ignores the date filter).
    assert page.locator("#histogram a.bar").count() == bars.count()
    # Choosing the chosen bar again (here with the keyboard) clears the date filter.
    chosen = page.locator('#histogram a.bar[data-from="2020-03-01"]')
    expect(chosen).to_have_attribute("aria-label", re.compile(r"choose again to clear"))
    chosen.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#chips")).to_be_hidden()
    expect(page.locator("#from")).to_have_value("")


def test_date_inputs_filter(page):
    from playwright.sync_api import expect

    page.goto("/?sort=oldest")
    page.locator("#from").fill("2020-06-01")
    expect(page).to_have_url(re.compile(r"from=2020-06-01"))
    expect(page.locator(".chip", has_text="From 2020-06-01")).to_be_visible()
    expect(page.locator("#results .hit time").first).to_have_attribute(
        "datetime", re.compile(r"^2020-0[6-9]"))
    assert min(hit_dates(page)) >= "2020-06-01"


def test_chip_removal_and_clear_all(page):
    from playwright.sync_api import expect

    page.goto("/?q=market&from=2020-02-01&topics=crude&places=usa")
    chips = page.locator("#chips .chip")
    expect(chips).to_have_count(3)
    page.get_by_role("link", name="Remove filter Topics: crude").click()
    expect(chips).to_have_count(2)
    assert "topics" not in state(page)
    expect(page.get_by_role("checkbox", name=re.compile(r"^crude "))).not_to_be_checked()
    page.get_by_role("link", name="Clear all").click()
    expect(page.locator("#chips")).to_be_hidden()
    assert state(page) == {"q": ["market"]}
    expect(page.locator("#from")).to_have_value("")
    expect(search_box(page)).to_have_value("market")


def test_sort_orders_by_date(page):
    from playwright.sync_api import expect

    page.goto("/?q=market")
    sort = page.get_by_role("navigation", name="Sort results")
    expect(sort.get_by_role("link", name="Relevance")).to_have_attribute("aria-current", "true")
    sort.get_by_role("link", name="Oldest").click()
    expect(sort.get_by_role("link", name="Oldest")).to_have_attribute("aria-current", "true")
    assert state(page)["sort"] == ["oldest"]
    dates = hit_dates(page)
    assert dates == sorted(dates) and dates[0] == "2020-01-06"
    sort.get_by_role("link", name="Newest").click()
    expect(sort.get_by_role("link", name="Newest")).to_have_attribute("aria-current", "true")
    dates = hit_dates(page)
    assert dates == sorted(dates, reverse=True)


def test_numbered_pagination(page):
    from playwright.sync_api import expect

    page.goto("/")
    nav = page.get_by_role("navigation", name="Pagination")
    expect(nav.get_by_role("link", name="Page 1")).to_have_attribute("aria-current", "page")
    listed = page.request.get("/api/search").json()["total_stories"]  # collapsed versions
    last = -(-listed // 10)
    assert last >= 5  # 1 2 3 … last
    expect(nav.get_by_role("link")).to_have_text(["1", "2", "3", str(last), "Next ›"])
    expect(nav.locator(".gap")).to_have_count(1)
    first_page = page.locator("#results .hit-title").all_inner_texts()
    nav.get_by_role("link", name="Page 2").click()
    expect(nav.get_by_role("link", name="Page 2")).to_have_attribute("aria-current", "page")
    expect(page.locator("#results ol.hits")).to_have_attribute("start", "11")
    assert state(page)["page"] == ["2"]
    second_page = page.locator("#results .hit-title").all_inner_texts()
    assert set(first_page).isdisjoint(second_page)
    nav.get_by_role("link", name=re.compile("Next")).click()
    expect(nav.get_by_role("link", name="Page 3")).to_have_attribute("aria-current", "page")
    nav.get_by_role("link", name=re.compile("Previous")).click()
    expect(nav.get_by_role("link", name="Page 2")).to_have_attribute("aria-current", "page")


def test_did_you_mean(page):
    from playwright.sync_api import expect

    page.goto("/")
    box = search_box(page)
    box.fill("harvset")
    box.press("Enter")
    dym = page.locator("#dym")
    expect(dym).to_contain_text("Did you mean harvest?")
    expect(dym.locator("mark")).to_have_text("harvest")
    dym.get_by_role("link").click()
    wait_for_query(page, "harvest")
    expect(box).to_have_value("harvest")
    assert state(page)["q"] == ["harvest"]
    expect(dym).to_be_hidden()
    # Nothing at all for a misspelling: the empty state still offers the correction.
    box.fill("harvset grian")
    box.press("Enter")
    expect(page.locator("#summary")).to_contain_text("No results for “harvset grian”")
    expect(page.locator("#results .empty")).to_contain_text("No articles found")
    expect(dym).to_be_visible()


def test_autocomplete_pick(page):
    from playwright.sync_api import expect

    page.goto("/")
    box = search_box(page)
    box.press_sequentially("harv", delay=30)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    option = listbox.get_by_role("option", name="harvest", exact=True)
    expect(option).to_be_visible()
    # Keyboard: arrow down to "harvest", Enter picks it.
    position = listbox.get_by_role("option").all_inner_texts().index("harvest")
    for _ in range(position + 1):
        box.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
    box.press("Enter")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value("harvest")
    wait_for_query(page, "harvest")
    assert state(page)["q"] == ["harvest"]
    # Mouse: a title suggestion (whichever version of the tanker story ranks first).
    items = page.request.get("/api/suggest?q=tanker+coll").json()["items"]
    headline = next(i["text"] for i in items if i["kind"] == "article")
    assert "collision" in headline.lower()
    box.fill("")
    box.press_sequentially("tanker coll", delay=30)
    title = listbox.get_by_role("option", name=headline, exact=True)
    title.click()
    expect(box).to_have_value(headline)
    wait_for_query(page, headline)


def test_back_forward_and_reload(page):
    from playwright.sync_api import expect

    page.goto("/")
    search_box(page).press_sequentially("market", delay=30)
    wait_for_query(page, "market")
    page.get_by_role("checkbox", name=re.compile(r"^Wire A \d+$")).check()
    expect(page).to_have_url(re.compile(r"source=Wire\+A"))
    page.get_by_role("navigation", name="Pagination").get_by_role("link", name="Page 2").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    page.evaluate("window.__noReload = 1")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/\?q=market&source=Wire\+A$"))
    expect(page.get_by_role("navigation", name="Pagination").get_by_role("link", name="Page 1")
           ).to_have_attribute("aria-current", "page")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/\?q=market$"))
    expect(page.get_by_role("checkbox", name=re.compile(r"^Wire A \d+$"))).not_to_be_checked()
    expect(page.locator("#chips")).to_be_hidden()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(search_box(page)).to_have_value("")
    expect(page.locator("#summary .count")).to_have_text(re.compile(r"^\d+ articles"))
    page.go_forward()
    wait_for_query(page, "market")
    expect(search_box(page)).to_have_value("market")
    page.go_forward()
    page.go_forward()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator("#results ol.hits")).to_have_attribute("start", "11")
    assert page.evaluate("window.__noReload") == 1  # all of it without reloading the page

    # Reloading renders the same state on the server.
    before = page.locator("#results .hit-title").all_inner_texts()
    page.reload()
    assert page.evaluate("window.__noReload") is None
    expect(search_box(page)).to_have_value("market")
    expect(page.get_by_role("checkbox", name=re.compile(r"^Wire A \d+$"))).to_be_checked()
    expect(page.locator(".chip", has_text="Source: Wire A")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pagination").get_by_role("link", name="Page 2")
           ).to_have_attribute("aria-current", "page")
    assert page.locator("#results .hit-title").all_inner_texts() == before


def test_article_page_with_related_coverage(page):
    from playwright.sync_api import expect

    versions = {"Tanker collision spills oil in Strait of Hormuz": "2020-05-12",
                "Oil spill after tanker collision near Hormuz": "2020-05-12",
                "Hormuz tanker collision: salvage teams contain spill": "2020-05-13"}
    page.goto("/?q=salvage")
    page.locator("#results .hit-title a", has_text="Hormuz").first.click()
    expect(page).to_have_url(re.compile(r"/articles/story-\d\?q=salvage$"))
    title = page.locator("h1").inner_text()
    assert title in versions
    expect(page.locator(".article-body mark").first).to_have_text(re.compile("salvage", re.I))
    expect(page.locator(".article-meta time")).to_have_attribute("datetime", versions[title])
    expect(page.locator(".article-facets")).to_contain_text("ship")
    expect(page.locator(".article-facets")).to_contain_text(re.compile(r"Wire [ABC]"))
    expect(page.locator("#match-note")).to_contain_text("highlighted")
    # Related coverage links to the other versions of the story, passing the query on.
    related = page.get_by_role("complementary", name="Related coverage")
    expect(related.locator("h3").first).to_have_text("Other versions of this story")
    others = [t for t in versions if t != title]
    expect(related.locator("ol.versions a")).to_have_count(2)
    assert sorted(related.locator("ol.versions a").all_inner_texts()) == sorted(others)
    related.get_by_role("link", name=others[0]).click()
    expect(page).to_have_url(re.compile(r"/articles/story-\d\?q=salvage$"))
    expect(page.locator("h1")).to_have_text(others[0])
    # "Back to results" returns to the search the person came from, filters included.
    page.goto("/?q=salvage&topics=ship")
    page.locator("#results .hit-title a").first.click()
    page.get_by_role("link", name=re.compile("Back to results")).click()
    expect(page).to_have_url(re.compile(r"/\?q=salvage&topics=ship$"))
    # A facet on the article page links to that facet's search.
    page.goto("/articles/story-2")
    page.locator(".article-facets a", has_text="Wire C").click()
    expect(page).to_have_url(re.compile(r"/\?source=Wire\+C$"))
    expect(page.locator(".chip", has_text="Source: Wire C")).to_be_visible()


def test_without_javascript(browser, server):
    from playwright.sync_api import expect

    context, page, watch = new_page(browser, server, javascript=False)
    try:
        page.goto("/")
        box = search_box(page)
        box.fill("pipeline")
        box.press("Enter")
        expect(page).to_have_url(re.compile(r"q=pipeline"))
        expect(page.locator("#summary .count")).to_contain_text("results for “pipeline”")
        assert page.locator("#results .hit").count() >= 3
        # Filters are a form too: tick a box, apply.
        page.get_by_role("checkbox", name=re.compile(r"^crude \d+$")).check()
        page.get_by_role("button", name="Apply filters").click()
        expect(page).to_have_url(re.compile(r"topics=crude"))
        expect(page.locator(".chip", has_text="Topics: crude")).to_be_visible()
        # Links: sort, page, histogram, chips.
        page.goto("/")
        page.get_by_role("navigation", name="Pagination").get_by_role("link", name="Page 2").click()
        expect(page.locator("#results ol.hits")).to_have_attribute("start", "11")
        page.get_by_role("link", name="Oldest").click()
        expect(page.locator("#results .hit time").first).to_have_attribute("datetime", "2020-01-06")
        page.locator('#histogram a.bar[data-from="2020-02-01"]').click()
        expect(page.locator(".chip", has_text="To 2020-02-29")).to_be_visible()
        response = page.goto("/?from=notadate")
        assert response.status == 400
        expect(page.locator("#message")).to_contain_text("notadate")
        watch.check()
    finally:
        context.close()


def test_script_in_query_is_text(page):
    from playwright.sync_api import expect

    payload = "<script>alert('q')</script><img src=x onerror=alert(2)>"
    page.goto("/?q=" + quote(payload))
    expect(search_box(page)).to_have_value(payload)
    expect(page.locator("#summary .count")).to_contain_text(payload)
    search_for(page, "<b>bold</b><img src=y onerror=alert(3)>")  # rendered by the script
    assert page.locator("#main b, #main img, #suggestions b, #suggestions img").count() == 0
    assert page.locator("script").count() == 1  # app.js only
    page.wait_for_timeout(200)
    page.watch.check()


def test_script_in_article_is_text(page):
    from playwright.sync_api import expect

    page.goto("/")
    search_box(page).fill("sabotage")
    wait_for_query(page, "sabotage")
    title = page.locator("#results .hit-title a").first
    expect(title).to_contain_text('<script>alert("xss-title")</script>')
    expect(page.locator("#results .snippet").first).to_contain_text(
        "<script>alert('xss-body')</script>")
    assert page.locator("#main script, #main img").count() == 0
    title.click()
    expect(page).to_have_url(re.compile(r"/articles/xss-1\?q=sabotage$"))
    expect(page.locator("h1")).to_have_text(XSS_TITLE)
    expect(page.locator(".article-body")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(page.locator(".article-body mark").first).to_have_text("sabotage")
    assert page.locator("script").count() == 1
    assert page.locator("main img").count() == 0
    page.wait_for_timeout(200)
    page.watch.check()


def test_invalid_date_shows_the_problem(page):
    from playwright.sync_api import expect

    response = page.goto("/?q=oil&from=notadate")
    assert response.status == 400
    message = page.locator("#message")
    expect(message).to_contain_text("from: unparseable date 'notadate'")
    expect(page.locator(".chip", has_text="From notadate")).to_be_visible()
    expect(page.locator("#results")).to_be_empty()
    # The script gets the same problem from the API and shows its detail.
    box = search_box(page)
    box.fill("harvest")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"q=harvest&from=notadate"))
    expect(message).to_contain_text("from: unparseable date 'notadate'")
    page.get_by_role("link", name="Remove filter From notadate").click()
    wait_for_query(page, "harvest")
    expect(message).to_be_empty()
    # A range the wrong way round is the API's 400 too.
    page.locator("#to").fill("2020-01-31")
    page.locator("#from").fill("2020-03-01")
    expect(message).to_contain_text("from must not be after to")


def test_service_unreachable(page):
    from playwright.sync_api import expect

    page.goto("/?q=oil")
    page.route("**/fragments/search**", lambda route: route.abort("connectionrefused"))
    search_box(page).fill("harvest")
    message = page.locator("#message")
    expect(message).to_contain_text("Can’t reach the search service")
    expect(page.locator("#results .hit")).to_have_count(0)
    page.unroute("**/fragments/search**")
    message.get_by_role("button", name="Try again").click()
    wait_for_query(page, "harvest")
    expect(message).to_be_empty()


def test_no_results(page):
    from playwright.sync_api import expect

    page.goto("/?topics=coffee")
    search_box(page).fill("zebra")
    empty = page.locator("#results .empty")
    expect(empty).to_contain_text("No articles found")
    expect(page.locator("#summary")).to_contain_text("No results for “zebra”")
    expect(empty.get_by_role("link", name="remove the filters")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pagination")).to_be_hidden()


def _layout(page) -> tuple[dict, dict]:
    return (page.locator("#results").bounding_box(), page.locator("#filters").bounding_box())


def test_screenshots_desktop_and_phone(browser, server):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page, watch = new_page(browser, server, viewport=viewport)
        try:
            page.goto("/?q=oil&topics=crude")
            expect(page.locator("#results .hit").first).to_be_visible()
            results, filters = _layout(page)
            if name == "desktop":
                assert filters["x"] + filters["width"] <= results["x"]  # facets beside results
            else:
                assert filters["y"] >= results["y"] + results["height"]  # facets below
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], "no horizontal scrolling on a phone"
            page.screenshot(path=str(SCREENSHOTS / f"search-{name}.png"), full_page=True)
            page.goto("/articles/story-0?q=tanker")
            page.screenshot(path=str(SCREENSHOTS / f"article-{name}.png"), full_page=True)
            page.goto("/?q=harvset")
            page.screenshot(path=str(SCREENSHOTS / f"did-you-mean-{name}.png"))
            page.goto("/?from=notadate")
            page.screenshot(path=str(SCREENSHOTS / f"error-{name}.png"))
            page.goto("/?q=" + "x" * 300 + "&topics=" + "y" * 200)  # long words wrap
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            watch.check()
        finally:
            context.close()


@pytest.mark.reuters
def test_screenshots_reuters(browser, reuters_index, tmp_path):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    srv = start_server(reuters_index, reuters_index, tmp_path / "server.log")
    try:
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context, page, watch = new_page(browser, srv, viewport=viewport)
            try:
                page.goto("/")
                search_box(page).press_sequentially("cocoa", delay=20)
                wait_for_query(page, "cocoa")
                # Escape closes the suggestions; with none open, a search input's native
                # Escape would clear the box, so wait for them first.
                expect(page.get_by_role("listbox")).to_be_visible()
                search_box(page).press("Escape")
                expect(page.get_by_role("listbox")).to_be_hidden()
                expect(page.locator("#histogram a.bar").first).to_be_visible()
                page.screenshot(path=str(SCREENSHOTS / f"reuters-search-{name}.png"),
                                full_page=name == "desktop")
                page.get_by_role("checkbox", name=re.compile(r"^cocoa [\d,]+$")).check()
                expect(page).to_have_url(re.compile(r"topics=cocoa"))
                page.locator("#results .hit-title a").first.click()
                expect(page.locator(".article-body")).to_be_visible()
                page.screenshot(path=str(SCREENSHOTS / f"reuters-article-{name}.png"),
                                full_page=name == "desktop")
                watch.check()
            finally:
                context.close()
    finally:
        srv.stop()
