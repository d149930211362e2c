"""The article readers (contract §1): seed text files, JSON Lines, and bad input.

Every test writes a handful of tiny files under ``tmp_path`` and reads them back through the public
entry points (:func:`read_sources`, :func:`collect`), the way the indexer does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import os
from pathlib import Path

import pytest

from searchsvc.ingest.readers import Article, Problem
from searchsvc.ingest.sources import collect, read_sources

DAY = dt.date(2020, 1, 24)
MB10 = 10 * 1024 * 1024


# -- helpers -----------------------------------------------------------------------------------


def write(path: Path, content: str | bytes) -> Path:
    """Write ``content`` byte for byte (str as UTF-8, no newline translation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def jsonl(path: Path, *lines: object, gz: bool = False) -> Path:
    """Write one line per item: dicts/lists as JSON, str and bytes verbatim."""
    raw = b""
    for line in lines:
        if isinstance(line, bytes):
            raw += line
        elif isinstance(line, str):
            raw += line.encode("utf-8")
        else:
            raw += json.dumps(line).encode("utf-8")
        raw += b"\n"
    return write(path, gzip.compress(raw) if gz else raw)


def read(*sources: Path | str, max_bytes: int = MB10) -> tuple[dict[str, Article], list[Problem]]:
    """Read without resolving duplicates: articles by id (ids must be unique) and problems."""
    items = list(read_sources(sources, max_bytes))
    for item in items:
        assert isinstance(item, Article | Problem), item
    articles = [i for i in items if isinstance(i, Article)]
    problems = [i for i in items if isinstance(i, Problem)]
    by_id = {a.id: a for a in articles}
    assert len(by_id) == len(articles), "unexpected duplicate ids"
    return by_id, problems


def only_article(source: Path, **kw) -> Article:
    articles, problems = read(source, **kw)
    assert problems == []
    assert len(articles) == 1, articles
    return next(iter(articles.values()))


def skipped(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.skipped]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.skipped]


GOOD_TXT = "date 2020-01-24 Protest in Baghdad\n\nThousands marched on Friday.\n"


# -- seed text format --------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    "date 2020-01-24",
    "   \n\t\n  date 2020-01-24",
    "date 24 Jan 2020",
    "date January 24, 2020",
    "date\t2020-01-24\n",
])
def test_seed_date_header_formats_all_give_the_same_day(tmp_path, header):
    write(tmp_path / "src" / "a.txt", f"{header} Thousands marched in Baghdad on Friday.\n")
    article = only_article(tmp_path / "src")
    assert article.date == DAY
    assert article.body == "Thousands marched in Baghdad on Friday."
    assert article.title == "Thousands marched in Baghdad on Friday."


@pytest.mark.parametrize("date", ["2020-01-24", "24 Jan 2020", "January 24, 2020"])
def test_number_after_the_date_stays_in_the_text(tmp_path, date):
    # "10" must not be read as an hour (or a day) of the date.
    write(tmp_path / "src" / "a.txt",
          f"date {date} 10 people died in floods on Friday. Rescuers are searching.\n")
    article = only_article(tmp_path / "src")
    assert article.date == DAY
    assert article.title == "10 people died in floods on Friday."
    assert article.body.startswith("10 people died")


def test_utf8_bom_is_tolerated(tmp_path):
    write(tmp_path / "src" / "a.txt",
          b"\xef\xbb\xbfdate 2020-01-24 Caf\xc3\xa9 owners protest.\n")
    article = only_article(tmp_path / "src")
    assert article.date == DAY
    assert article.body == "Café owners protest."
    assert "\ufeff" not in article.title + article.body


def test_paragraphs_are_kept_in_the_body(tmp_path):
    write(tmp_path / "src" / "a.txt",
          "date 2020-01-24 Headline\n\nFirst paragraph.\n\nSecond paragraph.\n")
    article = only_article(tmp_path / "src")
    assert article.body == "First paragraph.\n\nSecond paragraph."


