"""Build records: what every build did, kept in ``<index>/builds/<id>.json``.

A record is written when a build starts (``running``) and again when it ends (``done`` or
``failed``), with its summary and every problem (path, line, reason). ``GET /api/builds/<id>``
and ``searchsvc stats`` read them; a record left ``running`` by a process that no longer
exists reads as ``failed``. The newest :data:`KEEP` records are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import threading
from pathlib import Path

BUILDS = "builds"
KEEP = 50


def new_id() -> str:
    return f"b{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(2)}"


def _path(index_dir: Path, build_id: str) -> Path:
    return Path(index_dir) / BUILDS / f"{build_id}.json"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write(index_dir: Path, record: dict) -> None:
    folder = Path(index_dir) / BUILDS
    folder.mkdir(parents=True, exist_ok=True)
    path = _path(index_dir, record["id"])
    tmp = path.with_suffix(".json.new")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp, path)


def start(index_dir: Path, build_id: str | None, mode: str, sources: list[str]) -> dict:
    record: dict = {"id": build_id or new_id(), "state": "running", "mode": mode, "started": _now(),
              "finished": None, "pid": os.getpid(), "sources": sources, "summary": {},
              "problems": [], "generation": None, "error": None}
    write(index_dir, record)
    _prune(Path(index_dir) / BUILDS)
    return record


def finish(index_dir: Path, record: dict, *, summary: dict, problems: list[dict],
           generation: str | None, error: str | None = None) -> dict:
    record.update(state="failed" if error else "done", finished=_now(), summary=summary,
                  problems=problems, generation=generation, error=error)
    write(index_dir, record)
    return record


def _load(index_dir: Path, build_id: str) -> dict | None:
    """The record as its build last wrote it."""
    if not build_id or "/" in build_id or build_id.startswith("."):
        return None
    try:
        found = json.loads(_path(index_dir, build_id).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def read(index_dir: Path, build_id: str) -> dict | None:
    record = _load(index_dir, build_id)
    if record is None:
        return None
    if record.get("state") == "running" and not _alive(record.get("pid")):
        # Noticed here before (or without) a watcher writing the exit status: the build is
        # over all the same, as of now at the latest.
        record.update(state="failed", finished=record.get("finished") or _now(),
                      error="the build process was killed or exited before it finished")
    return record


def last(index_dir: Path) -> dict | None:
    folder = Path(index_dir) / BUILDS
    try:
        names = sorted(p.name for p in folder.glob("*.json"))
    except OSError:
        return None
    for name in reversed(names):
        found = read(index_dir, name[: -len(".json")])
        if found is not None:
            return found
    return None


def public(record: dict) -> dict:
    """The record as the API shows it (without the pid)."""
    return {k: v for k, v in record.items() if k != "pid"}


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A process that exited but was not waited for (a zombie) still takes signals.
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def watch(index_dir: Path, build_id: str, proc: subprocess.Popen) -> None:
    """Wait for a build process started for ``build_id`` (so it never lingers as a zombie)
    and, if it ended without finishing its record (it could not start, or was killed), mark
    the build failed with its exit status."""
    def wait() -> None:
        code = proc.wait()
        record = _load(index_dir, build_id)
        if record is None or record.get("finished"):
            return
        reason = (f"the build process exited with status {code} before it finished"
                  if code >= 0 else f"the build process was killed (signal {-code})")
        record.update(state="failed", finished=_now(), error=reason)
        write(index_dir, record)

    threading.Thread(target=wait, name=f"build-{build_id}", daemon=True).start()


def _prune(folder: Path) -> None:
    records = sorted(folder.glob("*.json"))
    for old in records[:-KEEP]:
        old.unlink(missing_ok=True)
