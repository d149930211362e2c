"""The JSON API blueprint (``/api/*``): parse the request, call the core, return JSON."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request

from searchsvc import search as core
from searchsvc.app import engine
from searchsvc.errors import InvalidParameter, NotFound, ServiceError
from searchsvc.indexer import BuildLock, LockedError
from searchsvc.openapi import openapi_document
from searchsvc.query import parse_search_args

api = Blueprint("api", __name__, url_prefix="/api")


def _limit(name: str, default: int, high: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(f"{name} must be an integer") from None
    if not 1 <= value <= high:
        raise InvalidParameter(f"{name} must be between 1 and {high}")
    return value


@api.get("/search")
def search():
    sq = parse_search_args(request.args, current_app.config["MAX_QUERY_CHARS"])
    facet_size = _limit("facet_size", core.FACET_SIZE, 1000)
    return jsonify(core.search(engine().view(), sq, facet_size).to_dict())


def _article_id(article_id: str) -> str:
    # Ids are looked up in the index, never used as paths; reject the obviously bogus early.
    if not article_id or len(article_id) > 1000 or "\x00" in article_id:
        raise NotFound("no such article")
    return article_id


@api.get("/articles/<path:article_id>/related")
def related(article_id: str):
    limit = _limit("limit", 5, 50)
    hits = core.related(engine().view(), _article_id(article_id), limit)
    return jsonify({"id": article_id, "related": [h.__dict__ for h in hits]})


@api.get("/articles/<path:article_id>")
def article(article_id: str):
    return jsonify(core.get_article(engine().view(), _article_id(article_id)).to_dict())


@api.get("/suggest")
def suggest():
    q = request.args.get("q", "")
    if len(q) > 200:
        raise InvalidParameter("q must be at most 200 characters")
    limit = _limit("limit", 8, 50)
    return jsonify({"q": q, "suggestions": core.suggest(engine().view(), q, limit)})


@api.get("/stats")
def stats():
    return jsonify(core.stats(engine().view()))


@api.get("/health")
def health():
    view = engine().view()  # raises IndexUnavailable → 503 problem
    return jsonify({"status": "ok", "documents": view.doc_count,
                    "generation": view.generation.name})


@api.post("/reindex")
def reindex():
    token = current_app.config.get("ADMIN_TOKEN") or ""
    if not token:
        raise NotFound("reindexing over HTTP is disabled (no admin token configured)")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise ServiceError("an admin token is required", status=401, code="unauthorized",
                           headers={"WWW-Authenticate": 'Bearer realm="searchsvc"'})
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ServiceError("the admin token is not valid", status=403, code="forbidden")
    index_dir = Path(current_app.config["INDEX"])
    try:
        with BuildLock(index_dir):
            pass
    except LockedError as exc:
        raise ServiceError(str(exc), status=409, code="build_in_progress") from None
    source = str(current_app.config["SOURCE"])
    # A separate process: the build uses both cores without competing with this worker's GIL,
    # and survives the worker being recycled. The indexer's lock serialises builds.
    proc = subprocess.Popen(
        [sys.executable, "-m", "searchsvc", "index", source, "--index", str(index_dir)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    response = jsonify({"status": "accepted", "source": source, "pid": proc.pid})
    response.status_code = 202
    return response


@api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