def test_ids_are_relative_paths_without_extension(tmp_path):
    src = tmp_path / "seeds"
    write(src / "000_4db8953d65d6e437.txt", GOOD_TXT)
    write(src / "wires" / "2020" / "abc.txt", GOOD_TXT)
    articles, problems = read(src)
    assert problems == []
    assert set(articles) == {"000_4db8953d65d6e437", "wires/2020/abc"}
    assert articles["wires/2020/abc"].path == str(src / "wires" / "2020" / "abc.txt")


def test_ids_do_not_depend_on_how_the_source_is_spelled(tmp_path, monkeypatch):
    src = tmp_path / "seeds"
    write(src / "wires" / "abc.txt", GOOD_TXT)
    monkeypatch.chdir(tmp_path)
    ids = [set(read(s)[0]) for s in ("seeds", "./seeds/", src, str(src) + "/")]
    assert ids == [{"wires/abc"}] * 4


def test_single_text_file_source_gets_its_stem_as_id(tmp_path):
    path = write(tmp_path / "seeds" / "wires" / "2020" / "abc.txt", GOOD_TXT)
    article = only_article(path)
    assert article.id == "abc"
    assert article.date == DAY


def test_single_jsonl_file_source(tmp_path):
    path = jsonl(tmp_path / "one.jsonl", {"id": "r1", "body": "Oil rose."})
    assert only_article(path).id == "r1"


def test_missing_source_is_reported_and_other_sources_still_read(tmp_path):
    write(tmp_path / "src" / "a.txt", GOOD_TXT)
    articles, problems = read(tmp_path / "nope", tmp_path / "src")
    assert set(articles) == {"a"}
    assert [p.path for p in problems] == [str(tmp_path / "nope")]
    assert problems[0].skipped


# -- titles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("nl", ["\n", "\r\n"])
def test_short_first_line_followed_by_blank_line_is_the_title(tmp_path, nl):
    write(tmp_path / "src" / "a.txt",
          f"date 2020-01-24 Protest in Baghdad{nl}{nl}Thousands marched. Police watched."
          f"{nl}{nl}More later.{nl}")
    article = only_article(tmp_path / "src")
    assert article.title == "Protest in Baghdad"
    assert article.body.startswith("Thousands marched.")
    assert article.body.endswith("More later.")
    assert "Protest in Baghdad" not in article.body


def test_first_line_of_exactly_200_chars_is_still_a_title(tmp_path):
    headline = ("word " * 40)[:199] + "x"
    assert len(headline) == 200
    write(tmp_path / "src" / "a.txt", f"date 2020-01-24 {headline}\n\nThe body.\n")
    article = only_article(tmp_path / "src")
    assert article.title == headline
    assert article.body == "The body."


def test_first_line_over_200_chars_is_not_a_title(tmp_path):
    first = ("word " * 41)[:200] + "s"
    assert len(first) == 201
    write(tmp_path / "src" / "a.txt", f"date 2020-01-24 {first}\n\nThe body.\n")
    article = only_article(tmp_path / "src")
    assert article.title.endswith("…") and len(article.title) <= 121
    assert article.body == f"{first}\n\nThe body."  # nothing is dropped from the body


def test_without_blank_line_the_title_is_the_first_sentence(tmp_path):
    write(tmp_path / "src" / "a.txt",
          "date 2020-01-24 Ten people died in the flood. Rescue work goes on.\n"
          "Officials said more rain is expected.\n")
    article = only_article(tmp_path / "src")
    assert article.title == "Ten people died in the flood."
    assert article.body == ("Ten people died in the flood. Rescue work goes on.\n"
                            "Officials said more rain is expected.")


def test_first_sentence_ending_in_question_mark(tmp_path):
    write(tmp_path / "src" / "a.txt", "date 2020-01-24 Will the dam hold? Nobody knows.\n")
    assert only_article(tmp_path / "src").title == "Will the dam hold?"


@pytest.mark.parametrize(("text", "title"), [
    ('"Will the dam hold?" Nobody knows.', '"Will the dam hold?"'),
    ("Officials said \u201cthe dam will hold.\u201d Nobody believed it.",
     "Officials said \u201cthe dam will hold.\u201d"),
])
def test_first_sentence_ending_inside_quotes_keeps_the_closing_quote(tmp_path, text, title):
    write(tmp_path / "src" / "a.txt", f"date 2020-01-24 {text}\n")
    assert only_article(tmp_path / "src").title == title


