"""Running ``searchsvc`` as a user would (a subprocess) or in-process (click's ``CliRunner``),
and reading the summary line ``searchsvc index`` ends with."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from searchsvc.cli import main
from searchsvc.config import SETTINGS

HANG_GUARD = 300  # seconds: only to stop a hung subprocess, never a performance assertion
SUMMARY = re.compile(
    r"^(?P<mode>full|update) build: indexed (?P<indexed>[\d,]+), updated (?P<updated>[\d,]+), "
    r"removed (?P<removed>[\d,]+), unchanged (?P<unchanged>[\d,]+), skipped (?P<skipped>[\d,]+), "
    r"warnings (?P<warnings>[\d,]+); (?P<documents>[\d,]+) documents? in (?P<seconds>\d+\.\d+) s",
    re.MULTILINE)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any SEARCHSVC_* setting of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEARCHSVC_")}
    env.update(extra)
    return env


def run_cli(*args: str | Path, cwd: Path | None = None, env: dict | None = None,
            timeout: float = HANG_GUARD) -> subprocess.CompletedProcess:
    """``python -m searchsvc ARGS`` in a subprocess (stdin closed, output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "searchsvc", *map(str, args)], cwd=cwd, env=env or clean_env(),
        capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def invoke(*args: str | Path, env: dict[str, str] | None = None):
    """Run the command in-process. SEARCHSVC_* settings of the caller's environment are unset
    (the commands close the engines they open)."""
    unset: dict[str, str | None] = {s.envvar: None for s in SETTINGS}
    result = CliRunner().invoke(main, [str(a) for a in args], env={**unset, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def summary(result: subprocess.CompletedProcess) -> dict:
    """The summary line (the last line of stdout) as numbers."""
    lines = result.stdout.strip().splitlines()
    assert lines, f"no summary printed; stderr:\n{result.stderr}"
    m = SUMMARY.match(lines[-1])
    assert m, f"unexpected summary line {lines[-1]!r}"
    out = {k: int(v.replace(",", "")) for k, v in m.groupdict().items()
           if k not in ("mode", "seconds")}
    return {**out, "mode": m["mode"], "seconds": float(m["seconds"])}
