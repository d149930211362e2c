"""The one table of settings.

Every tunable of searchsvc is declared here once, with its default and help text. A value comes
from, in order of precedence: a command-line flag, a ``SEARCHSVC_<NAME>`` environment variable,
the default. The CLI builds its options from this table (click's ``envvar=``), and the Flask app
reads the same names from its config, so the two never drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from searchsvc.errors import UsageError


def megabytes(text: str) -> float:
    """A size in megabytes: a number, 0 or more (a negative one is refused, not taken as 0)."""
    value = float(text)
    if not value >= 0:  # also NaN
        raise ValueError(f"{text!r} is not a size: give 0 or more (megabytes)")
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = str

    @property
    def envvar(self) -> str:
        return "SEARCHSVC_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("index", "index", "Index directory (holds the built generations and the build lock)."),
    Setting("source", "seeds", "Article source folder or file used by serve and /api/reindex."),
    Setting("host", "127.0.0.1", "Address `serve` listens on."),
    Setting("port", 8000, "Port `serve` listens on.", int),
    Setting("workers", 2, "Server worker processes (one searcher each).", int),
    Setting("max_file_mb", 10.0, "Article files larger than this are skipped.", megabytes),
    Setting("admin_token", "", "Bearer token for POST /api/reindex, POST /api/articles and"
            " DELETE /api/articles/<id>; empty disables them (404)."),
    Setting("max_query_chars", 2000, "Longer query strings are rejected with 400.", int),
    Setting("max_terms", 1024, "Cap on terms a query may expand to (wildcards, fuzzy).", int),
    Setting("rate_limit", 0.0, "Requests per second per client on /api/ (0 = off).", float),
    Setting("build_procs", 2, "Processes used by a full build of a large corpus.", int),
    Setting("build_memory_mb", 1024.0, "Memory a build's writers may use before they write a"
            " segment out (split between the workers).", megabytes),
    Setting("postings_cache_mb", 64.0, "Decoded posting lists a Whoosh searcher keeps (per"
            " worker process); more can speed up repeated searches, less keeps workers small.",
            megabytes),
    Setting("engine", "whoosh", "Search engine: whoosh (embedded) or opensearch."),
    Setting("opensearch_url", "", "OpenSearch node URLs, comma-separated (engine opensearch)."),
    Setting("opensearch_user", "", "OpenSearch user name (a secured cluster)."),
    Setting("opensearch_password", "", "OpenSearch password (a secured cluster)."),
    Setting("opensearch_ca", "", "CA certificate file for an OpenSearch cluster over https."),
    Setting("opensearch_index", "searchsvc", "OpenSearch alias (indices are named after it)."),
    Setting("opensearch_shards", 2, "Primary shards of a new OpenSearch index.", int),
    Setting("opensearch_replicas", 1, "Replicas of each shard (1: survives losing a node).", int),
    Setting("ingest_dir", "", "Folder for articles posted over HTTP (default <index>/ingested);"
            " every build reads it too."),
    Setting("max_ingest_mb", 10.0, "Largest POST /api/articles body.", megabytes),
    Setting("watch_seconds", 2.0, "How often `index --watch` looks for changes.", float),
    Setting("cors_origins", "", "Origins allowed to call the API from a browser (comma-separated,"
            " or *); empty: no CORS headers."),
    Setting("metrics_token", "", "Bearer token GET /metrics requires; empty: open."),
    Setting("log_format", "text", "Access log lines: text or json."),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """All settings resolved from the environment (or defaults), keyed by upper-case name."""
    environ = os.environ if environ is None else environ
    resolved = {}
    for s in SETTINGS:
        raw = environ.get(s.envvar)
        try:
            resolved[s.name.upper()] = s.type(raw) if raw not in (None, "") else s.default
        except ValueError as exc:
            raise UsageError(f"{s.envvar}={raw!r} is not a valid value ({exc})") from None
    return resolved


def setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    return from_env(environ)[name.upper()]