WORDS = ["protesters", "marched", "through", "central", "Baghdad", "on", "Friday", "to",
         "demand", "the", "withdrawal", "of", "American", "troops", "from", "Iraq", "answering",
         "a", "call", "by", "an", "influential", "cleric", "for", "rally"]


@pytest.mark.parametrize("pad", range(12))
def test_long_first_sentence_is_cut_at_a_word_boundary_near_120(tmp_path, pad):
    # Shifting the text by `pad` characters moves character 120 across word boundaries.
    sentence = "x" * pad + "Thousands " + " ".join(WORDS * 2)
    assert len(sentence) > 250
    write(tmp_path / "src" / "a.txt", f"date 2020-01-24 {sentence}. Second sentence.\n")
    article = only_article(tmp_path / "src")
    title = article.title
    assert title.endswith("…")
    assert 100 <= len(title) <= 121
    kept = title[:-1]
    assert sentence.startswith(kept)
    assert sentence[len(kept)] == " ", f"word split: {kept[-15:]!r}|{sentence[len(kept):][:10]!r}"
    assert article.body.startswith(sentence)  # the body is the whole text


def test_long_sentence_spanning_lines_gives_a_single_line_title(tmp_path):
    text = "\n".join(" ".join(WORDS[i:i + 5]) for i in range(0, len(WORDS), 5))
    write(tmp_path / "src" / "a.txt", f"date 2020-01-24 {text}.\n")
    title = only_article(tmp_path / "src").title
    assert "\n" not in title and "  " not in title
    assert len(title) <= 121 and title.endswith("…")


def test_abbreviations_do_not_end_the_first_sentence(tmp_path):
    jsonl(tmp_path / "a.jsonl",
          {"id": "us", "body": "U.S. troops left Baghdad on Friday. More follows."},
          {"id": "mr", "body": "Mr. Sadr called for a rally on Friday. More follows."})
    articles, _ = read(tmp_path / "a.jsonl")
    assert articles["us"].title == "U.S. troops left Baghdad on Friday."
    assert articles["mr"].title == "Mr. Sadr called for a rally on Friday."


# -- bad text files ----------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "reason"), [
    ("Ten people died.\n", "no date header"),
    # Changed by the restructure: an empty (or blank) file says so, not "no date header".
    ("", "empty file"),
    ("   \n\n", "empty file"),
    ("dated 2020-01-24 Ten people died.\n", "no date header"),
    ("date yesterday Ten people died.\n", "unparseable date"),
    ("date 2020-02-30 Ten people died.\n", "unparseable date"),
    ("date January 2020 Ten people died.\n", "incomplete date"),
    ("date 2020-01 Ten people died.\n", "incomplete date"),
    ("date 2020-01-24\n", "empty text"),
    ("date 2020-01-24   \n\n \t\n", "empty text"),
    (b"date 2020-01-24 Ten\x00people died.\n", "NUL"),
    (b"\xff\xfed\x00a\x00t\x00e\x00", "NUL"),  # UTF-16: binary for our purposes
])
def test_bad_text_file_is_reported_and_skipped(tmp_path, content, reason):
    src = tmp_path / "src"
    write(src / "good.txt", GOOD_TXT)
    bad = write(src / "bad.txt", content)
    articles, problems = read(src)
    assert set(articles) == {"good"}
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.path == str(bad)
    assert problem.line is None
    assert problem.skipped
    assert reason in problem.reason
    assert str(bad) in str(problem)


def test_file_over_the_size_limit_is_reported_and_skipped(tmp_path):
    src = tmp_path / "src"
    small = write(src / "small.txt", GOOD_TXT)
    big = write(src / "big.txt", GOOD_TXT + "More words. " * 20)
    articles, problems = read(src, max_bytes=small.stat().st_size)  # the limit is inclusive
    assert set(articles) == {"small"}
    assert [(p.path, p.skipped) for p in problems] == [(str(big), True)]
    assert "limit" in problems[0].reason


