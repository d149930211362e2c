"""The research endpoints on a real index: coverage over time, export and distinctive terms.

    python -m bench.research INDEX [--runs 5]

Each request goes through the Flask app (``create_app`` and its test client: the whole
request path of ``GET /api/…``, without HTTP and gunicorn) on the Whoosh index ``INDEX`` (e.g.
Reuters built by ``searchsvc index``). Printed as a Markdown table: the median and the slowest
of ``runs`` runs after one warm-up run per request, and for exports the articles per second
(rows counted from the streamed body, which is read to its end).
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import time

REQUESTS = [
    ("timeline, 1 query", "/api/timeline?q=oil"),
    ("timeline, 3 queries compared", "/api/timeline?q=oil&q=wheat&q=gold"),
    ("timeline, share, by day, one month", "/api/timeline?q=oil&from=1987-03&to=1987-03"
                                           "&interval=day"),
    ("timeline as CSV", "/api/timeline?q=oil&q=wheat&format=csv"),
    ("terms: oil", "/api/terms?q=oil"),
    ("terms: bank rates", "/api/terms?q=bank+rates"),
    ("terms: empty query + topic", "/api/terms?q=&topics=grain"),
    ("export CSV: oil", "/api/export?q=oil&format=csv"),
    ("export NDJSON with bodies: oil", "/api/export?q=oil&format=ndjson&fields=id,title,body"),
    ("export CSV: every article", "/api/export?q=&format=csv"),
]


def _rows(path: str, body: bytes) -> int:
    if "format=csv" in path:  # parsed: a quoted field may hold line breaks; less the header
        return sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8")))) - 1
    return body.count(b"\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    from searchsvc.web.app import create_app

    client = create_app({"ENGINE": "whoosh", "INDEX": args.index}).test_client()
    print("| request | median ms | slowest ms | rows | articles/s |")
    print("|---|--:|--:|--:|--:|")
    for name, path in REQUESTS:
        times, rows = [], 0
        for run in range(args.runs + 1):
            started = time.perf_counter()
            response = client.get(path)
            body = response.get_data()
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {body[:200]!r}")
            if run:  # the first run warms the caches
                times.append(elapsed)
            rows = _rows(path, body) if "export" in path else 0
        median = statistics.median(times)
        rate = f"{rows / median:,.0f}" if rows else ""
        print(f"| {name} | {median * 1000:.1f} | {max(times) * 1000:.1f} | "
              f"{rows:,} | {rate} |" if rows else
              f"| {name} | {median * 1000:.1f} | {max(times) * 1000:.1f} | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
