"""Accepted articles and the ingest folder's lifecycle, and stories an update keeps.

* an article whose first-ever ingest was cut short (its file written, the update not
  published) is searchable once ``serve`` starts again, and with the next ingest;
* deleting a posted article that replaced a source article brings the source's version back:
  the posted text is not found any more;
* an update that adds a story's write-ups together groups them as a rebuild does.

Everything runs on the engine ``engine_name`` names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.cli import clean_env
from support.e2e import Server, search_path
from support.index import build_sources, doc_ids, engine_env, open_snapshot, write_jsonl
from support.paths import SADR_1, SADR_2, SEEDS

from searchsvc.ingest import ingested

TOKEN = "fixes-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _source(root: Path) -> Path:
    source = root / "src"
    write_jsonl(source / "base.jsonl", [
        {"id": f"base-{i}", "date": "2021-01-01", "title": f"Base {i}",
         "body": f"Base article {i} about harbours and ferries."} for i in range(6)]
        + [{"id": "shared-1", "date": "2021-01-02", "title": "Heron colony counted",
            "body": "Volunteers counted the heron colony on the estuary."}])
    return source


def _written_not_published(index: Path, record: dict) -> None:
    """What an ingest leaves when the server is killed after the article's file is durably
    written, before the update publishes: the file, and an index without it."""
    folder = ingested.ingest_dir(index, None)
    ingested.write_durably(ingested.file_for(folder, record["id"]),
                           (json.dumps(record) + "\n").encode("utf-8"))


CUT_SHORT = {"id": "cut-short-1", "date": "2021-01-03", "title": "Walrus on the slipway",
             "body": "A walrus hauled out on the lifeboat slipway at dawn."}


@pytest.mark.e2e
def test_serve_makes_an_article_whose_first_ingest_was_cut_short_searchable(tmp_path,
                                                                           engine_name):
    source, index = _source(tmp_path), tmp_path / "index"
    build_sources(index, [source], engine_name)
    _written_not_published(index, CUT_SHORT)
    env = clean_env(**engine_env(engine_name, index), SEARCHSVC_ADMIN_TOKEN=TOKEN)
    server = Server(tmp_path, index, source, 1, env)
    try:
        assert server.wait_ready().status == 200, server.log()
        found = server.get(search_path(q="walrus", collapse="false")).json()
        assert [h["id"] for h in found["hits"]] == ["cut-short-1"], server.log()
        assert server.documents() == 7 + 1
    finally:
        server.stop()
    # The folder is now one of the index's sources: a rebuild of them keeps the article.
    with open_snapshot(index, engine_name) as snapshot:
        assert "cut-short-1" in doc_ids(snapshot)


def test_the_ingest_after_a_cut_short_first_one_makes_both_searchable(tmp_path, app_for,
                                                                       engine_name):
    source, index = _source(tmp_path), tmp_path / "index"
    build_sources(index, [source], engine_name)
    _written_not_published(index, CUT_SHORT)
    client = app_for(index, ADMIN_TOKEN=TOKEN, SOURCE=str(source))
    response = client.post("/api/articles", headers=AUTH, data=json.dumps(
        {"id": "next-1", "date": "2021-01-03", "title": "Walrus seen again",
         "body": "The walrus swam off past the harbour wall."}))
    assert response.status_code == 200, response.get_data(as_text=True)
    hits = client.get("/api/search?q=walrus&collapse=false").get_json()["hits"]
    assert sorted(h["id"] for h in hits) == ["cut-short-1", "next-1"]
    assert client.get("/api/health").get_json()["documents"] == 7 + 2


def test_deleting_a_posted_article_that_replaced_a_source_one_brings_the_source_back(
        tmp_path, app_for, engine_name):
    source, index = _source(tmp_path), tmp_path / "index"
    build_sources(index, [source], engine_name)
    client = app_for(index, ADMIN_TOKEN=TOKEN, SOURCE=str(source))
    response = client.post("/api/articles", headers=AUTH, data=json.dumps(
        {"id": "shared-1", "date": "2021-01-02", "title": "Pelican colony counted",
         "body": "Volunteers counted the pelican colony on the estuary."}))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [h["id"] for h in client.get("/api/search?q=pelican").get_json()["hits"]] \
        == ["shared-1"]
    assert client.get("/api/search?q=heron").get_json()["total"] == 0  # replaced

    assert client.delete("/api/articles/shared-1", headers=AUTH).status_code == 204
    # The posted text is searchable no more; the source folder's version of the id is what
    # the sources say, as a rebuild would have it.
    assert client.get("/api/search?q=pelican").get_json()["total"] == 0
    assert [h["id"] for h in client.get("/api/search?q=heron").get_json()["hits"]] \
        == ["shared-1"]
    shown = client.get("/api/articles/shared-1").get_json()
    assert shown["title"] == "Heron colony counted"
    assert client.get("/api/health").get_json()["documents"] == 7
    # ... and it is a source article again: not the service's to delete.
    assert client.delete("/api/articles/shared-1", headers=AUTH).status_code == 409


def _stories(index: Path, engine_name: str) -> dict[str, str]:
    with open_snapshot(index, engine_name) as snapshot:
        return {a.id: a.story for a in snapshot.documents(sorted(doc_ids(snapshot)))}


def test_an_update_adding_a_storys_write_ups_together_groups_them_as_a_rebuild_does(
        tmp_path, engine_name):
    # Both later write-ups arrive in one update: each is counted in the other's statistics
    # (document frequencies, the burst rule's counts near its date), as a rebuild counts them.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SEEDS / f"{SADR_1}.txt", src)
    for i, words in enumerate(["wheat harvest farmers grain silo", "bank rates inflation money",
                               "football match goal league", "storm flood rain river",
                               "election vote ballot party"]):
        (src / f"bg{i}.txt").write_text(
            f"date 2020-01-2{i}\n\nNote {i}\n\n{(words + ' ') * 10}\n", encoding="utf-8")
    index = tmp_path / "index"
    build_sources(index, [src], engine_name)
    second = (SEEDS / f"{SADR_2}.txt").read_text(encoding="utf-8")
    (src / f"{SADR_2}.txt").write_text(second, encoding="utf-8")
    (src / "005_followup.txt").write_text(second.replace(
        "January 24, 2020", "January 25, 2020").replace("Friday", "Saturday"), encoding="utf-8")
    build_sources(index, [src], engine_name, update_only=True)
    rebuilt = tmp_path / "rebuilt"
    build_sources(rebuilt, [src], engine_name)
    expected = _stories(rebuilt, engine_name)
    assert expected[SADR_2] == SADR_1  # the same day's write-up is one story with the first
    assert _stories(index, engine_name) == expected