def test_size_limit_defaults_to_10_mb(tmp_path):
    src = tmp_path / "src"
    big = write(src / "big.txt", GOOD_TXT)
    with big.open("r+b") as fh:  # sparse: 10 MB + 1 byte without writing 10 MB
        fh.truncate(MB10 + 1)
    write(src / "ok.txt", GOOD_TXT)
    articles, problems = read(src)
    assert set(articles) == {"ok"}
    assert [p.path for p in problems] == [str(big)]


def test_invalid_utf8_that_is_cp1252_is_indexed_with_a_warning(tmp_path):
    path = write(tmp_path / "src" / "a.txt",
                 b"date 2020-01-24 Caf\xe9 owners said \x93no\x94 to the plan.\n")
    articles, problems = read(tmp_path / "src")
    assert articles["a"].body == "Café owners said “no” to the plan."
    assert articles["a"].date == DAY
    assert len(problems) == 1
    assert problems[0].path == str(path)
    assert problems[0].skipped is False
    assert "UTF-8" in problems[0].reason and "cp1252" in problems[0].reason


def test_invalid_utf8_that_is_not_cp1252_is_skipped(tmp_path):
    src = tmp_path / "src"
    write(src / "good.txt", GOOD_TXT)
    bad = write(src / "bad.txt", b"date 2020-01-24 Caf\xe9 \x81 owners.\n")
    articles, problems = read(src)
    assert set(articles) == {"good"}
    assert [(p.path, p.skipped) for p in problems] == [(str(bad), True)]
    assert "UTF-8" in problems[0].reason


def test_bom_with_cp1252_byte_is_still_indexed(tmp_path):
    write(tmp_path / "src" / "a.txt", b"\xef\xbb\xbfdate 2020-01-24 Caf\xe9 owners protest.\n")
    articles, problems = read(tmp_path / "src")
    assert articles["a"].body == "Café owners protest."
    assert [p.skipped for p in problems] == [False]


@pytest.mark.parametrize("header", ["date January 2020", "date 2020-01", "date Jan 24"])
def test_incomplete_date_followed_by_a_number_is_reported(tmp_path, header):
    write(tmp_path / "src" / "a.txt", f"{header} 3 people died in the flood.\n")
    articles, problems = read(tmp_path / "src")
    assert articles == {}
    assert [p.skipped for p in problems] == [True]


# -- JSON Lines --------------------------------------------------------------------------------


def test_jsonl_record_with_all_fields(tmp_path):
    path = jsonl(tmp_path / "src" / "r.jsonl", {
        "id": "reuters-1", "date": "24 Jan 2020", "title": "Oil rises", "body": "Crude rose.",
        "url": "https://example.com/1", "source": "Reuters", "topics": ["crude", "ship"],
        "places": ["iraq"], "people": ["sadr"], "orgs": ["opec"], "extra": {"ignored": True},
    })
    article = only_article(tmp_path / "src")
    assert article == Article(
        id="reuters-1", title="Oil rises", body="Crude rose.", date=DAY,
        url="https://example.com/1", source="Reuters", topics=("crude", "ship"),
        places=("iraq",), people=("sadr",), orgs=("opec",))
    assert article.path.startswith(str(path))


def test_jsonl_without_title_derives_it_from_the_body(tmp_path):
    jsonl(tmp_path / "r.jsonl", {"id": "a", "body": "Oil rose on Friday. Traders cheered."})
    article = only_article(tmp_path / "r.jsonl")
    assert article.title == "Oil rose on Friday."
    assert article.body == "Oil rose on Friday. Traders cheered."


@pytest.mark.parametrize("record", [
    {"id": "a", "body": "No date here."},
    {"id": "a", "body": "No date here.", "date": None},
])
def test_jsonl_without_date_is_indexed_with_date_none(tmp_path, record):
    jsonl(tmp_path / "r.jsonl", record)
    article = only_article(tmp_path / "r.jsonl")
    assert article.date is None
    assert article.body == "No date here."


def test_malformed_json_lines_are_reported_with_their_line_number(tmp_path):
    path = jsonl(tmp_path / "r.jsonl",
                 {"id": "a", "body": "First."},
                 "",  # blank lines are skipped but still counted
                 '{"id": "b", "body": ',
                 {"id": "c", "body": "Fourth."},
                 "not json at all",
                 '["a", "list"]')
    articles, problems = read(path)
    assert set(articles) == {"a", "c"}
    assert [(p.path, p.line, p.skipped) for p in problems] == [
        (str(path), 3, True), (str(path), 5, True), (str(path), 6, True)]
    assert "malformed JSON" in problems[0].reason
    assert str(problems[0]).startswith(f"{path}:3: ")


