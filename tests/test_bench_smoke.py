"""``python -m bench --smoke`` runs every benchmark phase on the seeds and writes its report.

Only that it runs and what it writes is checked: the numbers of a smoke run mean nothing, and
no test asserts on time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke_runs_and_writes_its_report(tmp_path):
    # The peers and the quality measures come with the package's ``bench`` extra.
    pytest.importorskip("tantivy", reason="needs the bench extra: pip install -e '.[bench]'")
    pytest.importorskip("ir_measures", reason="needs the bench extra: pip install -e '.[bench]'")
    out = tmp_path / "bench-out"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report["smoke"] is True
    assert set(report["phases"]) == {"index", "query", "http", "quality", "update", "scale"}
    assert {t["id"] for t in report["targets"]} >= {
        "build_jsonl", "query_p50", "http_tail", "quality_case", "update_1x_live_single",
        "http_ingest_searchable", "scale_first_p95"}
    for phase in report["phases"].values():
        assert phase["finished"]
    searchsvc = report["phases"]["query"]["engines"]["searchsvc"]["overall"]
    assert searchsvc["errors"] == 0 and searchsvc["n"] > 0
    levels = report["phases"]["http"]["servers"]["searchsvc"]["levels"]
    assert levels and all(level["errors"] == 0 for level in levels)
    # Every update was applied and found (the checks search for each operation's marker).
    updates = report["phases"]["update"]["scales"]["1x"]["summary"]
    failed = {f"{mode} {op}": (s.get("errors"), s.get("checks_failed"), s.get("error"))
              for mode, ops in updates.items() for op, s in ops.items()
              if s.get("errors") or s.get("checks_failed")}
    assert len(updates["fresh"]) == len(updates["live"]) == 6 and not failed, failed
    ingest = report["phases"]["update"]["scales"]["1x"]["http"]
    assert ingest["single_summary"]["found_at_once"] == ingest["single_summary"]["runs"]
    for scale in report["phases"]["scale"]["scales"].values():
        for engine in scale["engines"].values():
            assert "error" not in engine and engine["errors"] == 0
    markdown = (out / "RESULTS.md").read_text("utf-8")
    for heading in ("## Targets", "## 4. Ranking quality", "## 5. Updates", "## 6. Scale",
                    "## 7. Capacity model"):
        assert heading in markdown
