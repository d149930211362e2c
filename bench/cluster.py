"""The OpenSearch cluster the benchmark may use, and what it costs while the benchmark runs.

searchsvc's OpenSearch engine does its analysis in Python and sends term text; the cluster does
the indexing, merging and searching in three JVMs. A build or a query set measured from the
benchmark's side therefore shows only the client's share of the work. When the cluster is the
local one of ``make opensearch`` (its node pids are in ``.opensearch/pids``), the JVMs' CPU time
and resident memory are read from ``/proc`` before and after, so the cluster's share is
measured too. With a remote cluster those numbers are simply absent.

The local cluster is shared: other people's searches and builds on it count as ours while we
measure (the report says so). Nothing here starts, stops or changes the cluster.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from bench.common import ROOT

LOCAL = ROOT / ".opensearch"


def default_url() -> str | None:
    """The local cluster's URLs (``.opensearch/url``), if ``make opensearch`` wrote them."""
    try:
        text = (LOCAL / "url").read_text("utf-8").strip()
    except OSError:
        return None
    return text or None


def health(url: str, timeout: float = 5) -> dict | None:
    """The cluster's health document from the first node that answers, or None."""
    for node in (u.strip() for u in url.split(",") if u.strip()):
        try:
            with urllib.request.urlopen(f"{node.rstrip('/')}/_cluster/health",
                                        timeout=timeout) as resp:
                return json.loads(resp.read())
        except (OSError, ValueError):
            continue
    return None


def usable(url: str | None) -> tuple[bool, str]:
    """Whether the benchmark can use the cluster at ``url``, and why not."""
    if not url:
        return False, "no cluster given (--opensearch URLS, or `make opensearch`)"
    found = health(url)
    if found is None:
        return False, f"no node of {url} answered"
    if found.get("status") not in ("green", "yellow"):
        return False, f"cluster status {found.get('status')}"
    return True, f"{found.get('number_of_nodes')} nodes, {found.get('status')}"


def node_pids(url: str | None) -> list[int]:
    """The local JVMs of the cluster at ``url`` (none for a cluster that is not ours)."""
    if not url or url.strip() != (default_url() or ""):
        return []
    try:
        pids = [int(x) for x in (LOCAL / "pids").read_text().split()]
    except (OSError, ValueError):
        return []
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"java" in cmd and str(LOCAL.resolve()).encode() in cmd:  # our node, not a reused pid
            out.append(pid)
    return out


def cpu_s(pids: list[int]) -> float | None:
    """User + system CPU seconds the JVMs have used so far (None without local pids)."""
    if not pids:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def rss_mb(pids: list[int]) -> float | None:
    if not pids:
        return None
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


class Meter:
    """CPU seconds the cluster's JVMs use between :meth:`start` and :meth:`stop`."""

    def __init__(self, url: str | None):
        self.pids = node_pids(url)
        self.started: float | None = None

    def start(self) -> Meter:
        self.started = cpu_s(self.pids)
        return self

    def stop(self) -> dict:
        now = cpu_s(self.pids)
        if now is None or self.started is None:
            return {}
        return {"cluster_cpu_s": round(now - self.started, 2),
                "cluster_rss_mb": rss_mb(self.pids), "cluster_nodes": len(self.pids)}