@pytest.mark.parametrize(("record", "reason"), [
    ({"body": "No id."}, "id"),
    ({"id": "", "body": "Empty id."}, "id"),
    ({"id": None, "body": "Null id."}, "id"),
    ({"id": "x"}, "body"),
    ({"id": "x", "body": None}, "body"),
    ({"id": "x", "body": ["not", "a", "string"]}, "body"),
    ({"id": "x", "body": "   "}, "body"),
    ({"id": "x", "body": "", "title": "  "}, "body"),
    ({"id": "x", "body": "Text.", "date": "not a date"}, "date"),
    ({"id": "x", "body": "Text.", "date": "2020-02-30"}, "date"),
    ({"id": "x", "body": "Text.", "date": "January 2020"}, "date"),
    ({"id": "x", "body": "Text.", "date": 20200124}, "date"),
])
def test_bad_jsonl_record_is_reported_and_skipped(tmp_path, record, reason):
    path = jsonl(tmp_path / "r.jsonl", {"id": "ok1", "body": "Fine."}, record,
                 {"id": "ok2", "body": "Fine too."})
    articles, problems = read(path)
    assert set(articles) == {"ok1", "ok2"}
    assert [(p.path, p.line, p.skipped) for p in problems] == [(str(path), 2, True)]
    assert reason in problems[0].reason


def test_jsonl_empty_body_with_title_is_indexed(tmp_path):
    jsonl(tmp_path / "r.jsonl", {"id": "h", "title": "Headline only", "body": ""})
    article = only_article(tmp_path / "r.jsonl")
    assert article.title == "Headline only"
    assert article.body == ""


@pytest.mark.parametrize("value", [5, {"crude": 1}, ["crude", 3], [["crude"]], True])
@pytest.mark.parametrize("facet", ["topics", "places", "people", "orgs"])
def test_non_list_facet_values_are_rejected(tmp_path, facet, value):
    path = jsonl(tmp_path / "r.jsonl", {"id": "bad", "body": "Text.", facet: value},
                 {"id": "ok", "body": "Text.", facet: ["crude"]})
    articles, problems = read(path)
    assert set(articles) == {"ok"}
    assert getattr(articles["ok"], facet) == ("crude",)
    assert [(p.line, p.skipped) for p in problems] == [(1, True)]
    assert facet in problems[0].reason


def test_jsonl_gz_is_read(tmp_path):
    path = jsonl(tmp_path / "src" / "r.jsonl.gz",
                 {"id": "a", "date": "2020-01-24", "body": "Packed."},
                 "{broken",
                 {"id": "b", "body": "Also packed."}, gz=True)
    articles, problems = read(tmp_path / "src")
    assert set(articles) == {"a", "b"}
    assert articles["a"].date == DAY
    assert [(p.path, p.line) for p in problems] == [(str(path), 2)]


def test_corrupt_jsonl_gz_is_reported_and_other_files_read(tmp_path):
    src = tmp_path / "src"
    bad = write(src / "a.jsonl.gz", b"this is not gzip data\n")
    write(src / "b.txt", GOOD_TXT)
    articles, problems = read(src)
    assert set(articles) == {"b"}
    assert [(p.path, p.skipped) for p in problems] == [(str(bad), True)]


def test_jsonl_cp1252_line_is_decoded_and_bad_bytes_skipped(tmp_path):
    path = jsonl(tmp_path / "r.jsonl",
                 b'{"id": "c", "body": "caf\xe9"}',
                 b'{"id": "d", "body": "bad \x81 byte"}',
                 {"id": "e", "body": "Fine."})
    articles, problems = read(path)
    assert set(articles) == {"c", "e"}
    assert articles["c"].body == "café"
    assert [(p.line, p.skipped) for p in problems] == [(1, False), (2, True)]
    assert all(p.path == str(path) for p in problems)


