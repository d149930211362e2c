"""A Flask app that answers every request with the same JSON document.

Served by the HTTP phase exactly like searchsvc (gunicorn, 2 sync workers) and driven with the
same requests, it shows what the framework, the server and the load generator cost by
themselves. The document is about the size of a typical search response (10 hits with
snippets and facets), serialised once at import.
"""

from __future__ import annotations

import json

from flask import Flask

_HIT = {"id": "reuters-0", "date": "1987-03-02", "title": "x" * 60, "title_html": "x" * 60,
        "score": 7.5, "snippets": ["… " + "y" * 170 + " …"] * 3, "url": "/articles/reuters-0",
        "source": None, "topics": ["crude"], "places": ["usa"], "people": [], "orgs": []}
BODY = json.dumps({
    "query": {"q": "", "sort": "relevance", "page": 1, "per_page": 10, "filters": {}},
    "total": 1234, "took_ms": 0.0, "hits": [_HIT] * 10,
    "facets": {"date": {"interval": "month", "buckets": [
        {"value": f"1987-{m:02d}-01", "count": 100, "selected": False} for m in range(2, 11)]},
        **{name: [{"value": f"v{i}", "count": 10, "selected": False} for i in range(20)]
           for name in ("topics", "places", "people", "orgs", "source")}},
    "did_you_mean": None,
}).encode("utf-8")

app = Flask(__name__)


@app.route("/", defaults={"path": ""})
@app.route("/<path:path>")
def constant(path: str):
    return app.response_class(BODY, mimetype="application/json")
