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
    assert set(report["phases"]) == {"index", "query", "http", "quality"}
    assert {t["id"] for t in report["targets"]} >= {"build_jsonl", "query_p50", "http_tail"}
    for phase in report["phases"].values():
        assert phase["finished"]
    searchsvc = report["phases"]["query"]["engines"]["searchsvc"]["overall"]
    assert searchsvc["errors"] == 0 and searchsvc["n"] > 0
    levels = report["phases"]["http"]["servers"]["searchsvc"]["levels"]
    assert levels and all(level["errors"] == 0 for level in levels)
    markdown = (out / "RESULTS.md").read_text("utf-8")
    assert "## Targets" in markdown and "## 5. Capacity model" in markdown