def test_jsonl_binary_line_is_reported(tmp_path):
    path = jsonl(tmp_path / "r.jsonl", b'{"id": "a", "body": "x\x00y"}', {"id": "b", "body": "Ok."})
    articles, problems = read(path)
    assert set(articles) == {"b"}
    assert [(p.line, p.skipped) for p in problems] == [(1, True)]
    assert "NUL" in problems[0].reason


def test_jsonl_line_over_the_size_limit_is_reported(tmp_path):
    path = jsonl(tmp_path / "r.jsonl",
                 {"id": "a", "body": "Short."},
                 {"id": "big", "body": "long " * 100},
                 {"id": "b", "body": "Short too."})
    articles, problems = read(path, max_bytes=200)
    assert set(articles) == {"a", "b"}
    assert [(p.line, p.skipped) for p in problems] == [(2, True)]
    assert "limit" in problems[0].reason


def test_jsonl_lone_surrogate_does_not_crash(tmp_path):
    path = jsonl(tmp_path / "r.jsonl",
                 '{"id": "s", "body": "bad \\ud800 text"}',
                 {"id": "ok", "body": "Fine."})
    articles, problems = collect(read_sources([path]))
    assert "ok" in articles
    for article in articles.values():
        assert len(article.content_hash) == 32
        article.body.encode("utf-8")
    if "s" not in articles:
        assert [(p.line, p.skipped) for p in problems] == [(1, True)]


# -- duplicates --------------------------------------------------------------------------------


def test_duplicate_ids_within_a_jsonl_file_later_wins(tmp_path):
    path = jsonl(tmp_path / "r.jsonl",
                 {"id": "x", "body": "Old version."},
                 {"id": "y", "body": "Other."},
                 {"id": "x", "body": "New version."})
    articles, problems = collect(read_sources([path]))
    assert set(articles) == {"x", "y"}
    assert articles["x"].body == "New version."
    assert len(problems) == 1
    warning = problems[0]
    assert warning.skipped is False
    assert "duplicate" in warning.reason and "'x'" in warning.reason
    assert warning.path == f"{path}:3"
    assert f"{path}:1" in warning.reason  # says which article was replaced


def test_duplicate_ids_across_files_later_wins(tmp_path):
    src = tmp_path / "src"
    first = jsonl(src / "a.jsonl", {"id": "wires/abc", "body": "From JSON Lines."})
    later = write(src / "wires" / "abc.txt", "date 2020-01-24 From the text file.\n")
    articles, problems = collect(read_sources([src]))
    assert articles["wires/abc"].body == "From the text file."
    assert [(p.path, p.skipped) for p in problems] == [(str(later), False)]
    assert str(first) in problems[0].reason


def test_duplicate_ids_across_sources_later_source_wins(tmp_path):
    write(tmp_path / "one" / "a.txt", "date 2020-01-24 From one.\n")
    write(tmp_path / "two" / "a.txt", "date 2020-01-25 From two.\n")
    articles, problems = collect(read_sources([tmp_path / "one", tmp_path / "two"]))
    assert articles["a"].body == "From two."
    assert articles["a"].date == dt.date(2020, 1, 25)
    assert warnings(problems) == problems and len(problems) == 1


def test_unique_ids_give_no_warnings(tmp_path):
    write(tmp_path / "src" / "a.txt", GOOD_TXT)
    jsonl(tmp_path / "src" / "b.jsonl", {"id": "b", "body": "B."}, {"id": "c", "body": "C."})
    articles, problems = collect(read_sources([tmp_path / "src"]))
    assert set(articles) == {"a", "b", "c"}
    assert problems == []


# -- folders -----------------------------------------------------------------------------------


