"""The Flask application factory.

``create_app()`` reads the settings table (``SEARCHSVC_*`` environment variables, overridable by
``test_config``), attaches the configured engine (``engines.open_engine``; flaskr's
``init_app`` habit: the engine lives and dies with the app), and registers the API and page
blueprints, the security headers, and the one error handler through which every error
response is rendered.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from searchsvc import config
from searchsvc.engine import Engine
from searchsvc.engines import open_engine
from searchsvc.errors import PROBLEM_MIME, PayloadTooLarge, ServiceError, problem

log = logging.getLogger("searchsvc")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 414: "uri_too_long",
               429: "rate_limited", 503: "unavailable"}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config.from_env())
    if test_config:
        app.config.update(test_config)
    if not app.config.get("INGEST_DIR"):
        app.config["INGEST_DIR"] = str(Path(app.config["INDEX"]) / "ingested")
    # The hard cap werkzeug enforces even on bodies without a length; limit_request applies
    # the smaller limit of every route but ingest.
    app.config["MAX_CONTENT_LENGTH"] = max(
        MAX_BODY, int(float(app.config["MAX_INGEST_MB"]) * 1024 * 1024))
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider
    # /api//search must be a 404 problem, not werkzeug's HTML redirect to /api/search.
    app.url_map.merge_slashes = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["searchsvc"] = open_engine(app.config)

    from searchsvc.web import observe
    from searchsvc.web.api import api
    from searchsvc.web.pages import web

    observe.init_app(app)  # first: every later hook and the error handler see the request id
    app.register_blueprint(api)
    app.register_blueprint(web)
    app.register_error_handler(Exception, handle_exception)
    app.before_request(limit_request)
    app.after_request(security_headers)
    app.extensions["searchsvc.rate"] = RateLimiter(float(app.config["RATE_LIMIT"]))
    return app


MAX_QUERY_STRING = 16 * 1024
MAX_BODY = 64 * 1024  # every request body but an ingest's (max_ingest_mb)


class RateLimiter:
    """Token bucket per client address: ``rate`` requests per second, bursts up to 2 seconds'
    worth. Per server process (each gunicorn worker counts its own share)."""

    def __init__(self, rate: float, clock=time.monotonic):
        self.rate = rate
        self.burst = max(1.0, 2 * rate)
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """0 if the request may proceed, else seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self.lock:
            tokens, last = self.buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self.buckets[client] = (tokens - 1, now)
                if len(self.buckets) > 100_000:  # forget idle clients rather than grow forever
                    self.buckets.clear()
                return 0.0
            self.buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate


def limit_request() -> None:
    from flask import current_app

    limit = MAX_BODY
    if request.method == "POST" and request.path == "/api/articles":
        limit = int(float(current_app.config["MAX_INGEST_MB"]) * 1024 * 1024)
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request bodies are limited to {limit:,} bytes here")
    try:
        request.args  # noqa: B018 - parse now, so bad bytes are a 400 here, not a 500 later
    except UnicodeDecodeError:
        raise ServiceError("the query string is not valid UTF-8", status=400,
                           code="invalid_parameter") from None
    if len(request.query_string) > MAX_QUERY_STRING:
        raise ServiceError(f"the query string is longer than {MAX_QUERY_STRING:,} bytes",
                           status=414, code="uri_too_long")
    if request.path.startswith("/api/"):
        wait = current_app.extensions["searchsvc.rate"].retry_after(request.remote_addr or "-")
        if wait:
            raise ServiceError("too many requests; slow down", status=429, code="rate_limited",
                               headers={"Retry-After": str(max(1, math.ceil(wait)))})


def engine() -> Engine:
    from flask import current_app

    return current_app.extensions["searchsvc"]


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def handle_exception(exc: Exception) -> Response:
    """Render any error: problem+json under /api/ and at /metrics, an HTML page elsewhere.
    Never a traceback."""
    extra: dict = {}
    if isinstance(exc, ServiceError):
        status, code, detail, headers = exc.status, exc.code, exc.detail, exc.headers
        extra = exc.extra
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        detail = exc.description or ""
        headers = {}
        allowed = getattr(exc, "valid_methods", None)
        if status == 405 and allowed:
            headers["Allow"] = ", ".join(allowed)
    else:
        from searchsvc.web.observe import request_id, shown_path

        log.exception("unhandled error on %s %s rid=%s", request.method, shown_path(),
                      request_id())
        status, code, detail, headers = 500, "internal_error", "unexpected server error", {}
    # /metrics is read by scrapers, not people: its errors are problems too (as its OpenAPI
    # entry says), never the HTML page.
    if request.path.startswith("/api/") or request.path in ("/api", "/metrics"):
        response = jsonify(problem(status, code, detail, **extra))
        response.mimetype = PROBLEM_MIME
    else:
        response = Response(
            render_template("error.html", status=status, detail=detail), mimetype="text/html")
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
    return response
