"""The ``searchsvc`` command line (contract §2): ``search``, ``stats``, settings and usage errors.

``searchsvc index`` itself is covered in ``test_indexer.py``. Here the read-side commands run on
small prebuilt indexes: a few tests start the real command (``python -m searchsvc``) in a
subprocess, as a user would; option combinations go through click's ``CliRunner`` (in-process,
fast). ``--json`` output is compared with what the HTTP API returns for the same request.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.cli import clean_env, invoke, run_cli
from support.index import build_sources, engine_env, index_name, write_jsonl
from support.paths import SEED_IDS, SEEDS

SEED_TITLES = ("Thousands of protesters marched through central Baghdad",
               "Supporters of Iraqi cleric Muqtada al-Sadr")
BODIES = [
    "Apple growers in the valley reported frost damage to early blossoms.",
    "Apple shares climbed after quarterly earnings beat forecasts.",
    "Apple pie contest draws record crowds to the county fair.",
    "Apple cider makers face a shortage of glass bottles this winter.",
    "Apple orchards flooded as the river burst its banks overnight.",
]
DATED = [  # unrelated articles (each its own story), one a day
    {"id": f"apple-{d}", "date": f"2020-01-0{d}", "title": f"Apple report {d}",
     "body": BODIES[d - 1], "topics": ["fruit"] + (["trade"] if d % 2 else []),
     "places": ["norway"]}
    for d in range(1, 6)
] + [{"id": "apple-undated", "title": "Apple undated", "body": "Apple harvest, undated.",
      "topics": ["fruit"]}]


# -- helpers -----------------------------------------------------------------------------------


def on(engine_name: str, index: Path) -> dict[str, str]:
    """The environment that makes a command use the engine under test for ``index``."""
    return engine_env(engine_name, index)


def search_json(index: Path, engine_name: str, *args: str) -> dict:
    result = invoke("search", *args, "--index", index, "--json", env=on(engine_name, index))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory, engine_name) -> Path:
    """Five dated "apple" articles (2020-01-01 … 05, with topics) and one undated."""
    root = tmp_path_factory.mktemp("dated")
    build_sources(root / "index", [write_jsonl(root / "apples.jsonl", DATED)], engine_name)
    return root / "index"


@pytest.fixture
def api(seed_index, app_for):
    """The HTTP API over the same seed index."""
    return app_for(seed_index)


# -- search ------------------------------------------------------------------------------------


def test_search_prints_both_seed_titles(seed_index, engine_name):
    result = run_cli("search", "sadr", "--index", seed_index,
                     env=clean_env(**on(engine_name, seed_index)))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 articles")
    lines = result.stdout.splitlines()
    for title in SEED_TITLES:
        assert title in result.stdout
    for article_id in SEED_IDS:  # (the two may be shown as one story: a hit and its version)
        assert any(article_id in line and "2020-01-24" in line for line in lines)
    # piped output is plain text: no highlighting markup or terminal escapes
    assert "<mark>" not in result.stdout and "\x1b" not in result.stdout
    assert "Sadr" in result.stdout  # a snippet line


@pytest.mark.parametrize("args,params", [
    ([], {}),
    (["--from", "2020-01-24"], {"from": "2020-01-24"}),
    (["--to", "Jan 23, 2020"], {"to": "Jan 23, 2020"}),
    (["--sort", "oldest", "--limit", "1"], {"sort": "oldest", "per_page": "1"}),
    (["--sort", "newest", "--from", "24 January 2020", "--to", "2020-01-24"],
     {"sort": "newest", "from": "24 January 2020", "to": "2020-01-24"}),
], ids=["plain", "from", "to-empty", "oldest-limit", "newest-range"])
def test_search_json_is_the_api_document(seed_index, api, args, params, engine_name):
    printed = search_json(seed_index, engine_name, "sadr", *args)
    response = api.get("/api/search", query_string={"q": "sadr", **params})
    assert response.status_code == 200
    served = response.get_json()
    printed.pop("took_ms")
    served.pop("took_ms")
    assert printed == served


def test_search_json_shape(seed_index, engine_name):
    doc = search_json(seed_index, engine_name, "sadr")
    assert set(doc) >= {"query", "total", "took_ms", "hits", "facets", "did_you_mean"}
    assert doc["total"] == 2
    shown = {h["id"] for h in doc["hits"]}
    shown |= {i for h in doc["hits"] for i in (h.get("story") or {}).get("others", [])}
    assert shown == SEED_IDS
    hit = doc["hits"][0]
    assert set(hit) >= {"id", "date", "title", "title_html", "score", "snippets", "url"}
    assert hit["url"] == f"/articles/{hit['id']}"
    assert any("<mark>Sadr</mark>" in s for h in doc["hits"] for s in h["snippets"])
    buckets = doc["facets"]["date"]["buckets"]
    assert [(b["value"], b["count"]) for b in buckets] == [("2020-01-24", 2)]


def dates(doc: dict) -> list[str | None]:
    return [h["date"] for h in doc["hits"]]


def test_search_from_and_to_bound_the_dates(dated_index, engine_name):
    def found(*args: str) -> dict:
        return search_json(dated_index, engine_name, "apple", *args, "--sort", "oldest")

    assert dates(found("--from", "2020-01-03")) == ["2020-01-03", "2020-01-04", "2020-01-05"]
    assert dates(found("--to", "2020-01-02")) == ["2020-01-01", "2020-01-02"]
    # any date dateutil reads; both bounds inclusive
    doc = found("--from", "January 2, 2020", "--to", "4 Jan 2020")
    assert dates(doc) == ["2020-01-02", "2020-01-03", "2020-01-04"]
    assert (doc["query"]["from"], doc["query"]["to"]) == ("2020-01-02", "2020-01-04")


def test_search_sort(dated_index, engine_name):
    days = [f"2020-01-0{d}" for d in range(1, 6)]
    def found(*args: str) -> dict:
        return search_json(dated_index, engine_name, *args)

    assert dates(found("apple", "--sort", "oldest")) == days + [None]
    assert dates(found("apple", "--sort", "newest")) == days[::-1] + [None]
    # no query: every article, newest first
    assert dates(search_json(dated_index, engine_name)) == days[::-1] + [None]


def test_search_limit(dated_index, engine_name):
    doc = search_json(dated_index, engine_name, "apple", "--limit", "2", "--sort", "newest")
    assert doc["total"] == 6
    assert dates(doc) == ["2020-01-05", "2020-01-04"]

    result = invoke("search", "apple", "--index", dated_index, "--limit", "2",
                    env=on(engine_name, dated_index))
    assert result.exit_code == 0
    assert result.stdout.startswith("6 articles")
    assert re.findall(r"^\s+(\d+)\. ", result.stdout, re.MULTILINE) == ["1", "2"]


def test_search_shows_undated_articles_as_undated(dated_index, engine_name):
    result = invoke("search", "undated", "--index", dated_index, env=on(engine_name, dated_index))
    assert result.exit_code == 0
    assert re.search(r"^\s+undated\s+apple-undated$", result.stdout, re.MULTILINE)


def test_search_suggests_a_correction(dated_index, engine_name):
    # (A word nobody wrote is corrected to a word in three articles or more: not on the seeds.)
    result = invoke("search", "aple", "--index", dated_index, env=on(engine_name, dated_index))
    assert result.exit_code == 0
    assert result.stdout.startswith("0 articles")
    assert "Did you mean: apple" in result.stdout


@pytest.mark.parametrize("args,detail", [
    (["--from", "garbage"], "from"),
    (["--from", "2020-13-45"], "from"),
    (["--to", "soon"], "to"),
    (["--from", "2020-02-01", "--to", "2020-01-01"], "from"),
])
def test_a_bad_date_is_a_clear_error(seed_index, args, detail, engine_name):
    result = invoke("search", "sadr", "--index", seed_index, *args, env=on(engine_name, seed_index))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert detail in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_from_fails_the_real_command(seed_index, engine_name):
    result = run_cli("search", "sadr", "--index", seed_index, "--from", "garbage",
                     env=clean_env(**on(engine_name, seed_index)))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "from" in result.stderr and "garbage" in result.stderr


def test_search_applies_the_servers_query_length_limit(seed_index, engine_name):
    env = {**on(engine_name, seed_index), "SEARCHSVC_MAX_QUERY_CHARS": "10"}
    result = invoke("search", "sadr protesters", "--index", seed_index, env=env)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "10 characters" in result.stderr
    assert "SEARCHSVC_MAX_QUERY_CHARS" in result.stderr
    within = invoke("search", "sadr", "--index", seed_index, "--json", env=env)
    assert within.exit_code == 0 and json.loads(within.stdout)["total"] == 2


# -- stats -------------------------------------------------------------------------------------


def test_stats_prints_documents_dates_and_the_index(seed_index, engine_name):
    env = clean_env(**on(engine_name, seed_index))
    result = run_cli("stats", "--index", seed_index, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"documents\s+2", lines[0])
    assert re.fullmatch(r"dates\s+2020-01-24 … 2020-01-24 \(0 undated\)", lines[1])
    # Changed by the restructure: the index is named by its engine and generation (an
    # OpenSearch index has no folder), no longer by the generation's path.
    generation = json.loads(run_cli("stats", "--index", seed_index, "--json", env=env).stdout)[
        "index"]["generation"]
    assert re.match(rf"index\s+{engine_name} {re.escape(generation)}, \d+\.\d MB, ", lines[2])
    assert "segment" in lines[2] and "vocabulary" in lines[2]
    assert lines[3].startswith("built") and str(SEEDS) in lines[3]


def test_stats_json_is_the_api_document(seed_index, api, engine_name):
    result = invoke("stats", "--index", seed_index, "--json", env=on(engine_name, seed_index))
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["documents"] == 2
    assert doc["date_range"] == {"min": "2020-01-24", "max": "2020-01-24"}
    assert {"generation", "size_bytes", "built_at", "build_seconds", "sources"} <= set(
        doc["index"])
    assert doc["index"]["generation"] == api.get("/api/health").get_json()["generation"]
    assert doc["index"]["size_bytes"] > 0
    assert {"topics", "places", "people", "orgs"} <= set(doc["facets"])
    assert doc == api.get("/api/stats").get_json()


def test_stats_lists_facet_values(dated_index, engine_name):
    env = on(engine_name, dated_index)
    doc = json.loads(invoke("stats", "--index", dated_index, "--json", env=env).stdout)
    assert doc["documents"] == 6
    assert doc["undated"] == 1
    assert doc["date_range"] == {"min": "2020-01-01", "max": "2020-01-05"}
    assert doc["facets"]["topics"] == [{"value": "fruit", "count": 6},
                                       {"value": "trade", "count": 3}]
    assert doc["facets"]["places"] == [{"value": "norway", "count": 5}]

    text = invoke("stats", "--index", dated_index, env=env).stdout
    assert re.search(r"^topics\s+fruit \(6\), trade \(3\)$", text, re.MULTILINE)
    assert re.search(r"^places\s+norway \(5\)$", text, re.MULTILINE)
    assert re.search(r"\(1 undated\)", text)


@pytest.mark.parametrize("command", [["stats"], ["stats", "--json"], ["search", "sadr"]])
def test_no_index_is_a_clear_error(tmp_path, command, engine_name):
    missing = tmp_path / "nothing-here"
    result = invoke(*command, "--index", missing, env=on(engine_name, missing))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert index_name(engine_name, missing) in result.stderr  # the folder, or the alias


# -- settings and usage --------------------------------------------------------------------


def test_the_index_flag_beats_the_environment(seed_index, dated_index, engine_name):
    # On OpenSearch the index is named by its alias: --opensearch-index beats
    # SEARCHSVC_OPENSEARCH_INDEX as --index beats SEARCHSVC_INDEX.
    dated = {**on(engine_name, dated_index), "SEARCHSVC_INDEX": str(dated_index)}
    from_env = invoke("stats", "--json", env=dated)
    assert json.loads(from_env.stdout)["documents"] == 6
    flag = ["--index", seed_index]
    if engine_name == "opensearch":
        flag += ["--opensearch-index", index_name(engine_name, seed_index)]
    assert json.loads(invoke("stats", "--json", *flag, env=dated).stdout)["documents"] == 2


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["index", "--no-such-option"],
    ["index", "--procs", "many"],
    ["index", "--memory-mb", "-5"],
    ["index", "--max-file-mb", "nan"],
    ["serve", "--postings-cache-mb", "-1"],
    ["search", "sadr", "--limit", "0"],
    ["search", "sadr", "--limit", "101"],
    ["search", "sadr", "--sort", "sideways"],
    ["stats", "--no-such-option"],
], ids=lambda a: " ".join(a))
def test_usage_errors_exit_2(tmp_path, args):
    result = invoke(*args, "--index", tmp_path / "index")
    assert result.exit_code == 2
    assert "Error:" in result.stderr
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize("variable, value", [("SEARCHSVC_MAX_FILE_MB", "-1"),
                                             ("SEARCHSVC_RATE_LIMIT", "fast")])
def test_a_bad_setting_in_the_environment_is_a_usage_error_naming_it(tmp_path, variable,
                                                                     value):
    # `stats` has no flag for either: the value comes from the settings table alone.
    result = invoke("stats", "--index", tmp_path / "index", env={variable: value})
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and variable in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("index", "serve", "search", "stats"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE)


# -- Reuters -----------------------------------------------------------------------------------


@pytest.mark.reuters
def test_reuters_stats_and_search(reuters_index, engine_name):
    env = on(engine_name, reuters_index)
    doc = json.loads(invoke("stats", "--index", reuters_index, "--json", env=env).stdout)
    assert doc["documents"] == 20_841
    assert doc["date_range"] == {"min": "1987-02-26", "max": "1987-10-20"}
    tops = {name: [v["value"] for v in doc["facets"][name][:5]]
            for name in ("topics", "places", "people", "orgs")}
    assert "earn" in tops["topics"] and "usa" in tops["places"]
    assert all(tops.values())

    found = search_json(reuters_index, engine_name, "cocoa", "--from", "1987-03-01",
                        "--to", "1987-03-31", "--sort", "oldest", "--limit", "20")
    assert found["total"] > 0
    days = dates(found)
    assert days == sorted(days)
    assert all("1987-03-01" <= d <= "1987-03-31" for d in days)
