"""The Flask application factory.

``create_app()`` reads the settings table (``SEARCHSVC_*`` environment variables, overridable by
``test_config``), attaches an :class:`~searchsvc.searcher.Engine` for the configured index, and
registers the API and page blueprints, the security headers, and the one error handler through
which every error response is rendered.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from searchsvc import config
from searchsvc.errors import PROBLEM_MIME, ServiceError, problem
from searchsvc.searcher import Engine

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
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["searchsvc"] = Engine(app.config["INDEX"], app.config["MAX_TERMS"])

    from searchsvc.api import api
    from searchsvc.web import web

    app.register_blueprint(api)
    app.register_blueprint(web)
    app.register_error_handler(Exception, handle_exception)
    app.after_request(security_headers)
    return app


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
    """Render any error: problem+json under /api/, an HTML page elsewhere. Never a traceback."""
    if isinstance(exc, ServiceError):
        status, code, detail, headers = exc.status, exc.code, exc.detail, exc.headers
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        detail = exc.description or ""
        headers = {}
        if status == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
        status, code, detail, headers = 500, "internal_error", "unexpected server error", {}
    if request.path.startswith("/api/") or request.path == "/api":
        response = jsonify(problem(status, code, detail))
        response.mimetype = PROBLEM_MIME
    else:
        response = Response(
            render_template("error.html", status=status, detail=detail), mimetype="text/html")
    response.status_code = status
    for name, value in headers.items():
        response.headers[name] = value
    return response
