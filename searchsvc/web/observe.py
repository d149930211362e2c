"""What an operator sees: request ids, one access-log line per request, Prometheus metrics, CORS.

* **Request ids.** An incoming ``X-Request-Id`` (printable, at most 128 characters) is kept,
  otherwise one is made; it is returned on every response and written on every log line.
* **Access log.** One line per request on the ``searchsvc.access`` logger: method, path (query
  parameters that look like secrets — ``token``, ``key``, ``password`` — redacted; the
  ``Authorization`` header is never logged), status, duration and request id. Plain text by
  default, JSON with ``SEARCHSVC_LOG_FORMAT=json``.
* **Metrics** at ``GET /metrics`` in the Prometheus text format (``prometheus-client``): request
  counts and latency histograms by endpoint and status, articles ingested and rejected (by
  ``POST /api/articles``), and — read when scraped — the served generation, its
  document count and the last build's duration and result. Under gunicorn every worker writes
  its samples to ``PROMETHEUS_MULTIPROC_DIR`` (set up by ``serve``) and a scrape adds them up.
  With ``SEARCHSVC_METRICS_TOKEN`` set, a scrape needs ``Authorization: Bearer <token>``.
* **CORS.** For origins listed in ``SEARCHSVC_CORS_ORIGINS`` (comma-separated, or ``*``) API
  responses carry ``Access-Control-Allow-Origin``, and a preflight ``OPTIONS`` is answered 204
  with the allowed methods and headers; every other ``OPTIONS`` is a 204 with ``Allow`` (Flask
  would answer 200 with an empty HTML body). No origin is allowed by default.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from searchsvc.errors import Forbidden, Unauthorized

access_log = logging.getLogger("searchsvc.access")
_ID = re.compile(r"[\x21-\x7e]{1,128}")
_SECRET = re.compile(r"token|key|password|secret|auth", re.IGNORECASE)
_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)

REQUESTS = Counter("searchsvc_http_requests", "HTTP requests answered",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("searchsvc_http_request_duration_seconds", "Time to answer a request",
                    ["endpoint"], buckets=_BUCKETS)
INGESTED = Counter("searchsvc_ingested_articles", "Articles posted to POST /api/articles",
                   ["result"])


def count_ingested(accepted: int, rejected: int) -> None:
    """Count what one ``POST /api/articles`` did with its lines."""
    INGESTED.labels("accepted").inc(accepted)
    INGESTED.labels("rejected").inc(rejected)


def request_id() -> str:
    return getattr(g, "request_id", "-")


def _start() -> None:
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if _ID.fullmatch(given) else uuid.uuid4().hex
    g.started = time.perf_counter()


def shown_path() -> str:
    """The path and query string as logged: secret-looking parameters redacted."""
    pairs = parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)
    if not pairs:
        return request.path
    safe = [(k, "[redacted]" if _SECRET.search(k) else v) for k, v in pairs]
    return f"{request.path}?{urlencode(safe)}"


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - getattr(g, "started", time.perf_counter())
    response.headers["X-Request-Id"] = request_id()
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    LATENCY.labels(endpoint).observe(elapsed)
    record = {"method": request.method, "path": shown_path(), "status": response.status_code,
              "ms": round(elapsed * 1000, 1), "request_id": request_id()}
    if current_app.config.get("LOG_FORMAT") == "json":
        access_log.info(json.dumps(record, ensure_ascii=False))
    else:
        access_log.info("%s %s %s %.1f ms rid=%s", record["method"], record["path"],
                        record["status"], record["ms"], record["request_id"])
    return _cors(response)


# -- CORS ------------------------------------------------------------------------------------


def _allowed_origin() -> str | None:
    origin = request.headers.get("Origin")
    allowed = [o.strip() for o in str(current_app.config.get("CORS_ORIGINS") or "").split(",")
               if o.strip()]
    if not origin or not allowed:
        return None
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


def _cors(response: Response) -> Response:
    origin = _allowed_origin()
    if origin and request.path.startswith("/api/"):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = (
            "X-Request-Id, X-Index-Generation, Location, Content-Disposition")
        if origin != "*":
            response.headers.add("Vary", "Origin")
    return response


def _options() -> Response | None:
    """Every OPTIONS: 204 with ``Allow``; a CORS preflight from an allowed origin also gets
    the methods and headers it may use."""
    if request.method != "OPTIONS" or request.url_rule is None:
        return None
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = sorted(adapter.allowed_methods())
    response = Response(status=204)
    response.headers["Allow"] = ", ".join(allowed)
    if request.headers.get("Access-Control-Request-Method") and _allowed_origin():
        response.headers["Access-Control-Allow-Methods"] = ", ".join(allowed)
        response.headers["Access-Control-Allow-Headers"] = (
            "Authorization, Content-Type, X-Request-Id")
        response.headers["Access-Control-Max-Age"] = "600"
    return response


# -- metrics ---------------------------------------------------------------------------------


class _IndexCollector:
    """Gauges read when scraped: what the served index is, and how the last build went."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from searchsvc.ingest import records

        gen = GaugeMetricFamily("searchsvc_index_generation_info", "The served generation",
                                labels=["engine", "generation"])
        docs = GaugeMetricFamily("searchsvc_index_documents", "Articles in the served index")
        try:
            info = self.app.extensions["searchsvc"].snapshot().info()
            gen.add_metric([info.engine, info.generation], 1)
            docs.add_metric([], info.documents)
        except Exception:  # no index (yet), or the cluster is away: no sample
            pass
        yield gen
        yield docs
        last = records.last(Path(self.app.config["INDEX"]))
        seconds = GaugeMetricFamily("searchsvc_last_build_seconds", "Duration of the last build",
                                    labels=["mode", "state"])
        ok = GaugeMetricFamily("searchsvc_last_build_success",
                               "1 if the last build succeeded, 0 if it failed")
        if last and last.get("state") != "running":
            summary = last.get("summary") or {}
            seconds.add_metric([str(last.get("mode")), str(last.get("state"))],
                               float(summary.get("seconds") or 0))
            ok.add_metric([], 1.0 if last.get("state") == "done" else 0.0)
        yield seconds
        yield ok


def metrics_view() -> Response:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise Unauthorized("a metrics token is required")
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise Forbidden("the metrics token is not valid")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        registry.register(_IndexCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        registry.register(_IndexCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
        body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.before_request(_options)
    app.after_request(_finish)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
