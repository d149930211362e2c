"""Phase ``update``: what keeping an index current costs, on the Whoosh engine.

A full build is needed once; after that an archive changes by a few articles at a time, and
``ingest.build.update`` applies only what changed (unchanged files are not read again,
unchanged articles not re-written; the change becomes one new segment). Two scales:

* **1x**: Reuters-21578 as 20,841 seed-format text files in one folder; new articles are new
  files in a subfolder of it, a changed article is a rewritten file.
* **10x**: the JSONL ×10 as one file (208,410 articles, ids suffixed ``~r1``…) plus a second
  source folder of small text files, which is where new articles go (the big file is never
  touched, so it is never read again) and which already holds a few articles at build time
  (those are the ones changed).

At each scale the same operations, each a median of ``runs``, in two settings:

* **fresh process** — ``python -m searchsvc index --update SOURCE… --index DIR`` as its own
  process, measured from outside (wall and CPU, interpreter start-up and imports included):
  what a cron job or an operator pays;
* **long-lived process** — ``update()`` inside one process that keeps the engine and a snapshot
  open (``bench/update_worker.py``), as a server's ingest runs it, plus the time until the
  change is found by ``search()`` in that process.

Operations: an update with nothing changed; one article added, changed, deleted; a batch of
100 new articles, and (to keep the index the same size for the next run) the same 100 deleted.
Every operation's effect is checked by searching for a marker word only its articles contain.
Next to them: the full build of the same sources in a fresh process (``searchsvc index``).

**HTTP ingest**: ``searchsvc serve`` (2 gunicorn workers, an admin token) on the 1x index;
``POST /api/articles`` of one article, then ``GET /api/search`` for its marker at once —
``POST`` returns after the article is searchable, so the first search must find it (the report
counts how often it did, and otherwise how long it took) — and the same for a 100-line NDJSON
batch.

Where a target is missed (one article ≤ 1 s at 1x and ≤ 2 s at 10x, no change ≤ 0.5 s at 1x)
the report shows a cProfile excerpt of that operation in that setting.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    REPLICAS,
    ROOT,
    Workspace,
    free_port,
    log,
    median,
    rnd,
    run_measured,
    tree_memory_mb,
)

OPS = ("noop", "add", "change", "delete", "batch", "batch_delete")
SINGLE = ("add", "change", "delete")
TARGETS = {("1x", "single"): 1.0, ("10x", "single"): 2.0, ("1x", "noop"): 0.5}
TOKEN = "bench-admin-token"
_SUMMARY = re.compile(r"indexed ([\d,]+), updated ([\d,]+), removed ([\d,]+), unchanged "
                      r"([\d,]+).*?; ([\d,]+) documents? in ([\d.]+) s")


# -- articles ----------------------------------------------------------------------------------


def marker(n: int) -> str:
    """A word no article has, unchanged by the analysis (letters only, no stemmable end)."""
    letters = ""
    n += 26 * 26
    while n:
        n, r = divmod(n, 26)
        letters = chr(97 + r) + letters
    return f"zq{letters}xq"


def text_article(title: str, body: str, date: str = "1987-04-01") -> str:
    return f" date {date} {title}\n\n{body}\n"


def write_atomically(path: Path, text: str) -> None:
    """A new file replacing the old one (new inode, as an editor or a sync tool writes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class Setup:
    """One scale: the index, its sources, where new articles go, which files may change."""

    label: str
    index: Path
    sources: list[Path]
    new_dir: Path
    changeable: list[Path]
    texts: list[str]  # bodies to make new articles from
    articles: int = 0
    counter: int = 0
    full_build: dict = field(default_factory=dict)

    def next_marker(self) -> str:
        self.counter += 1
        return marker(self.counter + (0 if self.label == "1x" else 50_000))

    def body(self, i: int) -> str:
        return self.texts[i % len(self.texts)]


def _bodies(folder: Path, n: int = 400) -> list[str]:
    out = []
    for path in sorted(folder.rglob("*.txt"))[:n]:
        text = path.read_text(encoding="utf-8", errors="replace")
        out.append(text.split("\n\n", 1)[-1].strip() or text.strip())
    return out


def setup_1x(ws: Workspace, work: Path) -> Setup:
    source = ws.corpus("text").sources[0]
    folder = work / "articles"
    log(f"update 1x: copying {source} to {folder}")
    shutil.copytree(source, folder)
    files = sorted(p for p in folder.rglob("*.txt"))
    return Setup("1x", work / "index", [folder], folder / "bench-new", files[::97][:50],
                 _bodies(folder), articles=len(files))


def setup_10x(ws: Workspace, work: Path, seeds: int = 10) -> Setup:
    big = ws.corpus(f"jsonl{REPLICAS}")
    text = ws.corpus("text").sources[0]
    extra = work / "extra"
    extra.mkdir(parents=True)
    starters = sorted(text.rglob("*.txt"))[:seeds]
    for n, path in enumerate(starters):
        shutil.copyfile(path, extra / f"extra-{n:04d}.txt")
    return Setup(f"{REPLICAS}x", work / "index", [big.sources[0], extra], extra / "bench-new",
                 sorted(extra.glob("*.txt")), _bodies(text), articles=big.articles + seeds)


# -- the two settings ----------------------------------------------------------------------------


def _parse_summary(text: str) -> dict:
    m = _SUMMARY.search(text)
    if not m:
        return {}
    ints = [int(x.replace(",", "")) for x in m.groups()[:5]]
    return {"indexed": ints[0], "updated": ints[1], "removed": ints[2], "unchanged": ints[3],
            "documents": ints[4], "report_s": float(m.group(6))}


def full_build(setup: Setup, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "searchsvc", "index", *map(str, setup.sources), "--index",
           str(setup.index)]
    res = run_measured(cmd, timeout=timeout)
    out = {"wall_s": rnd(res.wall_s), "cpu_s": rnd(res.cpu_s),
           "peak_tree_pss_mb": rnd(res.peak_tree_pss_mb, 1), "returncode": res.returncode,
           **_parse_summary(res.stdout)}
    if res.returncode != 0 or res.timed_out:
        out["error"] = (res.stderr.strip().splitlines() or ["timed out"])[-3:]
    return out


def fresh_update(setup: Setup, profile_to: Path | None = None,
                 allow_shrink: bool = False) -> dict:
    """``searchsvc index --update`` in its own process (under cProfile if ``profile_to``)."""
    prefix = [sys.executable] + (["-m", "cProfile", "-o", str(profile_to)] if profile_to else [])
    cmd = prefix + ["-m", "searchsvc", "index", "--update", *map(str, setup.sources),
                    "--index", str(setup.index)] + (["--allow-shrink"] if allow_shrink else [])
    res = run_measured(cmd, timeout=900)
    out = {"wall_s": rnd(res.wall_s, 4), "cpu_s": rnd(res.cpu_s, 4),
           "peak_tree_pss_mb": rnd(res.peak_tree_pss_mb, 1), **_parse_summary(res.stdout)}
    if res.returncode != 0:
        out["error"] = res.stderr.strip().splitlines()[-3:]
    return out


class Live:
    """The long-lived process (``bench.update_worker``), driven over its stdin/stdout."""

    def __init__(self, setup: Setup):
        cmd = [sys.executable, "-m", "bench.update_worker", str(setup.index),
               *map(str, setup.sources)]
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.ready = self._read()

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the update worker exited ({self.proc.poll()})")
        return json.loads(line)

    def send(self, **cmd: object) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def memory(self) -> dict:
        return tree_memory_mb(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(op="quit")
            except (OSError, RuntimeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# -- the operations ----------------------------------------------------------------------------


@dataclass
class Pending:
    marker: str | None = None
    expect: int | None = None
    files: list[Path] = field(default_factory=list)


def prepare(setup: Setup, op: str, state: dict, batch: int) -> Pending:
    """Change the sources for ``op``; what searching for its marker should then find."""
    if op == "noop":
        return Pending()
    if op == "add":
        m = setup.next_marker()
        path = setup.new_dir / f"new-{m}.txt"
        write_atomically(path, text_article(f"Update benchmark article {m}",
                                            f"{setup.body(setup.counter)}\n\n{m} added."))
        state["added"] = (path, m)
        return Pending(m, 1, [path])
    if op == "change":
        m = setup.next_marker()
        path = setup.changeable[state.setdefault("changed", 0) % len(setup.changeable)]
        state["changed"] += 1
        text = path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
        write_atomically(path, f"{text}\n\nCorrection {m}.\n")
        return Pending(m, 1, [path])
    if op == "delete":
        path, m = state.pop("added")
        path.unlink()
        return Pending(m, 0, [path])
    if op == "batch":
        m = setup.next_marker()
        paths = []
        for i in range(batch):
            path = setup.new_dir / f"batch-{m}-{i:03d}.txt"
            write_atomically(path, text_article(f"Batch article {i} {m}",
                                                f"{setup.body(setup.counter + i)}\n\n{m}."))
            paths.append(path)
        state["batch"] = (paths, m)
        return Pending(m, batch, paths)
    if op == "batch_delete":
        paths, m = state.pop("batch")
        for path in paths:
            path.unlink()
        return Pending(m, 0, paths)
    raise ValueError(op)


def one(setup: Setup, live: Live, mode: str, op: str, state: dict, batch: int) -> dict:
    pending = prepare(setup, op, state, batch)
    # Deleting is allowed to shrink the index (as DELETE /api/articles is): on a tiny smoke
    # corpus a batch is most of it, and the safety rail would refuse.
    shrink = op in ("delete", "batch_delete")
    live.send(op="refresh")
    if mode == "fresh":
        rec = fresh_update(setup, allow_shrink=shrink)
        if pending.marker:
            rec["found"] = live.send(op="search", marker=pending.marker)["found"]
    else:
        got = live.send(op="update", marker=pending.marker, allow_shrink=shrink)
        if "error" in got:
            rec = {"wall_s": None, "cpu_s": None, "error": [got["error"]]}
        else:
            rec = {"wall_s": got["update_s"], "cpu_s": got["cpu_s"],
                   "report_s": got["report_s"], "searchable_s": got["searchable_s"],
                   "found": got["found"],
                   **{k: got["summary"][k] for k in ("indexed", "updated", "removed",
                                                     "unchanged", "documents")}}
    rec["op"], rec["mode"] = op, mode
    rec["expected"] = pending.expect
    if rec.get("error"):
        log(f"  {setup.label} {mode} {op} FAILED: {' / '.join(rec['error'])[:300]}")
    if pending.expect is not None and rec.get("found") != pending.expect:
        rec["check_failed"] = True
        log(f"  {setup.label} {mode} {op}: marker {pending.marker} found "
            f"{rec.get('found')}, expected {pending.expect}")
    return rec


def measure(setup: Setup, runs: int, batch: int, budget_s: float) -> dict:
    live = Live(setup)
    out: dict = {"worker_open_s": live.ready.get("open_s"), "records": []}
    started = time.perf_counter()
    state: dict = {}
    try:
        for r in range(runs):
            if r and time.perf_counter() - started > budget_s:
                out["skipped_runs"] = runs - r
                log(f"update {setup.label}: skipping runs {r + 1}–{runs} (budget {budget_s:.0f} s)")
                break
            for mode in ("fresh", "live"):
                for op in OPS:
                    rec = one(setup, live, mode, op, state, batch)
                    rec["run"] = r + 1
                    out["records"].append(rec)
                    if rec.get("wall_s") is not None:
                        log(f"  {setup.label} {mode:<5} {op:<12} {rec['wall_s']:.3f} s wall, "
                            f"{rec['cpu_s']:.3f} s CPU")
        out["worker_memory"] = live.memory()
        out["summary"] = summarise(out["records"])
        out["profiles"] = profiles(setup, live, out["summary"], state, batch)
    finally:
        live.close()
    return out


def summarise(records: list[dict]) -> dict:
    out: dict = {}
    for mode in ("fresh", "live"):
        for op in OPS:
            every = [r for r in records if r["mode"] == mode and r["op"] == op]
            rs = [r for r in every if "error" not in r]
            if not rs:
                if every:
                    out.setdefault(mode, {})[op] = {"runs": 0, "wall_s": None, "cpu_s": None,
                                                    "errors": len(every),
                                                    "error": every[0]["error"]}
                continue
            out.setdefault(mode, {})[op] = {
                "runs": len(rs), "wall_s": rnd(median(r["wall_s"] for r in rs), 4),
                "cpu_s": rnd(median(r["cpu_s"] for r in rs), 4),
                "report_s": rnd(median(r.get("report_s") for r in rs), 4),
                "searchable_s": rnd(median(r.get("searchable_s") for r in rs), 4),
                "max_wall_s": rnd(max(r["wall_s"] for r in rs), 4),
                "checks_failed": sum(1 for r in rs if r.get("check_failed")),
                "errors": len(every) - len(rs),
            }
    return out


def missed(label: str, summary: dict) -> list[tuple[str, str, float, float]]:
    """(mode, op, measured, target) of every operation over its target."""
    out = []
    for mode, ops in summary.items():
        for op, s in ops.items():
            kind = "single" if op in SINGLE else op
            target = TARGETS.get((label, kind))
            if target is not None and s["wall_s"] is not None and s["wall_s"] > target:
                out.append((mode, op, s["wall_s"], target))
    return out


def profiles(setup: Setup, live: Live, summary: dict, state: dict, batch: int) -> list[dict]:
    """A cProfile excerpt of each kind of missed target (at most one add and one no-op per
    setting), of the same operation run once more."""
    from bench.update_worker import profile_text

    out = []
    seen = set()
    for mode, op, value, target in missed(setup.label, summary):
        kind = "noop" if op == "noop" else "single"
        if (mode, kind) in seen:
            continue
        seen.add((mode, kind))
        run_op = "noop" if kind == "noop" else "add"
        pending = prepare(setup, run_op, state, batch)
        live.send(op="refresh")
        if mode == "live":
            got = live.send(op="update", marker=pending.marker, profile=True)
            text, wall = got.get("profile", ""), got["update_s"]
        else:
            prof_file = setup.index.parent / f"profile-{mode}-{run_op}.prof"
            rec = fresh_update(setup, profile_to=prof_file)
            wall = rec["wall_s"]
            text = profile_text(prof_file) if prof_file.exists() else rec.get("error", "")
            prof_file.unlink(missing_ok=True)
        if run_op == "add":  # take the profiled article out again
            prepare(setup, "delete", state, batch)
            live.send(op="refresh")
            live.send(op="update")
        out.append({"mode": mode, "op": run_op, "missed_by": op, "measured_s": value,
                    "target_s": target, "profiled_wall_s": rnd(wall, 4), "profile": text})
    return out


# -- HTTP ingest ---------------------------------------------------------------------------------


def _request(port: int, method: str, path: str, body: bytes | None = None,
             headers: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _found(port: int, word: str) -> int:
    status, body = _request(port, "GET", f"/api/search?q={word}&collapse=false")
    return json.loads(body)["total"] if status == 200 else -1


def http_ingest(ws: Workspace, setup: Setup, runs: int, batch: int) -> dict:
    from bench.load import Server

    port = free_port()
    cmd = [sys.executable, "-m", "searchsvc", "serve", "--host", "127.0.0.1", "--port",
           str(port), "--index", str(setup.index), "--source", str(setup.sources[0]),
           "--workers", "2"]
    os.environ["SEARCHSVC_ADMIN_TOKEN"] = TOKEN  # the server inherits it
    server = Server("searchsvc-ingest", cmd, port, ws.root / "ingest-server.log")
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
    out: dict = {"single": [], "batch": [], "batch_size": batch, "workers": 2}
    try:
        server.start()
        _found(port, "warm")  # each worker opens its snapshot on its first request
        _found(port, "warm")
        for kind, size in (("single", 1), ("batch", batch)):
            for r in range(runs):
                setup.counter += 1
                m = marker(90_000 + setup.counter)
                lines = [json.dumps({"id": f"bench-ingest-{m}-{i}", "date": "1987-04-02",
                                     "title": f"Ingested article {i} {m}",
                                     "body": f"{setup.body(setup.counter + i)}\n\n{m}."})
                         for i in range(size)]
                t0 = time.perf_counter()
                status, body = _request(port, "POST", "/api/articles",
                                        "\n".join(lines).encode("utf-8"), headers)
                posted = time.perf_counter() - t0
                first = _found(port, m)
                searched = time.perf_counter() - t0
                waited = 0.0
                found = first
                while found < size and waited < 10:  # only if the first search missed it
                    time.sleep(0.05)
                    found = _found(port, m)
                    waited = time.perf_counter() - t0 - posted
                rec = {"run": r + 1, "status": status, "post_s": rnd(posted, 4),
                       "post_and_search_s": rnd(searched, 4), "first_search_found": first,
                       "expected": size, "found_at_once": first == size,
                       "found_after_s": rnd(posted + waited, 4) if first != size else None}
                if status != 200:
                    rec["error"] = body[:300].decode("utf-8", "replace")
                out[kind].append(rec)
                log(f"  http ingest {kind}: POST {posted * 1000:.0f} ms (status {status}), "
                    f"first search found {first}/{size}")
        out["server_memory"] = server.memory()
    finally:
        server.stop()
        os.environ.pop("SEARCHSVC_ADMIN_TOKEN", None)
    for kind in ("single", "batch"):
        rs = [r for r in out[kind] if r["status"] == 200]
        out[f"{kind}_summary"] = {
            "runs": len(out[kind]), "ok": len(rs),
            "post_s": rnd(median(r["post_s"] for r in rs), 4) if rs else None,
            "post_and_search_s": rnd(median(r["post_and_search_s"] for r in rs), 4)
            if rs else None,
            "found_at_once": sum(1 for r in rs if r["found_at_once"]),
        }
    return out


# -- the phase -----------------------------------------------------------------------------------


def run(ws: Workspace, runs: int = 3, batch: int = 100, budget_s: float = 900,
        scales: tuple[str, ...] = ("1x", f"{REPLICAS}x")) -> dict:
    started = time.perf_counter()
    out: dict = {"runs": runs, "batch": batch, "budget_s": budget_s, "scales": {},
                 "targets_s": {f"{k[0]} {k[1]}": v for k, v in TARGETS.items()}}
    for label in scales:
        work = ws.root / "updates" / label
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        setup = setup_1x(ws, work) if label == "1x" else setup_10x(ws, work)
        log(f"update {label}: full build of {setup.articles:,} articles (fresh process)")
        setup.full_build = full_build(setup, timeout=max(budget_s, 600))
        if setup.full_build.get("error"):
            out["scales"][label] = {"error": setup.full_build["error"]}
            continue
        log(f"  full build {setup.full_build['wall_s']:.1f} s wall, "
            f"{setup.full_build['cpu_s']:.1f} s CPU")
        result = {"articles": setup.articles, "sources": [str(s) for s in setup.sources],
                  "full_build": setup.full_build}
        result.update(measure(setup, runs, batch, budget_s / 2))
        if label == "1x":
            log("update: HTTP ingest on the 1x index")
            result["http"] = http_ingest(ws, setup, runs=max(runs, 3) if runs > 1 else 1,
                                         batch=batch)
        out["scales"][label] = result
        shutil.rmtree(work, ignore_errors=True)
    out["seconds"] = rnd(time.perf_counter() - started, 1)
    return out
