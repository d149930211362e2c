"""``bench.generate``: the synthetic archive is deterministic, well-formed and growing.

Most tests run on a tiny Reuters-like corpus written here, so they need no shared data and take
well under a second each; one runs on the real corpus and is skipped without it. Nothing is
timed: the generator's speed is measured by hand (bench/README.md).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from bench import generate

FIELDS = {"id", "date", "title", "body", "topics", "places", "people", "orgs", "source"}
HEADER = re.compile(r" date (\d{4}-\d\d-\d\d) (.*)")
TOKEN = re.compile(r"[^\W_]+")

COMPANIES = ["Talbrook", "Wexmoor", "Quillan", "Ardeley", "Fenwright", "Corbishaw", "Dunmere",
             "Halvoran", "Pellingham", "Morcastle", "Ostervane", "Brightwell"]
PEOPLE = ["Harlow Jenks", "Miriam Oduya", "Piet Vanderloo", "Ines Carvalho", "Tomas Brecht"]


def tiny_corpus(path: Path, n: int = 60) -> Path:
    """Reuters-shaped articles: prose with names, tickers, figures and years; earnings rows."""
    rng = random.Random(7)
    lines = []
    for i in range(n):
        company = COMPANIES[i % len(COMPANIES)]
        ticker = "".join(rng.choice("ABCDEFGHKLMNPRSTVWXZ") for _ in range(3))
        person = PEOPLE[i % len(PEOPLE)]
        other = COMPANIES[(i + 5) % len(COMPANIES)]
        if i % 3 == 0:
            topics, title = ["earn"], f"{company.upper()} CORP <{ticker}> 1ST QTR NET"
            body = (f"Shr {rng.randint(10, 90)} cts vs {rng.randint(10, 90)} cts\n\n"
                    f"Net {rng.randint(100, 999)},{rng.randint(100, 999)} vs "
                    f"{rng.randint(100, 999)},000\n\n"
                    f"Revs {rng.randint(10, 99)}.{rng.randint(1, 9)} mln vs 12.5 mln\n\n"
                    f"{company} Corp said results for fiscal 1986 include a gain of\n"
                    f"{rng.randint(2, 9)}.{rng.randint(10, 99)} mln dlrs from the sale of a unit.")
        else:
            topics = ["acq"] if i % 3 == 1 else ["crude"]
            title = f"{company.upper()} <{ticker}> TO BUY STAKE IN {other.upper()}"
            body = (f"{company} Inc said it agreed to buy a {rng.randint(11, 60)} pct stake in\n"
                    f"{other} Co for {rng.randint(1, 9)},{rng.randint(100, 999)} "
                    f"mln dlrs.\n\n"
                    f"{person}, chairman of {company}, said on March {rng.randint(1, 28)} the "
                    f"deal would\nclose by the end of 1987. The company has about "
                    f"{rng.randint(1000, 9000)} employees.\n\n"
                    f"Analysts said the price was fair. Oil output rose to "
                    f"{rng.randint(100, 900)},000 barrels a day in 1986/87.")
        if i % 10 == 9:
            body = ""  # a headline-only wire item, as Reuters has
        lines.append(json.dumps({
            "id": f"tiny-{i}", "date": "1987-03-02", "title": title, "body": body,
            "topics": topics, "places": ["usa"] if i % 2 else ["uk"], "people": [], "orgs": [],
            "exchanges": []}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return tiny_corpus(tmp_path_factory.mktemp("tiny") / "tiny.jsonl")


@pytest.fixture(scope="module")
def archive(source, tmp_path_factory) -> Path:
    """3,000 articles: enough for follow-ups (about one article in every 3-day window)."""
    return run(source, tmp_path_factory.mktemp("archive"), 3000)


def run(source: Path, out_dir: Path, n: int, seed: int = 1987, text: bool = False) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = ["--articles", str(n), "--out", str(out_dir / "archive.jsonl"),
            "--source", str(source), "--seed", str(seed),
            "--stories", str(out_dir / "stories.tsv")]
    if text:
        argv += ["--text-dir", str(out_dir / "text")]
    assert generate.main(argv) == 0
    return out_dir / "archive.jsonl"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def vocabulary(rows: list[dict]) -> set[str]:
    return {t for r in rows for t in TOKEN.findall((r["title"] + " " + r["body"]).lower())}


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_arguments_give_the_same_bytes(source, tmp_path):
    a = run(source, tmp_path / "a", 500, text=True).parent
    b = run(source, tmp_path / "b", 500, text=True).parent
    assert tree(a) == tree(b)
    c = run(source, tmp_path / "c", 500, seed=1988).parent
    assert (c / "archive.jsonl").read_bytes() != (a / "archive.jsonl").read_bytes()


def test_gzip_output_is_deterministic_too(source, tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name / "archive.jsonl.gz"
        generate.main(["--articles", "200", "--out", str(out), "--source", str(source)])
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    plain = run(source, tmp_path / "plain", 200)
    assert gzip.decompress(outs[0]) == plain.read_bytes()


def test_every_line_is_an_article_with_distinct_id_and_date_in_range(source, tmp_path):
    rows = records(run(source, tmp_path, 500))
    assert len(rows) == 500
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == 500 and ids == sorted(ids) and ids[0] == "gen-0000001"
    dates = [r["date"] for r in rows]
    assert dates == sorted(dates)  # written in date order
    assert generate.START.isoformat() <= dates[0] and dates[-1] <= generate.END.isoformat()
    assert len({d[:4] for d in dates}) >= 25  # spread over the 30 years
    source_facets = {(tuple(d["topics"]), tuple(d["places"])) for d in records(source)}
    for r in rows:
        assert set(r) == FIELDS
        dt.date.fromisoformat(r["date"])
        assert isinstance(r["title"], str) and r["title"].strip()
        assert isinstance(r["body"], str) and "\n\n\n" not in r["body"]
        assert all(len(line) <= 90 for line in r["body"].split("\n"))
        assert (tuple(r["topics"]), tuple(r["places"])) in source_facets
        assert all(isinstance(r[k], list) for k in ("topics", "places", "people", "orgs"))
        assert r["source"] in dict(generate.SOURCES)


def test_text_files_are_seed_format_by_year_and_month(source, tmp_path):
    rows = {r["id"]: r for r in records(run(source, tmp_path, 300, text=True))}
    files = sorted((tmp_path / "text").rglob("*.txt"))
    assert len(files) == 300
    for path in files:
        r = rows[path.stem]
        year, month = path.parent.parent.name, path.parent.name
        head, blank, body = path.read_text("utf-8").split("\n", 2)
        m = HEADER.fullmatch(head)
        assert m and m.group(1) == r["date"] and m.group(2) == r["title"]
        assert (year, month) == (r["date"][:4], r["date"][5:7])
        assert blank == "" and body == r["body"] + "\n"


def test_names_and_figures_are_new_but_facets_and_structure_are_kept(source, tmp_path):
    rows = records(run(source, tmp_path, 500))
    original = vocabulary(records(source))
    minted = vocabulary(rows) - original
    assert len(minted) > 100  # names, tickers and figures Reuters does not have
    assert not {c.lower() for c in COMPANIES} & vocabulary(rows)  # every rare name replaced
    assert any(re.search(r"\b(199\d|20[0-2]\d)\b", r["body"]) for r in rows)  # years moved
    earn = [r for r in rows if r["topics"] == ["earn"] and r["body"]]
    assert earn and all(r["body"].startswith("Shr ") for r in earn)  # the anchor's lead row
    assert all(re.search(r"\d+ cts vs \d+ cts", r["body"]) for r in earn)
    empty = sum(not r["body"] for r in rows)
    assert 0 < empty < 150  # headline-only items stay about as common as in the source (10 %)


def test_vocabulary_grows_with_the_archive(source, archive, tmp_path):
    sizes = [len(vocabulary(records(run(source, tmp_path / str(n), n)))) for n in (100, 600)]
    sizes.append(len(vocabulary(records(archive))))
    assert sizes[0] < sizes[1] < sizes[2]
    assert sizes[2] < 5 * sizes[1]  # sublinear: 5x the articles, fewer than 5x the words


def test_follow_ups_are_recent_write_ups_of_one_story(archive):
    rows = {r["id"]: r for r in records(archive)}
    stories = dict(line.split("\t") for line in
                   (archive.parent / "stories.tsv").read_text("utf-8").splitlines())
    assert list(stories) == list(rows)
    follow_ups = {a: s for a, s in stories.items() if a != s}
    assert 0.03 * len(rows) < len(follow_ups) < 0.25 * len(rows)
    day = {a: dt.date.fromisoformat(r["date"]) for a, r in rows.items()}
    for article, story in follow_ups.items():
        first, later = rows[story], rows[article]
        assert stories[story] == story and story < article
        # Same anchor, same names and figures (the title), another sentence mix of the body,
        # and an earlier write-up of the story at most FOLLOW_UP_DAYS before.
        assert later["title"] == first["title"] and later["topics"] == first["topics"]
        earlier = [day[a] for a, s in stories.items() if s == story and a < article]
        assert any(0 <= (day[article] - d).days <= generate.FOLLOW_UP_DAYS for d in earlier)


def test_daily_counts_sum_up_and_favour_weekdays():
    rng = random.Random(1)
    counts = generate.daily_counts(50_000, rng)
    assert sum(counts) == 50_000 and min(counts) >= 0
    assert len(counts) == (generate.END - generate.START).days + 1
    by_weekday = Counter()
    for i, c in enumerate(counts):
        by_weekday[(generate.START + dt.timedelta(days=i)).weekday()] += c
    assert min(by_weekday[d] for d in range(5)) > 2 * max(by_weekday[5], by_weekday[6])
    first, last = sum(counts[:365]), sum(counts[-365:])
    assert 2.5 < last / first < 6  # volume grows about fourfold
    assert sum(generate.daily_counts(7, random.Random(2))) == 7


def test_pitman_yor_pool_reuses_names_zipf_like():
    rng = random.Random(3)
    minted = iter(range(10**9))
    pool = generate.PitmanYor(lambda: f"n{next(minted)}", 0.6, 50.0, rng)
    draws = Counter(pool.draw() for _ in range(20_000))
    k1 = len(pool.values)
    for _ in range(60_000):
        pool.draw()
    k2 = len(pool.values)
    assert k1 < k2 < 4 * k1  # 4x the draws: 4^0.6 ≈ 2.3x the distinct names
    assert draws.most_common(1)[0][1] > 50 * sorted(draws.values())[len(draws) // 2]


def test_numbers_keep_their_format():
    rng = random.Random(4)
    for text, pattern in (("155,221", r"\d{1,3}(,\d{3})+"), ("5.93", r"\d+\.\d\d"),
                          ("340", r"\d+"), ("0.39", r"\d\.\d\d")):
        for _ in range(50):
            assert re.fullmatch(pattern, generate.redraw_number(text, rng))
    assert all(float(generate.redraw_number("99", rng, percent=True)) <= 100 for _ in range(200))


def test_wrap_keeps_every_word_within_the_width():
    text = " ".join(["word"] * 50 + ["x" * 80] + ["tail"] * 20)
    wrapped = generate.wrap(text)
    assert wrapped.replace("\n", " ") == text
    assert all(len(line) <= generate.WIDTH or " " not in line for line in wrapped.split("\n"))


@pytest.mark.reuters
def test_on_the_reuters_corpus(reuters_jsonl, tmp_path):
    out = tmp_path / "archive.jsonl"
    summary = generate.generate(reuters_jsonl, out, 2000, seed=5)
    rows = records(out)
    original = list(generate.read_source(reuters_jsonl))
    assert len(original) == generate.REUTERS_ARTICLES
    assert len({r["id"] for r in rows}) == 2000
    assert {t for r in rows for t in r["topics"]} <= {t for d in original for t in d["topics"]}
    # Lengths follow Reuters': the same median body within 15 %.
    median = sorted(len(r["body"]) for r in rows)[1000]
    source_median = sorted(len(d["body"]) for d in original)[len(original) // 2]
    assert abs(median - source_median) < 0.15 * source_median
    assert summary["distinct_names"] > 1000 and summary["follow_ups"] > 0
    assert sum(not r["body"] for r in rows) < 0.15 * len(rows)
