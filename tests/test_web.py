"""The server-rendered pages (Flask test client): results without JavaScript, escaping, errors,
pagination, facets, and a strict CSP with no inline script or style."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from support.paths import SADR_1 as SADR_A
from support.paths import SADR_2 as SADR_B

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict, parent: Element | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.nodes: list[str | Element] = []  # text and child elements, in document order

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def all_text(self) -> str:
        return "".join(n if isinstance(n, str) else n.all_text() for n in self.nodes)


class Page(HTMLParser):
    """A tiny DOM: every element with its attributes, parent and text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, None)
        self.elements: list[Element] = []
        self._stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        el = Element(tag, dict(attrs), self._stack[-1])
        self._stack[-1].children.append(el)
        self._stack[-1].nodes.append(el)
        self.elements.append(el)
        if tag not in VOID:
            self._stack.append(el)

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, 0, -1):
            if self._stack[i].tag == tag:
                del self._stack[i:]
                break

    def handle_data(self, data):
        self._stack[-1].nodes.append(data)

    def find(self, tag: str | None = None, **attrs) -> list[Element]:
        out = []
        for el in self.elements:
            if tag and el.tag != tag:
                continue
            if all(el.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items()):
                out.append(el)
        return out

    def by_id(self, id_: str) -> Element:
        found = [el for el in self.elements if el.attrs.get("id") == id_]
        assert len(found) == 1, f"expected one #{id_}, found {len(found)}"
        return found[0]


def get_page(client, url: str, status: int = 200) -> Page:
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == "text/html"
    return Page(response.get_data(as_text=True))


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.fixture
def client_for(make_index, app_for):
    """A client over a fresh index of the given records (its engine closed afterwards)."""
    return lambda records: app_for(make_index(records))


@pytest.fixture
def corpus_client(client_for):
    """25 dated articles with facets, one with a <script> in its title and body."""
    records = [{
        "id": f"a{i:02d}", "date": f"2020-{1 + i % 10:02d}-{1 + i:02d}",
        "title": f"Grain report {i}", "body": f"Wheat harvest news number {i}. Farmers said so.",
        "topics": ["grain"] + (["trade"] if i % 2 else []), "places": ["usa" if i % 3 else "uk"],
        "source": "Wire A",
    } for i in range(25)]
    records.append({
        "id": "evil", "date": "2020-03-03", "title": "<script>alert('t')</script> Evil wheat",
        "body": "Wheat <script>alert('b')</script> and <img src=x onerror=alert(1)> text.",
        "topics": ["<b>bold</b>"],
    })
    return client_for(records)


# -- results without JavaScript ---------------------------------------------------------------


def test_search_renders_results(client):
    page = get_page(client, "/?q=Sadr&collapse=false")
    assert page.by_id("summary").all_text().startswith("2 results for “Sadr”")
    assert page.by_id("summary").attrs["aria-live"] == "polite"
    hits = page.find("li", class_="hit")
    assert len(hits) == 2
    links = [a.attrs["href"] for a in page.find("a")
             if a.attrs.get("href", "").startswith("/articles/")]
    assert set(links) == {f"/articles/{SADR_A}?q=Sadr", f"/articles/{SADR_B}?q=Sadr"}
    marks = [m.all_text() for m in page.find("mark")]
    assert "Sadr" in marks
    times = [t.attrs["datetime"] for t in page.find("time")]
    assert times == ["2020-01-24", "2020-01-24"]
    # collapse=false is kept in every link of the page.
    assert all(query(a.attrs["href"]).get("collapse") == ["false"]
               for a in page.find("a") if a.attrs.get("href", "").startswith("/?"))


def test_versions_of_a_story_are_collapsed(client):
    page = get_page(client, "/?q=Sadr")
    summary = page.by_id("summary").all_text()
    assert summary.startswith("2 results for “Sadr” in 1 story")
    hits = page.find("li", class_="hit")
    assert len(hits) == 1
    story = page.find("p", class_="story")[0]
    link = story.children[0]
    assert link.all_text() == "1 more version of this story"
    assert re.fullmatch(r"/articles/0\d\d_[0-9a-f]+\?q=Sadr#related", link.attrs["href"])


def test_search_box_is_a_labelled_search_landmark(client):
    page = get_page(client, "/?q=Sadr")
    form = page.by_id("search-form")
    assert form.attrs["role"] == "search"
    assert form.attrs["action"] == "/" and form.attrs["method"] == "get"
    box = page.by_id("q")
    assert form in box.ancestors()
    assert box.attrs["name"] == "q" and box.attrs["value"] == "Sadr"
    assert [lb for lb in page.find("label") if lb.attrs.get("for") == "q"]


