"""The engines behind ``searchsvc.engine``: ``whoosh`` (embedded, the default) and
``opensearch`` (a cluster, for archives beyond one machine). :func:`open_engine` picks one from
the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from searchsvc.engine import Engine
from searchsvc.errors import UsageError


def open_engine(settings: Mapping[str, Any]) -> Engine:
    """The engine the settings name (``ENGINE``, ``INDEX``, ``OPENSEARCH_*``...)."""
    name = str(settings.get("ENGINE") or "whoosh").lower()
    if name == "whoosh":
        from searchsvc.engines.whoosh.engine import WhooshEngine

        return WhooshEngine(settings["INDEX"], max_terms=int(settings.get("MAX_TERMS", 1024)),
                            build_memory_mb=float(settings.get("BUILD_MEMORY_MB", 1024)),
                            postings_cache_mb=float(settings.get("POSTINGS_CACHE_MB", 64)))
    if name == "opensearch":
        from searchsvc.engines.opensearch.engine import OpenSearchEngine

        return OpenSearchEngine.from_settings(settings)
    raise UsageError(f"unknown engine {name!r}: use whoosh or opensearch")