def test_folder_mixing_good_and_bad_files(tmp_path):
    src = tmp_path / "src"
    write(src / "good1.txt", GOOD_TXT)
    write(src / "nested" / "good2.txt", "date 24 Jan 2020 Nested article.\n")
    write(src / "nested" / "deeper" / "good3.txt", b"date 2020-01-24 Caf\xe9.\n")  # cp1252
    jsonl(src / "feed.jsonl", {"id": "j1", "body": "One."}, "{oops", {"id": "j2", "body": "Two."})
    jsonl(src / "packed.jsonl.gz", {"id": "g1", "body": "Gz."}, gz=True)
    bad = [
        write(src / "nodate.txt", "Just text.\n"),
        write(src / "nested" / "binary.txt", b"date 2020-01-24 \x00\x01\x02"),
        write(src / "nested" / "empty.txt", "date 2020-01-24\n"),
        write(src / "z_big.txt", GOOD_TXT + "x" * 5000),
        write(src / "nested" / "deeper" / "baddate.txt", "date soon Text.\n"),
    ]
    articles, problems = read(src, max_bytes=1000)
    assert set(articles) == {"good1", "nested/good2", "nested/deeper/good3", "j1", "j2", "g1"}
    assert articles["nested/deeper/good3"].body == "Café."
    assert {p.path for p in skipped(problems)} == {str(p) for p in bad} | {str(src / "feed.jsonl")}
    assert [p.line for p in skipped(problems) if p.path.endswith("feed.jsonl")] == [2]
    assert [p.path for p in warnings(problems)] == [str(src / "nested" / "deeper" / "good3.txt")]


def test_hidden_files_are_ignored_and_other_files_reported(tmp_path):
    src = tmp_path / "src"
    write(src / "a.txt", GOOD_TXT)
    write(src / ".draft.txt", GOOD_TXT)
    write(src / ".git" / "b.txt", GOOD_TXT)
    write(src / "sub" / ".cache" / "c.txt", GOOD_TXT)
    jsonl(src / ".hidden.jsonl", {"id": "h", "body": "Hidden."})
    write(src / "README.md", "not an article")
    write(src / "notes.json", "{}")
    write(src / "a.txt~", "backup")
    articles, problems = read(src)
    assert set(articles) == {"a"}
    # Changed by the restructure: a file in a source folder that is not an article file is
    # reported as skipped (a folder of notes is never silently "indexed 0"); hidden ones are not.
    assert sorted((Path(p.path).name, p.skipped) for p in problems) == [
        ("README.md", True), ("a.txt~", True), ("notes.json", True)]
    assert all("not an article file" in p.reason for p in problems)


def test_a_single_file_that_is_not_an_article_file_is_reported(tmp_path):
    notes = write(tmp_path / "notes.md", "not an article")
    articles, problems = read(notes)
    assert articles == {}
    assert [(p.path, p.skipped) for p in problems] == [(str(notes), True)]
    assert "not an article file" in problems[0].reason


def test_files_being_written_are_not_reported(tmp_path):
    src = tmp_path / "src"
    write(src / "a.txt", GOOD_TXT)
    write(src / "b.jsonl.tmp", '{"id": "b", "body": "half written"}')
    write(src / "c.txt.part", GOOD_TXT)
    articles, problems = read(src)
    assert set(articles) == {"a"}
    assert problems == []


def test_article_file_extensions_are_read_in_any_case(tmp_path):
    src = tmp_path / "src"
    write(src / "Upper.TXT", GOOD_TXT)
    write(src / "Mixed.Txt", GOOD_TXT)
    jsonl(src / "feed.JSONL", {"id": "j1", "body": "Upper-case feed."})
    articles, problems = read(src)
    assert problems == []
    assert set(articles) == {"Upper", "Mixed", "j1"}


def test_gzipped_jsonl_with_an_upper_case_extension_is_read(tmp_path):
    src = tmp_path / "src"
    jsonl(src / "FEED.JSONL.GZ", {"id": "g1", "body": "Packed, upper case."}, gz=True)
    articles, problems = read(src)
    assert problems == []
    assert set(articles) == {"g1"}


@pytest.mark.parametrize("header", ["Date: 2020-01-24", "date: 2020-01-24", "DATE:2020-01-24",
                                    "Date 2020-01-24"])
def test_date_header_with_a_colon_or_a_capital_is_accepted(tmp_path, header):
    write(tmp_path / "src" / "a.txt", f"{header} Thousands marched in Baghdad on Friday.\n")
    article = only_article(tmp_path / "src")
    assert article.date == DAY
    assert article.body == "Thousands marched in Baghdad on Friday."


