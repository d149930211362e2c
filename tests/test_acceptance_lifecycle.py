"""Acceptance checks of issue 12 (index lifecycle) that the rest of the suite lacks.

* a server killed with SIGKILL during ingests loses no article that got a 2xx (e2e);
* ``searchsvc rollback`` while a server is searched fails no search, and the server serves the
  rolled-back generation (e2e);
* ingests while a full build runs, and a full rebuild after ingests, keep every accepted
  article;
* ``GET /api/builds/<id>`` says ``running`` while the build process runs and ``failed`` when it
  dies without finishing;
* ``searchsvc stats`` shows the last build's summary and its problems;
* ``--update`` reads only what changed and keeps stories as a rebuild would: a new write-up
  joins its story, a deleted leader hands the story on.

Everything contract-level runs on the engine ``engine_name`` names (processes get its settings
through ``support.index.engine_env``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import clean_env, run_cli, summary
from support.e2e import (
    BUILD_TIMEOUT,
    COMMON,
    MARKER,
    Server,
    request,
    search_path,
    wait_until,
    write_corpus,
)
from support.index import build_sources, doc_ids, engine_env, open_snapshot, write_jsonl
from support.paths import SADR_1, SADR_2, SEEDS

import searchsvc.web.api
from searchsvc.ingest.locks import BUILD_LOCK

TOKEN = "lifecycle-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def env_for(engine_name: str, index: Path, **extra: str) -> dict[str, str]:
    return clean_env(**engine_env(engine_name, index), **extra)


@pytest.fixture
def servers(tmp_path) -> Iterator[Callable[..., Server]]:
    """Start ``searchsvc serve`` processes (each waits until it answers 200); all are killed
    afterwards."""
    started: list[Server] = []

    def _start(index: Path, source: Path, env: dict[str, str], workers: int = 2) -> Server:
        server = Server(tmp_path, index, source, workers, env)
        started.append(server)
        resp = server.wait_ready()
        assert resp.status == 200, (resp.status, resp.body[:300], server.log())
        return server

    yield _start
    for server in started:
        server.stop()  # again for a server a test killed: harmless


def cli_ok(*args: str | Path, env: dict[str, str], cwd: Path | None = None):
    done = run_cli(*args, env=env, cwd=cwd)
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
    return done


def article(i: int, word: str = "okapi") -> dict:
    return {"id": f"posted-{i:04d}", "date": "2021-06-01", "title": f"Posted {i}",
            "body": f"Article {i} posted over HTTP mentions an {word} and the number {i}."}


# -- a SIGKILLed server during ingests -----------------------------------------------------------


@pytest.mark.e2e
def test_a_server_killed_during_ingests_loses_no_article_that_got_a_2xx(tmp_path, servers,
                                                                        engine_name):
    source, index = tmp_path / "src", tmp_path / "index"
    write_corpus(source / "base.jsonl", 0, 40, seed=3)
    env = env_for(engine_name, index, SEARCHSVC_ADMIN_TOKEN=TOKEN)
    server = servers(index, source, env)
    accepted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    counter = iter(range(10_000))

    def post_forever() -> None:
        while not stop.is_set():
            with lock:
                i = next(counter)
            try:
                resp = request(server.port, "POST", "/api/articles", headers=AUTH,
                               body=json.dumps(article(i)).encode(), timeout=10)
            except OSError:  # the server is gone: this one got no answer
                continue
            if 200 <= resp.status < 300:
                with lock:
                    accepted.extend(resp.json()["accepted"])

    posters = [threading.Thread(target=post_forever, daemon=True) for _ in range(3)]
    for t in posters:
        t.start()
    try:
        assert wait_until(lambda: len(accepted) >= 12, 60), "ingests did not get through"
    finally:
        server.stop()  # SIGKILL to the whole process group, ingests in flight
        stop.set()
        for t in posters:
            t.join(timeout=15)
    kept = list(accepted)
    assert len(kept) >= 12

    restarted = servers(index, source, env)
    for article_id in kept:
        resp = restarted.get(f"/api/articles/{article_id}")
        assert resp.status == 200, f"{article_id} got a 2xx and is lost: {resp.status}"
    found = restarted.get(search_path(q="okapi", collapse="false", per_page="1")).json()
    assert found["total"] >= len(kept)  # and searchable
    assert restarted.documents() >= 40 + len(kept)


# -- rollback while serving ------------------------------------------------------------------------


def generations_of(index: Path, env: dict[str, str]) -> list[dict]:
    return json.loads(cli_ok("generations", "--index", index, "--json", env=env).stdout)


@pytest.mark.e2e
def test_rollback_while_serving_fails_no_search_and_is_served(tmp_path, servers, engine_name):
    source, index = tmp_path / "src", tmp_path / "index"
    env = env_for(engine_name, index)
    write_corpus(source / "base.jsonl", 0, 60, seed=4)
    cli_ok("index", source, "--index", index, env=env)
    write_corpus(source / "more.jsonl", 60, 20, seed=5)
    cli_ok("index", source, "--index", index, env=env)
    [old, new] = [g["id"] for g in generations_of(index, env)][-2:]
    server = servers(index, source, env)
    assert server.documents() == 80

    failures: list[str] = []
    totals: set[int] = set()
    stop = threading.Event()

    def search_forever() -> None:
        while not stop.is_set():
            try:
                resp = server.get(search_path(q=MARKER, per_page="5"))
                if resp.status != 200:
                    failures.append(f"{resp.status}: {resp.body[:200]!r}")
                else:
                    totals.add(resp.json()["total"])
            except OSError as exc:
                failures.append(repr(exc))

    clients = [threading.Thread(target=search_forever, daemon=True) for _ in range(3)]
    for t in clients:
        t.start()
    try:
        time.sleep(0.3)
        back = cli_ok("rollback", "--index", index, env=env)
        assert old in back.stdout
        server.wait_documents(60)
        time.sleep(0.3)
        cli_ok("rollback", new, "--index", index, env=env)  # and forward again, by name
        server.wait_documents(80)
        time.sleep(0.3)
    finally:
        stop.set()
        for t in clients:
            t.join(timeout=15)
    assert not failures, failures[:5]
    assert totals == {60, 80}, totals  # every answer is one whole generation or the other
    current = [g["id"] for g in generations_of(index, env) if g["current"]]
    assert current == [new]
    assert server.get("/api/health").json()["generation"] == new


# -- ingests and full builds -----------------------------------------------------------------------


def build_lock_held(index: Path) -> bool:
    """Whether a full build holds the index (its ``flock`` on ``.build.lock``)."""
    try:
        fd = os.open(index / BUILD_LOCK, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@pytest.fixture
def ingesting(app_for, tmp_path, engine_name):
    """A served index of 30 articles from a source folder, with the admin token: (client,
    index directory, source folder)."""
    source, index = tmp_path / "src", tmp_path / "index"
    write_jsonl(source / "base.jsonl", [
        {"id": f"base-{i}", "date": "2021-01-01", "title": f"Base {i}",
         "body": f"Base article {i} about harbours and {random.Random(i).choice(COMMON)}."}
        for i in range(30)])
    build_sources(index, [source], engine_name)
    return app_for(index, ADMIN_TOKEN=TOKEN, SOURCE=str(source)), index, source


def post(client, body: dict | list[dict]):
    data = json.dumps(body) if isinstance(body, dict) else "\n".join(map(json.dumps, body))
    response = client.post("/api/articles", data=data, headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["accepted"]


def test_a_full_rebuild_from_the_command_line_keeps_every_ingested_article(ingesting,
                                                                            engine_name):
    client, index, source = ingesting
    kept = post(client, [article(i) for i in range(5)]) + post(client, article(5))
    assert client.delete("/api/articles/posted-0002", headers=AUTH).status_code == 204
    kept.remove("posted-0002")
    env = env_for(engine_name, index)
    done = cli_ok("index", source, "--index", index, env=env)
    assert summary(done)["documents"] == 30 + len(kept)
    with open_snapshot(index, engine_name) as snapshot:
        ids = doc_ids(snapshot)
    assert set(kept) <= ids and "posted-0002" not in ids
    hits = client.get("/api/search?q=okapi&collapse=false&per_page=100").get_json()["hits"]
    assert sorted(h["id"] for h in hits) == sorted(kept)


@pytest.mark.parametrize("first", ["after-an-earlier-ingest", "first-ingest-ever"])
def test_ingests_while_a_full_build_runs_are_all_in_the_generation_it_publishes(
        ingesting, engine_name, first):
    client, index, source = ingesting
    kept: list[str] = []
    if first == "after-an-earlier-ingest":
        kept += post(client, article(5000))
    write_corpus(source / "bulk.jsonl", 0, 2500, seed=7, rare_words=3)  # a build of seconds
    env = env_for(engine_name, index)
    build = subprocess.Popen(
        [sys.executable, "-m", "searchsvc", "index", str(source), "--index", str(index)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True)

    def building() -> bool:
        return build_lock_held(index)

    during = 0
    try:
        assert wait_until(lambda: building() or build.poll() is not None, BUILD_TIMEOUT)
        for i in range(200):
            if build.poll() is not None:
                break
            was_building = building()
            kept += post(client, article(i))
            during += was_building and building()  # started and answered while it ran
        out, err = build.communicate(timeout=BUILD_TIMEOUT)
    finally:
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGKILL)
            build.communicate()
    assert build.returncode == 0, err
    assert during >= 1, "no ingest was answered while the full build ran"
    kept += post(client, article(999))  # and one after it
    with open_snapshot(index, engine_name) as snapshot:
        ids = doc_ids(snapshot)
    assert set(kept) <= ids, sorted(set(kept) - ids)
    assert len(ids) == 30 + 2500 + len(kept)


# -- GET /api/builds/<id>: running, then failed ----------------------------------------------------


@pytest.fixture
def hanging_builds(monkeypatch):
    """``POST /api/reindex`` starts, instead of a build, a process that stands for a long one
    (alive until killed); the list of those started, all killed when the test ends."""
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def a_build_that_hangs(args, **kwargs):
        proc = real_popen([sys.executable, "-c", "import time; time.sleep(60)"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(proc)
        return proc

    monkeypatch.setattr(searchsvc.web.api.subprocess, "Popen", a_build_that_hangs)
    yield started
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_build_record_says_running_while_its_process_runs_and_failed_when_it_dies(
        ingesting, hanging_builds):
    client, index, _ = ingesting
    started = hanging_builds
    response = client.post("/api/reindex", headers=AUTH)
    assert response.status_code == 202, response.get_data(as_text=True)
    location = response.headers["Location"]
    running = client.get(location).get_json()
    assert running["state"] == "running" and running["finished"] is None
    assert client.get("/api/builds/last").get_json()["id"] == response.get_json()["build"]
    os.killpg(started[0].pid, signal.SIGKILL)
    assert wait_until(lambda: client.get(location).get_json()["state"] != "running", 15)
    failed = client.get(location).get_json()
    assert failed["state"] == "failed" and failed["finished"]
    assert "killed" in failed["error"] or "exited" in failed["error"], failed["error"]
    assert client.get("/api/health").get_json()["documents"] == 30  # nothing changed


def test_a_second_reindex_while_the_first_is_starting_is_409_not_a_build_that_fails(
        ingesting, hanging_builds):
    """The first build's process may not hold the build lock yet when a second POST comes:
    its record says it runs, so the second is refused (409), rather than accepted and then
    failing on the lock, or winning it and leaving the first one failed."""
    client, _index, _ = ingesting
    first = client.post("/api/reindex", headers=AUTH)
    assert first.status_code == 202, first.get_data(as_text=True)
    second = client.post("/api/reindex", headers=AUTH)
    assert second.status_code == 409, second.get_data(as_text=True)
    assert second.get_json()["code"] == "build_in_progress"
    assert first.get_json()["build"] in second.get_json()["detail"]
    assert len(hanging_builds) == 1


# -- searchsvc stats shows the last build ----------------------------------------------------------


def test_stats_shows_the_last_builds_summary_and_what_it_skipped(tmp_path, engine_name):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    (src / "undated.txt").write_text("No date header here.\n", encoding="utf-8")
    (src / "notes.md").write_text("not an article\n", encoding="utf-8")
    index = tmp_path / "index"
    env = env_for(engine_name, index)
    cli_ok("index", src, "--index", index, env=env)
    text = cli_ok("stats", "--index", index, env=env).stdout
    [last] = [line for line in text.splitlines() if line.startswith("last build")]
    assert " done " in last and "indexed 2" in last and "skipped 2" in last
    assert f"{src / 'undated.txt'}: no date header" in text
    assert f"{src / 'notes.md'}: not an article file" in text
    doc = json.loads(cli_ok("stats", "--index", index, "--json", env=env).stdout)
    assert doc["last_build"]["summary"]["skipped"] == 2
    assert {p["path"] for p in doc["last_build"]["problems"]} == {str(src / "undated.txt"),
                                                                  str(src / "notes.md")}


# -- --update reads what changed, and keeps stories as a rebuild would -----------------------------


def test_an_update_reads_only_the_files_that_changed(tmp_path, engine_name, monkeypatch):
    import searchsvc.ingest.build as build_module

    src = tmp_path / "src"
    for i in range(6):
        write_jsonl(src / f"f{i}.jsonl", [{"id": f"a{i}", "date": "2020-01-01",
                                           "body": f"Article {i} about walruses."}])
    index = tmp_path / "index"
    build_sources(index, [src], engine_name)
    read: list[str] = []
    real = build_module.read_file

    def counting(found, max_bytes):
        read.append(Path(found.key).name)
        return real(found, max_bytes)

    monkeypatch.setattr(build_module, "read_file", counting)
    write_jsonl(src / "f2.jsonl", [{"id": "a2", "date": "2020-01-01", "body": "Now narwhals."}])
    write_jsonl(src / "f9.jsonl", [{"id": "a9", "date": "2020-01-02", "body": "New: belugas."}])
    os.utime(src / "f4.jsonl")  # touched, same content
    report = build_sources(index, [src], engine_name, update_only=True)
    assert (report.indexed, report.updated, report.removed) == (1, 1, 0)
    assert report.unchanged == 5
    assert set(read) <= {"f2.jsonl", "f9.jsonl", "f4.jsonl"}, read
    assert {"f2.jsonl", "f9.jsonl"} <= set(read)
    read.clear()
    again = build_sources(index, [src], engine_name, update_only=True)
    assert (again.indexed, again.updated, again.removed, again.unchanged) == (0, 0, 0, 7)
    assert read == [], read  # nothing changed: nothing read


def _story_archive(src: Path) -> None:
    """The two seed write-ups of one story among 60 unrelated notes over January 2020."""
    shutil.copytree(SEEDS, src)
    rnd = random.Random(5)
    for i in range(60):
        words = " ".join(rnd.choice(COMMON) for _ in range(40))
        (src / f"bg{i:02d}.txt").write_text(
            f"date 2020-01-{1 + i % 28:02d}\n\nNote {i} {rnd.choice(COMMON)}\n\n{words}.\n",
            encoding="utf-8")


def _stories(index: Path, engine_name: str) -> dict[str, str]:
    with open_snapshot(index, engine_name) as snapshot:
        return {a.id: a.story for a in snapshot.documents(sorted(doc_ids(snapshot)))}


def test_an_update_joins_a_new_write_up_to_its_story_and_hands_on_a_deleted_leader(
        tmp_path, engine_name):
    src = tmp_path / "src"
    _story_archive(src)
    index = tmp_path / "index"
    build_sources(index, [src], engine_name)
    assert _stories(index, engine_name)[SADR_2] == SADR_1  # the earliest id leads
    follow_up = (src / f"{SADR_2}.txt").read_text(encoding="utf-8").replace(
        "January 24, 2020", "January 25, 2020").replace("Friday", "Saturday")
    (src / "005_followup.txt").write_text(follow_up, encoding="utf-8")
    build_sources(index, [src], engine_name, update_only=True)
    stories = _stories(index, engine_name)
    assert stories["005_followup"] == SADR_1
    rebuilt = tmp_path / "rebuilt"
    build_sources(rebuilt, [src], engine_name)
    assert _stories(rebuilt, engine_name) == stories

    (src / f"{SADR_1}.txt").unlink()  # the leader
    build_sources(index, [src], engine_name, update_only=True)
    stories = _stories(index, engine_name)
    assert stories[SADR_2] == stories["005_followup"] == SADR_2  # the next earliest leads
    rebuilt2 = tmp_path / "rebuilt2"
    build_sources(rebuilt2, [src], engine_name)
    assert _stories(rebuilt2, engine_name) == stories


def test_on_a_small_archive_an_update_groups_stories_as_a_rebuild_does(tmp_path, engine_name):
    src = shutil.copytree(SEEDS, tmp_path / "src")
    for i, words in enumerate(["wheat harvest farmers grain silo", "bank rates inflation money",
                               "football match goal league", "storm flood rain river",
                               "election vote ballot party"]):
        (src / f"bg{i}.txt").write_text(f"date 2020-01-2{i}\n\nNote {i}\n\n{(words + ' ') * 10}\n",
                                        encoding="utf-8")
    index = tmp_path / "index"
    build_sources(index, [src], engine_name)
    follow_up = (src / f"{SADR_2}.txt").read_text(encoding="utf-8").replace(
        "January 24, 2020", "January 25, 2020").replace("Friday", "Saturday")
    (src / "005_followup.txt").write_text(follow_up, encoding="utf-8")
    build_sources(index, [src], engine_name, update_only=True)
    rebuilt = tmp_path / "rebuilt"
    build_sources(rebuilt, [src], engine_name)
    assert _stories(index, engine_name) == _stories(rebuilt, engine_name)
