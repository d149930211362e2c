"""Articles posted over HTTP: written durably into a managed source folder, then applied.

The sources stay the truth. ``POST /api/articles`` writes each accepted article as its own
JSON Lines file in the ingest folder (``SEARCHSVC_INGEST_DIR``, default ``<index>/ingested``)
— written to a temporary name, fsynced, renamed, the folder fsynced — and only then applies
it as an update of just those files. Every full build reads the ingest folder as one more
source, so a rebuild keeps what was ingested; an article whose file is written but whose update
was cut short (a killed server) is picked up by the next update. ``DELETE`` removes the file
the same way; an article from any other source is not the service's to delete (409).

A posted article with the id of a source article replaces it (the ingest folder is the last
source, and the later source wins) until it is deleted again; then the source's version is
searchable again, as a rebuild of the sources would have it.

The folder is a source of a build only once it holds something (an index nobody ingested
into records just its own sources). So that nothing accepted is lost before it does: a full
build that started with the folder empty applies what was ingested while it ran right after
publishing, an update that meets the folder for the first time reads it whole, and ``serve``
applies a non-empty folder the index does not record yet when it starts (``cli.run_build``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from searchsvc.engine import Engine
from searchsvc.errors import Conflict, InvalidParameter, NotFound
from searchsvc.ingest import build
from searchsvc.ingest.readers import Article, article_from_json

MAX_LINES = 10_000


def ingest_dir(index_dir: Path | str, configured: str | None) -> Path:
    return Path(configured) if configured else Path(index_dir) / "ingested"


def with_ingest_dir(sources: Sequence[Path | str], folder: Path) -> list[Path]:
    """The sources of a build: the given ones, then the ingest folder (if anything is in it).

    An empty folder is left out, so an index nobody ingested into records only its own
    sources. A full build that starts so can miss what is ingested while it runs:
    :func:`missed` says whether to apply the folder after it."""
    out = [Path(s) for s in sources if Path(s).absolute() != folder.absolute()]
    if holds_files(folder):
        out.append(folder)
    return out


def holds_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def missed(sources: Sequence[Path | str], folder: Path) -> bool:
    """Whether ``folder`` holds files but is not one of ``sources`` (those a build read, or
    an index records): articles accepted there are not in what that build published, or in
    that index, until an update that reads the folder applies them."""
    return holds_files(folder) and all(Path(s).absolute() != folder.absolute()
                                       for s in sources)


def recorded_sources(engine: Engine) -> list[Path]:
    """The sources the served index records (none when there is no index)."""
    return _sources(engine, [])


def _sources(engine: Engine, configured: Sequence[Path]) -> list[Path]:
    """The sources the served index records (it may have been built from others than the
    server's configured ones), else the configured ones."""
    recorded = engine.manifest().get("sources", []) if engine.has_index() else []
    return [Path(s) for s in recorded] or list(configured)


def file_for(folder: Path, article_id: str) -> Path:
    digest = hashlib.sha1(article_id.encode("utf-8")).hexdigest()
    return folder / digest[:2] / f"{digest}.jsonl"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass
class Parsed:
    accepted: list[tuple[Article, dict]] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


def parse_body(body: bytes) -> Parsed:
    """One JSON object, or NDJSON lines, in the JSONL input format (contract §1)."""
    out = Parsed()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidParameter(f"the body is not valid UTF-8 (byte {exc.start})") from None
    stripped = text.strip()
    if not stripped:
        raise InvalidParameter("the body is empty; send one JSON article or NDJSON lines")
    lines: list[tuple[int, str]]
    try:
        single = json.loads(stripped)
        lines = [(1, stripped)] if isinstance(single, dict) else []
        if isinstance(single, list):
            raise InvalidParameter("send one JSON object, or one JSON object per line "
                                   "(NDJSON), not a JSON array")
    except json.JSONDecodeError:
        lines = []
    if not lines:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if len(lines) > MAX_LINES:
        raise InvalidParameter(f"at most {MAX_LINES:,} articles per request")
    seen: dict[str, int] = {}
    for n, line in lines:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.rejected.append({"line": n, "id": None, "code": "invalid_json",
                                 "detail": f"malformed JSON: {exc.msg} at column {exc.colno}"})
            continue
        raw_id = obj.get("id") if isinstance(obj, dict) else None
        try:
            article = article_from_json(obj, "POST /api/articles", n)
        except ValueError as exc:
            out.rejected.append({"line": n, "id": raw_id if isinstance(raw_id, str) else None,
                                 "code": "invalid_article", "detail": str(exc)})
            continue
        if article.id in seen:  # the later line wins, as in a JSONL file
            out.accepted = [(a, o) for a, o in out.accepted if a.id != article.id]
        seen[article.id] = n
        out.accepted.append((article, obj))
    return out


def ingest(engine: Engine, index_dir: Path, sources: Sequence[Path], folder: Path,
           body: bytes, max_bytes: int) -> dict:
    """Write the accepted articles, apply them, and say what happened to each line."""
    parsed = parse_body(body)
    if not parsed.accepted:
        raise InvalidParameter("no article was accepted", code="invalid_article",
                               extra={"accepted": [], "rejected": parsed.rejected})
    paths = []
    for article, obj in parsed.accepted:
        path = file_for(folder, article.id)
        write_durably(path, (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8"))
        paths.append(path)
    report = build.update(engine, index_dir, with_ingest_dir(_sources(engine, sources), folder),
                          max_bytes=max_bytes, paths=paths)
    return {"accepted": [a.id for a, _ in parsed.accepted], "rejected": parsed.rejected,
            "generation": report.generation}


def delete(engine: Engine, index_dir: Path, sources: Sequence[Path], folder: Path,
           article_id: str, max_bytes: int) -> str | None:
    """Remove an ingested article (its file, then the update); returns the new generation."""
    origin = _origin(engine, article_id)
    if origin is None:
        raise NotFound(f"no article with id {article_id!r}")
    path = Path(origin)
    if not path.absolute().is_relative_to(folder.absolute()):
        raise Conflict(f"article {article_id!r} comes from a source file ({origin}), not from "
                       "the ingest folder: change the source and rebuild instead",
                       code="source_article")
    path.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    # What the posted version shadowed comes back: when a source folder holds an article with
    # this id, that version is indexed again (the sources stay the truth, and a full build
    # would index it too); otherwise the id is gone. Either way the posted text is not found.
    report = build.update(engine, index_dir, with_ingest_dir(_sources(engine, sources), folder),
                          max_bytes=max_bytes, paths=[path], allow_shrink=True)
    return report.generation


def _origin(engine: Engine, article_id: str) -> str | None:
    """The file an indexed article came from, by the served generation's manifest."""
    if not engine.has_index():
        return None
    if engine.snapshot().documents([article_id])[0] is None:
        return None
    holders = [key for key, entry in engine.manifest().get("files", {}).items()
               if article_id in entry.get("ids", {})]
    return holders[-1] if holders else None  # the last source holding an id wins
