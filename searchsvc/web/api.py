"""The JSON API blueprint (``/api/*``): parse the request, call the core, return JSON."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from searchsvc import config
from searchsvc.core import documents, export, feed, spelling, terms, timeline
from searchsvc.core import search as core
from searchsvc.core.params import parse_search_args
from searchsvc.errors import (
    BuildInProgress,
    Forbidden,
    InvalidParameter,
    LockedError,
    NotFound,
    Unauthorized,
)
from searchsvc.ingest import ingested, records
from searchsvc.ingest.locks import BUILD_LOCK, Lock
from searchsvc.web import observe
from searchsvc.web.app import engine
from searchsvc.web.openapi import openapi_document

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


def _article_id(article_id: str) -> str:
    # Ids are looked up in the index, never used as paths; reject the obviously bogus early.
    if not article_id or len(article_id) > 1000 or "\x00" in article_id:
        raise NotFound("no such article")
    return article_id


def require_admin() -> None:
    token = current_app.config.get("ADMIN_TOKEN") or ""
    if not token:
        raise NotFound("this endpoint is disabled (no admin token configured)")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized()
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Forbidden("the admin token is not valid")


def _index_dir() -> Path:
    return Path(current_app.config["INDEX"])


def _ingest_dir() -> Path:
    return Path(current_app.config["INGEST_DIR"])


def _sources() -> list[Path]:
    return [Path(current_app.config["SOURCE"])]


def _max_bytes() -> int:
    return int(float(current_app.config["MAX_FILE_MB"]) * 1024 * 1024)


@api.get("/search")
def search():
    sq = parse_search_args(request.args, current_app.config["MAX_QUERY_CHARS"])
    return jsonify(core.search(engine().snapshot(), sq).to_dict())


@api.get("/articles/<path:article_id>/related")
def related(article_id: str):
    limit = _limit("limit", 5, 50)
    hits = documents.related(engine().snapshot(), _article_id(article_id), limit)
    return jsonify({"id": article_id, "related": [h.__dict__ for h in hits]})


@api.get("/articles/<path:article_id>")
def article(article_id: str):
    return jsonify(documents.get_article(engine().snapshot(), _article_id(article_id)).to_dict())


@api.post("/articles")
def post_articles():
    require_admin()
    try:
        result = ingested.ingest(engine(), _index_dir(), _sources(), _ingest_dir(),
                                 request.get_data(cache=False), _max_bytes())
    except InvalidParameter as exc:
        # Nothing was accepted: the lines the problem lists still count as rejected.
        observe.count_ingested(0, len(exc.extra.get("rejected", [])))
        raise
    observe.count_ingested(len(result["accepted"]), len(result["rejected"]))
    response = jsonify(result)
    response.status_code = 207 if result["rejected"] else 200
    return response


@api.delete("/articles/<path:article_id>")
def delete_article(article_id: str):
    require_admin()
    ingested.delete(engine(), _index_dir(), _sources(), _ingest_dir(), _article_id(article_id),
                    _max_bytes())
    return Response(status=204)


@api.get("/suggest")
def suggest():
    q = request.args.get("q", "")
    if len(q) > 200:
        raise InvalidParameter("q must be at most 200 characters")
    limit = _limit("limit", 8, 50)
    items = spelling.suggest(engine().snapshot(), q, limit)
    return jsonify({"q": q, "suggestions": [i["text"] for i in items], "items": items})


@api.get("/stats")
def stats():
    doc = documents.stats(engine().snapshot())
    last = records.last(_index_dir())
    doc["last_build"] = records.public(last) if last else None
    return jsonify(doc)


@api.get("/health")
def health():
    snap = engine().snapshot()  # raises IndexUnavailable → 503 problem
    return jsonify({"status": "ok", "documents": snap.info().documents,
                    "generation": snap.generation, "engine": engine().name})


@api.post("/reindex")
def reindex():
    require_admin()
    index_dir = _index_dir()
    try:
        with Lock(index_dir, BUILD_LOCK, what="another full build"):
            pass
    except LockedError as exc:
        raise BuildInProgress(exc.detail) from None
    # A build this service started a moment ago may not hold the lock yet (its process is
    # still starting): its record says so, and a second one would only fail on the lock.
    pending = records.last(index_dir)
    if pending is not None and pending.get("state") == "running" and pending.get("mode") == "full":
        raise BuildInProgress(f"build {pending['id']} is running; follow it at "
                              f"/api/builds/{pending['id']}")
    sources = ingested.with_ingest_dir(_sources(), _ingest_dir())
    build_id = records.new_id()
    # A separate process: the build uses both cores without competing with this worker's GIL,
    # and survives the worker being recycled. Its lock serialises builds; the settings it
    # runs with are this app's.
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for s in config.SETTINGS:
        value = current_app.config.get(s.name.upper())
        if value is not None:
            env[s.envvar] = str(value)
    proc = subprocess.Popen(
        [sys.executable, "-m", "searchsvc", "index", *map(str, sources), "--index",
         str(index_dir), "--build-id", build_id],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=env)
    records.write(index_dir, {"id": build_id, "state": "running", "mode": "full",
                              "started": None, "finished": None, "pid": proc.pid,
                              "sources": [str(s) for s in sources], "summary": {},
                              "problems": [], "generation": None, "error": None})
    records.watch(index_dir, build_id, proc)
    response = jsonify({"status": "accepted", "build": build_id,
                        "sources": [str(s) for s in sources]})
    response.status_code = 202
    response.headers["Location"] = f"/api/builds/{build_id}"
    return response


@api.get("/builds/last")
def last_build():
    found = records.last(_index_dir())
    if found is None:
        raise NotFound("no build has been recorded for this index")
    return jsonify(records.public(found))


@api.get("/builds/<build_id>")
def build_record(build_id: str):
    found = records.read(_index_dir(), build_id)
    if found is None:
        raise NotFound(f"no build {build_id!r}")
    return jsonify(records.public(found))


def _wants_csv() -> bool:
    fmt = (request.args.get("format") or "").strip().lower()
    if fmt:
        if fmt not in ("csv", "json"):
            raise InvalidParameter("format must be csv or json")
        return fmt == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


@api.get("/timeline")
def timeline_view():
    sq = parse_search_args(request.args, current_app.config["MAX_QUERY_CHARS"])
    # parse_search_args reads only the last q (for the filters); every series is checked here.
    queries = timeline.series_of(request.args.getlist("q"), current_app.config["MAX_QUERY_CHARS"])
    doc = timeline.timeline(engine().snapshot(), sq, queries)
    if _wants_csv():
        return Response(timeline.to_csv(doc), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 'attachment; filename="searchsvc-timeline.csv"'})
    return jsonify(doc)


@api.get("/export")
def export_view():
    # An export streams every match, so the page (and the result window it is held to) means
    # nothing here: page and per_page are dropped rather than checked, and a link copied from
    # page 3 of a search exports all of it.
    args = request.args.copy()
    args.poplist("page")
    args.poplist("per_page")
    sq = parse_search_args(args, current_app.config["MAX_QUERY_CHARS"])
    fmt = (request.args.get("format") or "ndjson").strip().lower()
    if fmt not in export.FORMATS:
        raise InvalidParameter("format must be csv or ndjson")
    columns = export.columns_of(request.args.get("fields"))
    snap = engine().snapshot()
    records = export.rows(snap, sq, columns)
    # The first batch is read before the response starts, so a bad query is still a 400.
    first = next(records, None)

    def chained():
        if first is not None:
            yield first
        yield from records

    body = export.csv_lines(chained(), columns) if fmt == "csv" else export.ndjson(chained())
    stamp = snap.generation
    response = Response(stream_with_context(body),
                        mimetype="text/csv" if fmt == "csv" else "application/x-ndjson")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="searchsvc-export-{stamp}.{fmt}"')
    response.headers["X-Index-Generation"] = stamp
    return response


@api.get("/feed.atom")
def feed_view():
    sq = parse_search_args(request.args, current_app.config["MAX_QUERY_CHARS"])
    root = request.host_url.rstrip("/")
    query = request.query_string.decode("utf-8", "replace")
    body = feed.feed(engine().snapshot(), sq, request.url, root + "/" + (
        f"?{query}" if query else ""), root)
    return Response(body, mimetype=feed.MIME)


@api.get("/terms")
def terms_view():
    sq = parse_search_args(request.args, current_app.config["MAX_QUERY_CHARS"])
    size = _limit("size", terms.SIZE, 100)
    return jsonify(terms.distinctive(engine().snapshot(), sq, size))


@api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
