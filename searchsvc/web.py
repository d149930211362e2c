"""The search page and the article page (contract §4), rendered on the server.

The page is usable without JavaScript: ``GET /?q=…`` renders the same results the API returns.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from searchsvc import search as core
from searchsvc.app import engine
from searchsvc.query import parse_search_args

web = Blueprint("web", __name__)


@web.get("/")
def index():
    sq = parse_search_args(request.args)
    result = core.search(engine().view(), sq)
    return render_template("search.html", sq=sq, result=result)


@web.get("/articles/<path:article_id>")
def article(article_id: str):
    view = engine().view()
    art = core.get_article(view, article_id)
    related = core.related(view, article_id, 5)
    return render_template("article.html", article=art, related=related)