def test_empty_query_lists_everything_newest_first(client):
    page = get_page(client, "/")
    assert page.by_id("summary").all_text().startswith("2 articles")
    current = [a for a in page.by_id("sort").children if a.attrs.get("aria-current")]
    assert [a.all_text() for a in current] == ["Newest"]


def test_query_is_escaped(client):
    payload = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"
    response = client.get("/", query_string={"q": payload})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = Page(html)
    assert page.by_id("q").attrs["value"] == payload
    assert payload in page.by_id("summary").all_text()
    assert [s.attrs.get("src") for s in page.find("script")] == ["/static/app.js"]
    assert not page.find("img")


def test_article_text_is_escaped(corpus_client):
    html = corpus_client.get("/?q=evil").get_data(as_text=True)
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html  # a facet value, as a checkbox label
    page = Page(html)
    assert not page.find("img") and not page.find("b")
    article = corpus_client.get("/articles/evil?q=wheat").get_data(as_text=True)
    assert "<script>alert(" not in article and "<img src=x" not in article
    page = Page(article)
    assert page.find("h1")[0].all_text() == "<script>alert('t')</script> Evil wheat"
    body = [p.all_text() for p in page.find("p") if p.parent.attrs.get("class") == "article-body"]
    assert body == ["Wheat <script>alert('b')</script> and <img src=x onerror=alert(1)> text."]
    assert [m.all_text() for m in page.find("mark")] == ["wheat", "Wheat"]
    assert [s.attrs.get("src") for s in page.find("script")] == ["/static/app.js"]


# -- errors --------------------------------------------------------------------------------------


def test_invalid_date_renders_the_page_with_a_message(client):
    response = client.get("/?q=Sadr&from=notadate")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = Page(response.get_data(as_text=True))
    message = page.by_id("message")
    assert message.attrs["role"] == "alert"
    assert "from: unparseable date 'notadate'" in message.all_text()
    assert page.by_id("q").attrs["value"] == "Sadr"  # the search box is still there
    chip = [a for a in page.find("a", class_="chip")]
    assert [c.all_text() for c in chip] == ["From notadate×"]
    assert chip[0].attrs["href"] == "/?q=Sadr"
    assert page.by_id("from").attrs["value"] == ""  # a date input holds only ISO dates
    assert not page.find("li", class_="hit")


@pytest.mark.parametrize("url, detail", [
    ("/?per_page=500", "per_page must be between 1 and 100"),
    ("/?page=abc", "page must be an integer"),
    ("/?sort=sideways", "sort must be one of"),
    ("/?from=2020-02-01&to=2020-01-01", "from must not be after to"),
    ("/?page=2000", "must not exceed"),
])
def test_other_bad_parameters_are_messages_too(client, url, detail):
    page = get_page(client, url, 400)
    assert detail in page.by_id("message").all_text()


