"""A search as an Atom 1.0 feed (RFC 4287): subscribe to a query in any feed reader.

``GET /api/feed.atom`` takes every search parameter and lists the newest :data:`ENTRIES`
matches, newest first, whatever the ``sort``. The feed's id is its own URL (a search is its
identity); each entry's id and link are the article page's absolute URL, ``updated`` is the
article's date (undated articles: the feed's time of building), the summary is plain text (the
article's opening), escaped by the XML writer. Built with ``xml.etree``, so nothing is
assembled from strings.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import replace

from searchsvc.core import search as core
from searchsvc.core.params import SearchQuery
from searchsvc.engine import Snapshot

ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50
MIME = "application/atom+xml"


def _stamp(day: dt.date | None, fallback: dt.datetime) -> str:
    if day is None:
        return fallback.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"{day.isoformat()}T00:00:00Z"


def feed(snapshot: Snapshot, sq: SearchQuery, self_url: str, page_url: str, root: str) -> bytes:
    """The feed document. ``self_url`` is this feed's absolute URL, ``page_url`` the search
    page's, ``root`` the service's (``http://host:port``)."""
    search = core.search(snapshot, replace(sq, sort="newest", page=1, per_page=ENTRIES,
                                           collapse=False))
    now = dt.datetime.now(dt.UTC)
    ET.register_namespace("", ATOM)
    f = ET.Element(f"{{{ATOM}}}feed")
    what = f"“{sq.q}”" if sq.q else "all articles"
    ET.SubElement(f, f"{{{ATOM}}}title").text = f"searchsvc: {what}"
    ET.SubElement(f, f"{{{ATOM}}}id").text = self_url
    dates = [dt.date.fromisoformat(h.date) for h in search.hits if h.date]
    ET.SubElement(f, f"{{{ATOM}}}updated").text = _stamp(max(dates) if dates else None, now)
    ET.SubElement(f, f"{{{ATOM}}}link", rel="self", type=MIME, href=self_url)
    ET.SubElement(f, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=page_url)
    author = ET.SubElement(f, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "searchsvc"
    ET.SubElement(f, f"{{{ATOM}}}generator").text = "searchsvc"
    for hit in search.hits:
        e = ET.SubElement(f, f"{{{ATOM}}}entry")
        link = root + hit.url
        ET.SubElement(e, f"{{{ATOM}}}title").text = hit.title or hit.id
        ET.SubElement(e, f"{{{ATOM}}}id").text = link
        day = dt.date.fromisoformat(hit.date) if hit.date else None
        ET.SubElement(e, f"{{{ATOM}}}updated").text = _stamp(day, now)
        ET.SubElement(e, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=link)
        summary = ET.SubElement(e, f"{{{ATOM}}}summary", type="text")
        summary.text = _plain(hit.snippets[0]) if hit.snippets else ""
        for name in ("topics", "places", "people", "orgs"):
            for value in getattr(hit, name):
                ET.SubElement(e, f"{{{ATOM}}}category", term=value, label=f"{name}: {value}")
    return ET.tostring(f, encoding="utf-8", xml_declaration=True)


def _plain(snippet_html: str) -> str:
    """A snippet's text without its markup (the summary is text, not HTML)."""
    import html

    return html.unescape(snippet_html.replace("<mark>", "").replace("</mark>", ""))