def test_file_names_with_spaces_and_unicode(tmp_path):
    src = tmp_path / "src"
    path = write(src / "Café news" / "Zürich report 1.txt", GOOD_TXT)
    write(src / "東京 記事.txt", GOOD_TXT)
    articles, problems = read(src)
    assert problems == []
    assert set(articles) == {"Café news/Zürich report 1", "東京 記事"}
    assert articles["Café news/Zürich report 1"].path == str(path)


symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                              reason="needs POSIX symlinks")


@symlinks
def test_symlinked_file_outside_the_source_is_reported_and_not_followed(tmp_path):
    outside = write(tmp_path / "outside" / "secret.txt", "date 2020-01-24 Secret text.\n")
    src = tmp_path / "src"
    write(src / "a.txt", GOOD_TXT)
    link = src / "link.txt"
    link.symlink_to(outside)
    articles, problems = read(src)
    assert set(articles) == {"a"}
    assert all("Secret" not in a.body for a in articles.values())
    assert [(p.path, p.skipped) for p in problems] == [(str(link), True)]
    assert "outside" in problems[0].reason


@symlinks
def test_symlink_escaping_through_dotdot_is_reported(tmp_path):
    write(tmp_path / "secret.txt", "date 2020-01-24 Secret text.\n")
    src = tmp_path / "src"
    write(src / "sub" / "a.txt", GOOD_TXT)
    link = src / "sub" / "link.txt"
    link.symlink_to(Path("..") / ".." / "secret.txt")
    articles, problems = read(src)
    assert set(articles) == {"sub/a"}
    assert [p.path for p in problems] == [str(link)]


@symlinks
def test_symlinked_folder_outside_the_source_is_reported_and_not_followed(tmp_path):
    write(tmp_path / "outside" / "secret.txt", "date 2020-01-24 Secret text.\n")
    src = tmp_path / "src"
    write(src / "a.txt", GOOD_TXT)
    link = src / "more"
    link.symlink_to(tmp_path / "outside", target_is_directory=True)
    articles, problems = read(src)
    assert set(articles) == {"a"}
    assert [(p.path, p.skipped) for p in problems] == [(str(link), True)]


@symlinks
def test_symlinked_file_inside_the_source_is_read(tmp_path):
    src = tmp_path / "src"
    write(src / "real.txt", GOOD_TXT)
    (src / "alias.txt").symlink_to(src / "real.txt")
    articles, problems = read(src)
    assert problems == []
    assert set(articles) == {"real", "alias"}


# -- content hash ------------------------------------------------------------------------------

BASE = Article(id="a", title="Oil rises", body="Crude rose.", date=DAY,
               url="https://example.com/a", source="Reuters", topics=("crude",),
               places=("iraq",), people=("sadr",), orgs=("opec",), path="x.jsonl:1")


@pytest.mark.parametrize("change", [
    {"body": "Crude fell."},
    {"body": "Crude rose. "},
    {"title": "Oil falls"},
    {"date": dt.date(2020, 1, 25)},
    {"date": None},
    {"topics": ("crude", "ship")},
    {"topics": ()},
    {"places": ("iran",)},
    {"people": ()},
    {"orgs": ("opec", "iea")},
    {"url": None},
    {"source": "AP"},
])
def test_content_hash_changes_with_indexed_content(change):
    assert dataclasses.replace(BASE, **change).content_hash != BASE.content_hash


def test_content_hash_is_stable_otherwise(tmp_path):
    same = Article(id="a", title="Oil rises", body="Crude rose.", date=dt.date(2020, 1, 24),
                   url="https://example.com/a", source="Reuters", topics=("crude",),
                   places=("iraq",), people=("sadr",), orgs=("opec",), path="elsewhere.jsonl:9")
    assert same.content_hash == BASE.content_hash
    assert BASE.content_hash == BASE.content_hash
    # Re-reading an unchanged file gives the same hash; editing it changes it.
    path = write(tmp_path / "src" / "a.txt", GOOD_TXT)
    first = only_article(tmp_path / "src").content_hash
    assert only_article(tmp_path / "src").content_hash == first
    write(path, GOOD_TXT.replace("Friday", "Saturday"))
    assert only_article(tmp_path / "src").content_hash != first