def test_unknown_article_is_a_404_page(client):
    response = client.get("/articles/no-such-article")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "no article with id" in html and "no-such-article" in html
    assert 'href="/"' in html
    response = client.get("/articles/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert response.status_code == 404
    assert "<script>alert" not in response.get_data(as_text=True)


def test_error_page_for_unknown_routes(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)


# -- the article page ------------------------------------------------------------------------


def test_article_page_marks_the_searched_words_and_links_related(client):
    page = get_page(client, f"/articles/{SADR_A}?q=sadr+baghdad")
    marks = {m.all_text().lower() for m in page.find("mark")}
    assert marks == {"sadr", "baghdad"}
    assert page.find("time")[0].attrs["datetime"] == "2020-01-24"
    related = page.by_id("related")
    versions = [ol for ol in page.find("ol") if related in ol.ancestors()
                and "versions" in ol.attrs["class"]]
    links = [a.attrs["href"] for a in page.find("a") if versions[0] in a.ancestors()]
    assert links == [f"/articles/{SADR_B}?q=sadr+baghdad"]  # the other version of the story
    assert page.by_id("versions-heading").all_text() == "Other versions of this story"
    back = page.by_id("back-link")
    assert back.attrs["href"] == "/?q=sadr+baghdad"
    assert "matches for “sadr baghdad” highlighted" in page.by_id("match-note").all_text()


def test_article_page_without_query_marks_nothing(client):
    page = get_page(client, f"/articles/{SADR_B}")
    assert not page.find("mark")
    assert page.find("h1")[0].all_text().startswith("Supporters of Iraqi cleric")
    assert len([p for p in page.find("p") if p.parent.attrs.get("class") == "article-body"]) > 2


def test_article_facets_link_to_their_searches(corpus_client):
    page = get_page(corpus_client, "/articles/a01")
    hrefs = {a.all_text(): a.attrs["href"] for a in page.find("a", class_="tag")}
    assert hrefs == {"grain": "/?topics=grain", "trade": "/?topics=trade", "usa": "/?places=usa",
                     "Wire A": "/?source=Wire+A"}


# -- pagination, facets, sort, chips ---------------------------------------------------------


def test_pagination_links(corpus_client):
    page = get_page(corpus_client, "/?q=wheat&topics=grain")
    nav = page.by_id("pages")
    assert nav.tag == "nav" and nav.attrs["aria-label"] == "Pagination"
    links = [a for a in page.find("a") if nav in a.ancestors()]
    assert [a.all_text() for a in links] == ["1", "2", "3", "Next ›"]
    assert links[0].attrs["aria-current"] == "page"
    assert query(links[2].attrs["href"]) == {"q": ["wheat"], "topics": ["grain"], "page": ["3"]}
    assert query(links[-1].attrs["href"])["page"] == ["2"]

    page = get_page(corpus_client, "/?q=wheat&topics=grain&page=3")
    assert page.find("ol", class_="hits")[0].attrs["start"] == "21"
    links = [a for a in page.find("a") if page.by_id("pages") in a.ancestors()]
    assert [a.all_text() for a in links] == ["‹ Previous", "1", "2", "3"]
    assert [a.all_text() for a in links if a.attrs.get("aria-current")] == ["3"]
    assert len(page.find("li", class_="hit")) == 5


def test_no_pagination_for_one_page(client):
    page = get_page(client, "/?q=Sadr")
    assert "hidden" in page.by_id("pages").attrs


def test_facet_checkboxes_have_labels_and_counts(corpus_client):
    page = get_page(corpus_client, "/?q=wheat&topics=trade")
    boxes = page.find("input", type="checkbox")
    assert boxes
    for box in boxes:
        labels = [a for a in box.ancestors() if a.tag == "label"]
        assert labels and labels[0].all_text().strip(), box.attrs
        assert box.attrs["form"] == "search-form"
    groups = {f.attrs["data-facet"]: f for f in page.find("fieldset")}
    assert list(groups) == ["topics", "places", "source"]  # only facets that have values
    legend = [c for c in groups["topics"].children if c.tag == "legend"][0]
    assert legend.all_text() == "Topics"
    topics = {b.attrs["value"]: "checked" in b.attrs for b in boxes if b.attrs["name"] == "topics"}
    assert topics == {"grain": False, "trade": True, "<b>bold</b>": False}
    label = [a for a in boxes[0].ancestors() if a.tag == "label"][0].all_text().split()
    assert label[0] == "grain" and label[-1].isdigit()


def test_chips_and_clear_all(corpus_client):
    page = get_page(corpus_client,
                    "/?q=wheat&from=2020-01-01&topics=grain&topics=trade&sort=oldest")
    chips = {a.all_text().rstrip("×"): a.attrs for a in page.find("a", class_="chip")}
    assert list(chips) == ["From 2020-01-01", "Topics: grain", "Topics: trade"]
    assert chips["Topics: grain"]["aria-label"] == "Remove filter Topics: grain"
    assert query(chips["Topics: grain"]["href"]) == {
        "q": ["wheat"], "from": ["2020-01-01"], "topics": ["trade"], "sort": ["oldest"]}
    clear = page.find("a", class_="clear-all")[0]
    assert query(clear.attrs["href"]) == {"q": ["wheat"], "sort": ["oldest"]}
    assert page.by_id("from").attrs["value"] == "2020-01-01"


def test_sort_links_keep_the_search_and_reset_the_page(corpus_client):
    page = get_page(corpus_client, "/?q=wheat&topics=grain&page=2")
    links = {a.all_text(): a for a in page.by_id("sort").children if a.tag == "a"}
    assert list(links) == ["Relevance", "Newest", "Oldest"]
    assert links["Relevance"].attrs.get("aria-current") == "true"
    assert query(links["Oldest"].attrs["href"]) == {"q": ["wheat"], "topics": ["grain"],
                                                    "sort": ["oldest"]}
    page = get_page(corpus_client, "/?q=wheat&sort=oldest")
    dates = [t.attrs["datetime"] for t in page.find("time")]
    assert dates == sorted(dates)
    assert page.find("input", name="sort")[0].attrs["value"] == "oldest"  # kept by the form


def test_histogram_bars_link_to_their_dates(corpus_client):
    page = get_page(corpus_client, "/?q=wheat&from=2020-02-01&to=2020-02-29")
    bars = page.find("a", class_="bar") + page.find("a", class_="bar selected")
    assert len(bars) == 10  # months January … October (the histogram ignores the date filter)
    feb = [b for b in bars if b.attrs["data-from"] == "2020-02-01"][0]
    assert feb.attrs["class"] == "bar selected"
    # Choosing the chosen bar again clears the date filter; another bar selects its month.
    assert query(feb.attrs["href"]) == {"q": ["wheat"]}
    assert re.fullmatch(r"Feb 2020: \d+ articles? \(selected; choose again to clear\)",
                        feb.attrs["aria-label"])
    mar = [b for b in bars if b.attrs["data-from"] == "2020-03-01"][0]
    assert mar.attrs["class"] == "bar"
    assert query(mar.attrs["href"]) == {"q": ["wheat"], "from": ["2020-03-01"],
                                        "to": ["2020-03-31"]}
    assert re.fullmatch(r"Mar 2020: \d+ articles?", mar.attrs["aria-label"])
    fills = [c.attrs["class"] for b in bars for c in b.children]
    assert all(re.fullmatch(r"fill h([1-9]|1\d|20)", f) for f in fills)


def test_did_you_mean_link(corpus_client):
    page = get_page(corpus_client, "/?q=wehat")
    dym = page.by_id("dym")
    assert "hidden" not in dym.attrs
    link = [a for a in page.find("a") if dym in a.ancestors()][0]
    assert query(link.attrs["href"]) == {"q": ["wheat"]}
    assert [m.all_text() for m in page.find("mark") if dym in m.ancestors()] == ["wheat"]


def test_no_results_state(client):
    page = get_page(client, "/?q=zzzyzzy")
    assert page.by_id("summary").all_text().startswith("No results for “zzzyzzy”")
    assert page.find("div", class_="empty")


# -- security headers and no inline code -----------------------------------------------------


@pytest.mark.parametrize("url, status", [("/", 200), ("/?q=Sadr", 200), ("/?from=x", 400),
                                         (f"/articles/{SADR_A}?q=sadr", 200),
                                         ("/articles/nope", 404)])
def test_csp_and_no_inline_script_or_style(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    html = response.get_data(as_text=True)
    page = Page(html)
    scripts = page.find("script")
    assert [s.attrs.get("src") for s in scripts] == ["/static/app.js"]
    assert all(not s.all_text().strip() for s in scripts)
    assert not page.find("style")
    for el in page.elements:
        assert "style" not in el.attrs, el.tag
        assert not [a for a in el.attrs if a.startswith("on")], (el.tag, el.attrs)
        for attr in ("href", "src", "action"):
            assert not (el.attrs.get(attr) or "").lower().startswith("javascript:")
    # Nothing is loaded from anywhere but the service itself.
    for el in page.elements:
        for attr in ("href", "src"):
            value = el.attrs.get(attr) or ""
            assert not re.match(r"(https?:)?//", value), value


def test_static_files_are_served(client):
    for path, mime in (("/static/app.js", "text/javascript"), ("/static/app.css", "text/css"),
                       ("/static/favicon.svg", "image/svg+xml")):
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == mime
        response.close()


def test_article_source_link_only_for_web_addresses(client_for):
    client = client_for([
        {"id": "web", "date": "2020-01-01", "title": "Web", "body": "Text.",
         "url": "https://example.com/story?a=1&b=2"},
        {"id": "js", "date": "2020-01-01", "title": "Js", "body": "Text.",
         "url": "javascript:alert(1)"},
    ])
    page = get_page(client, "/articles/web")
    link = page.find("a", class_="external")[0]
    assert link.attrs["href"] == "https://example.com/story?a=1&b=2"
    assert "noopener" in link.attrs["rel"]
    page = get_page(client, "/articles/js")
    assert not page.find("a", class_="external")
    assert "javascript:" not in client.get("/articles/js").get_data(as_text=True)


def test_per_page_and_api_options_are_kept_in_links(corpus_client):
    page = get_page(corpus_client, "/?q=wheat&per_page=5&interval=week&collapse=false")
    assert len(page.find("li", class_="hit")) == 5
    nav = page.by_id("pages")
    links = [a for a in page.find("a") if nav in a.ancestors()]
    assert [a.all_text() for a in links] == ["1", "2", "3", "6", "Next ›"]
    assert query(links[1].attrs["href"]) == {"q": ["wheat"], "page": ["2"], "per_page": ["5"],
                                             "interval": ["week"], "collapse": ["false"]}
    hidden = {i.attrs["name"]: i.attrs["value"] for i in page.find("input", type="hidden")}
    assert hidden == {"per_page": "5", "interval": "week", "collapse": "false"}
    assert "week" in page.find("div", class_="bars")[0].attrs["aria-label"]
