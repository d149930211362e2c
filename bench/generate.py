"""Generate a large, realistic news archive from Reuters-21578, deterministically (benchmarks).

    python -m bench.generate --articles 1000000 --out /tmp/archive.jsonl \\
        [--text-dir DIR] [--stories FILE] [--seed 1987] [--report] \\
        [--source ../shared/corpora/reuters21578.jsonl.gz]

Replicating a corpus N times gives N copies of every posting list and no new words, so an index
built from it grows like no real archive does. This generator instead writes *new* articles
whose statistics stay close to a real wire archive at any size:

* **Mixed, coherent bodies.** Each article has a *topic anchor*: a random Reuters article whose
  title shape, facets (topics, places, people, orgs) and paragraph structure it keeps. The
  anchor's lead sentence is kept; every later sentence is the anchor's own (probability
  ``KEEP``) or a sentence of another article sharing one of the anchor's topics (or, for
  articles without topics, one of its places). Single-line table rows of earnings reports
  ("Shr 25 cts vs 20 cts") are swapped only for a row with the same label ("shr") of the same
  topic, and multi-column tables are kept whole, so a report still reads like one. Search
  results and facet counts therefore mean something, and the length distribution is
  Reuters' own (the structure is the anchor's; the swapped sentences come from the same
  population as the ones they replace).
* **A vocabulary that grows like a real archive's** (Heaps' law, V ≈ K·N^β). New words in a
  news archive are mostly names. Every rare proper name of a sentence (a capitalised word that
  never occurs in lower case and in at most ``RARE_DF`` Reuters articles) and every rare
  ticker (``<ICN>``) is replaced, consistently within a story, by a name drawn from a
  Pitman–Yor pool: a new name with probability (θ + d·K)/(θ + n) after n draws of K distinct
  names, else an existing one in proportion to its use minus d. Such a pool has Zipf-distributed
  frequencies and K ∝ n^d distinct names, which is Heaps' law for the name part of the
  vocabulary. New names are minted by a letter-trigram Markov chain trained on Reuters' own
  names (so they look like "Dellmon" or "Wachern"), never a word Reuters already has.
  Frequent names (Reagan, Texaco, Japan), every facet value and ordinary words are kept.
  Numbers are re-drawn near their originals (log-normal, same format), days after a month name
  re-drawn, and years in the text (1986, 1986/87) moved by the article's distance from 1987.
* **Dates over 30 years** (1995-01-01 … 2024-12-31): weekday-heavy, fewer on holidays, volume
  growing about fourfold over the period, with day-to-day noise; the archive is written in date
  order with ids ``gen-0000001`` … in that order.
* **Stories.** A fraction ``FOLLOW_UP`` of the articles are further write-ups of an article of
  the last ``FOLLOW_UP_DAYS`` days: same anchor, same names and figures (the story's
  mappings), a fresh sentence mix, often another outlet (``source``). ``--stories FILE`` writes
  ``id<TAB>story`` (the story's first id) as ground truth for story clustering.

Determinism: one ``random.Random(seed)`` drives everything, in one process, in a fixed order;
nothing iterates a set or depends on hash randomisation, so the same arguments give the same
bytes. Memory is bounded by the source corpus plus the name pools (which grow like N^d), not
by the output: articles are written as they are made. One process is fast enough (about
10,000 articles/s); splitting the work would make the Pitman–Yor pools order-dependent.

Output: JSON Lines (gzip when ``--out`` ends in ``.gz``) with ``id``, ``date``, ``title``,
``body``, ``topics``, ``places``, ``people``, ``orgs``, ``source``; optionally the same
articles as seed-format text files ``DIR/YYYY/MM/<id>.txt`` (`` date YYYY-MM-DD TITLE``, a
blank line, the body, as in reuters21578-articles.tar.gz). ``--report`` counts the vocabulary
(lower-cased ``[^\\W_]+`` tokens of title and body) along the stream, fits Heaps' β and
compares the length distribution with the source; a summary always goes to stderr.

Measured numbers are in bench/README.md. The Reuters corpus is for research use only: never
commit it or anything generated from it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import io
import json
import math
import random
import re
import sys
import time
from array import array
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "corpora" / "reuters21578.jsonl.gz"
REUTERS_ARTICLES = 20_841  # the "1x" of the measurements

START = dt.date(1995, 1, 1)
END = dt.date(2024, 12, 31)
SOURCE_YEAR = 1987           # years in the text move by (article year - this)
GROWTH = 4.0                 # daily volume at END / at START
WEEKDAY = (1.0, 1.05, 1.05, 1.0, 0.95, 0.35, 0.3)  # Monday … Sunday
DAY_NOISE = 0.25             # sigma of the log-normal day-to-day volume factor

KEEP = 0.4                   # a non-lead sentence stays the anchor's own with this probability
KEEP_ROW = 0.5               # the same for table rows
FOLLOW_UP = 0.15             # share of articles that are a further write-up of a recent one
FOLLOW_UP_DAYS = 3
SAME_SOURCE = 0.4            # a follow-up keeps the previous write-up's outlet (an update)
SOURCES = (("Atlas Wire", 40), ("Meridian News", 22), ("Continental Press", 14),
           ("Harbour Business Daily", 10), ("Northgate Financial", 8), ("The Ledger", 6))

RARE_DF = 30                 # names in at most this many Reuters articles are replaced
NAME_DISCOUNT = 0.66         # Pitman–Yor d: distinct names grow like draws^d
NAME_STRENGTH = 3000.0       # Pitman–Yor θ: how many draws before reuse is common
TICKER_DISCOUNT = 0.6
TICKER_STRENGTH = 500.0
NUMBER_SIGMA = 0.15          # log-normal spread of re-drawn figures
WIDTH = 64                   # Reuters wraps body lines at 64 characters

PROSE, ROW, BLOCK = 0, 1, 2  # paragraph kinds
TOKEN = re.compile(r"[^\W_]+")
MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
          "December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
# One pass finds every slot of a sentence; alternatives are tried in this order at a position.
# The lookahead first: most positions (lower-case letters, spaces) then fail at once, which
# took loading the corpus from 5 to 3.6 s.
SLOT = re.compile(
    r"(?=[<0-9A-Z])(?:"
    r"<(?P<tk>[A-Z][A-Z0-9.]{0,7})>"
    r"|(?<![\w.,])(?P<y1>(?:19|20)\d\d)/(?P<y2>\d\d)(?!\w)"
    rf"|\b(?P<mon>(?:{MONTHS})\.?\s)(?P<day>[0-3]?\d)(?!\w|[.,]\d)"
    r"|(?<![\w.,:])(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?!\w|[.,:]\d)"  # not 4:30
    r"|(?<![A-Za-z])(?P<word>[A-Z][A-Za-z]*))")
WORD = re.compile(r"[A-Za-z]+")
CAPITALISED = re.compile(r"(?<![A-Za-z])[A-Z][a-z][A-Za-z]*")
LOWER = re.compile(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])")
TICKER = re.compile(r"<([A-Z][A-Z0-9.]{0,7})>")
SENTENCE_END = re.compile(r"[.!?][\"')]*\s+(?=[\"'(]?[A-Z0-9<])")
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr gen col lt rep sen gov prof rev inc co corp ltd bros no nos vs etc "
    "jan feb mar apr jun jul aug sep sept oct nov dec dept mt ft ave pct approx est".split())
INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")


# -- the source corpus, cut into units with slots ---------------------------------------------


def read_source(path: Path) -> Iterator[dict]:
    """The source JSON Lines (gzip or plain), one dict per non-empty line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def split_sentences(text: str) -> list[str]:
    """Sentences of one flattened paragraph ("U.S." and "Co." end none)."""
    out, start = [], 0
    for m in SENTENCE_END.finditer(text):
        before = text[start:m.start() + 1].rsplit(" ", 1)[-1].rstrip(".!?\"')")
        if before.lower().lstrip("(\"'") in ABBREVIATIONS or INITIALS.fullmatch(before):
            continue
        out.append(text[start:m.end()].rstrip())
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


def row_label(text: str) -> str:
    """The label of a table row: its leading words ("oper shr", "revs"), at most two."""
    words = []
    for w in text.split()[:2]:
        if not w.isalpha():
            break
        words.append(w.lower())
    return " ".join(words)


@dataclass
class Corpus:
    """The source articles as templates: text pieces between slots (names, numbers, years).

    A unit (a sentence, a table row, a whole table, a title) is ``(parts, slots)`` with
    ``len(parts) == len(slots) + 1``; rendering interleaves them with the story's values.
    """

    units: list[tuple[tuple[str, ...], tuple[tuple, ...]]] = field(default_factory=list)
    titles: list[int] = field(default_factory=list)            # article -> title unit
    paragraphs: list[tuple[tuple[int, tuple[int, ...]], ...]] = field(default_factory=list)
    facets: list[tuple[list[str], list[str], list[str], list[str]]] = field(default_factory=list)
    pool_keys: list[tuple[str, ...]] = field(default_factory=list)
    sentences: dict[str, array] = field(default_factory=dict)  # pool key -> non-lead sentences
    rows: dict[tuple[str, str], array] = field(default_factory=dict)  # (key, label) -> rows
    row_labels: dict[int, str] = field(default_factory=dict)
    vocabulary: set[str] = field(default_factory=set)          # every lower-cased source token
    name_words: list[str] = field(default_factory=list)        # training words for minting
    rare_names: int = 0
    rare_tickers: int = 0

    @classmethod
    def load(cls, path: Path) -> Corpus:
        docs = [d for d in read_source(path) if isinstance(d, dict)]
        if not docs:
            raise SystemExit(f"{path}: no articles")
        corpus = cls()
        rare, tickers = corpus._names(docs)
        for doc in docs:
            corpus._add(doc, rare, tickers)
        return corpus

    def _names(self, docs: list[dict]) -> tuple[set[str], set[str]]:
        """Which capitalised words and tickers are rare names (so replaced).

        A word is a name when it is capitalised and never occurs in lower case (so ordinary
        words that start sentences are not names); it is rare when it is in at most RARE_DF
        articles. Words of facet values are kept, so a replaced name never contradicts
        ``people`` or ``places``, and so are the labels of table rows ("Shr", "Revs").
        """
        titled, lower, protected = set(), set(), set()
        df, ticker_df = Counter(), Counter()
        for doc in docs:
            title, body = doc.get("title") or "", doc.get("body") or ""
            # Regexes and Counter.update do the per-word work in C (this runs on 3M words).
            names = {w.lower() for w in CAPITALISED.findall(body)}
            titled.update(names)
            lower.update(LOWER.findall(body))
            df.update(names)
            ticker_df.update(set(TICKER.findall(title + body)))
            for para in body.split("\n\n"):
                if "\n" not in para and not para.rstrip().endswith((".", "!", "?", '"', "'")):
                    protected.add(para.split(" ", 1)[0].lower())  # row labels: "Shr", "Revs"
            for key in ("topics", "places", "people", "orgs", "exchanges"):
                for value in doc.get(key) or ():
                    protected.update(WORD.findall(str(value).lower()))
            self.vocabulary.update(TOKEN.findall((title + " " + body).lower()))
        names = titled - lower
        rare = {w for w in names if len(w) >= 3 and df[w] <= RARE_DF and w not in protected}
        self.name_words = sorted(w for w in names if len(w) >= 4)
        rare_tickers = {t for t, n in ticker_df.items() if n <= RARE_DF}
        self.rare_names, self.rare_tickers = len(rare), len(rare_tickers)
        return rare, rare_tickers

    def _unit(self, text: str, rare: set[str], tickers: set[str]) -> int:
        parts, slots, last = [], [], 0
        for m in SLOT.finditer(text):
            kind = m.lastgroup
            if kind == "word":
                w = m.group()
                if w.lower() not in rare:
                    continue
                slot: tuple = ("n", w.lower(), w.isupper() and len(w) > 1)
                start = m.start()
            elif kind == "tk":
                if m.group("tk") not in tickers:
                    continue
                slot, start = ("t", m.group("tk")), m.start("tk")
            elif kind == "y2":
                slot, start = ("p", int(m.group("y1")), int(m.group("y2"))), m.start()
            elif kind == "day":
                slot, start = ("d", m.group("day")), m.start("day")
            else:
                num = m.group("num")
                if len(num) == 4 and num.isdigit() and 1900 <= int(num) <= 2050:
                    slot = ("y", int(num))
                elif "." not in num and int(num.replace(",", "")) < 10:
                    continue  # small counts ("3 for 2", "2nd"): changing them reads wrong
                else:
                    # A share stays a share: "82 pct" may not become "105 pct".
                    after = text[m.end():m.end() + 4]
                    slot = ("x", num, after == " pct" or after[:1] == "%")
                start = m.start()
            end = m.end("tk") if kind == "tk" else m.end()
            parts.append(text[last:start])
            slots.append(slot)
            last = end
        parts.append(text[last:])
        self.units.append((tuple(parts), tuple(slots)))
        return len(self.units) - 1

    def _add(self, doc: dict, rare: set[str], tickers: set[str]) -> None:
        topics = [str(t) for t in doc.get("topics") or ()]
        places = [str(p) for p in doc.get("places") or ()]
        people = [str(p) for p in doc.get("people") or ()]
        orgs = [str(o) for o in doc.get("orgs") or ()]
        title = " ".join((doc.get("title") or "").split())
        if topics:
            keys = tuple("t:" + t for t in topics)
        elif places:
            keys = tuple("p:" + p for p in places)
        else:
            keys = ("-",)
        self.titles.append(self._unit(title, rare, tickers))
        paragraphs = []
        lead = True
        for para in (doc.get("body") or "").split("\n\n"):
            if not para.strip():
                continue
            lines = para.split("\n")
            if any("  " in ln.strip() for ln in lines):
                # A column table: only whole, or the columns fall apart.
                paragraphs.append((BLOCK, (self._unit(para.rstrip(), rare, tickers),)))
            elif len(lines) == 1 and not para.rstrip().endswith((".", "!", "?", '"', "'")):
                uid = self._unit(para.strip(), rare, tickers)
                label = row_label(para)
                self.row_labels[uid] = label
                if not lead:
                    for key in keys:
                        self.rows.setdefault((key, label), array("l")).append(uid)
                paragraphs.append((ROW, (uid,)))
            else:
                uids = []
                for sentence in split_sentences(" ".join(para.split())):
                    uid = self._unit(sentence, rare, tickers)
                    uids.append(uid)
                    if not lead:
                        for key in keys:
                            self.sentences.setdefault(key, array("l")).append(uid)
                    lead = False
                paragraphs.append((PROSE, tuple(uids)))
            lead = False
        self.paragraphs.append(tuple(paragraphs))
        self.facets.append((topics, places, people, orgs))
        self.pool_keys.append(keys)


# -- names: minted words, drawn from Pitman-Yor pools ---------------------------------------


class Minter:
    """New name-like words from a letter-trigram Markov chain over the source's names."""

    def __init__(self, words: list[str], taken: set[str], rng: random.Random) -> None:
        self.rng = rng
        self.taken = taken  # lower-cased words that may not be minted (source + minted so far)
        counts: dict[str, Counter] = {}
        for w in words or ["name"]:
            padded = "^^^" + w + "$"
            for i in range(3, len(padded)):
                counts.setdefault(padded[i - 3:i], Counter())[padded[i]] += 1
        self.chain: dict[str, tuple[list[str], list[int]]] = {}
        for ctx in sorted(counts):
            letters = sorted(counts[ctx])
            cum, total = [], 0
            for letter in letters:
                total += counts[ctx][letter]
                cum.append(total)
            self.chain[ctx] = (letters, cum)

    def _walk(self) -> str:
        ctx, out = "^^^", []
        while len(out) < 14:
            letters, cum = self.chain.get(ctx, (["$"], [1]))
            letter = letters[bisect_right(cum, self.rng.random() * cum[-1])]
            if letter == "$":
                break
            out.append(letter)
            ctx = ctx[1:] + letter
        return "".join(out)

    def name(self) -> str:
        """A capitalised word of 4-12 letters that the source and earlier names do not have."""
        word = ""
        for _ in range(10):  # on Reuters 1.5 walks suffice on average
            word = self._walk()
            if 4 <= len(word) <= 12 and word not in self.taken:
                break
        while len(word) < 4 or word in self.taken:  # a tiny source: lengthen until new
            word += self.rng.choice("aeiou") + self.rng.choice("nrstlm")
        self.taken.add(word)
        return word.capitalize()

    def ticker(self) -> str:
        """Two to four capital letters, not a word of the source."""
        while True:
            n = self.rng.choices((2, 3, 4), (1, 5, 4))[0]
            word = "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
            if word not in self.taken:
                self.taken.add(word)
                return word.upper()


class PitmanYor:
    """Draws from a Pitman–Yor process: Zipf-like reuse, distinct values ∝ draws^discount."""

    def __init__(self, mint, discount: float, strength: float, rng: random.Random) -> None:
        self.mint, self.discount, self.strength, self.rng = mint, discount, strength, rng
        self.values: list[str] = []
        self.counts = array("i")
        self.tickets = array("i")  # one entry per draw, so a uniform pick is ∝ use

    def draw(self) -> str:
        rng, n, k = self.rng, len(self.tickets), len(self.values)
        if rng.random() * (self.strength + n) < self.strength + self.discount * k:
            j = k
            self.values.append(self.mint())
            self.counts.append(0)
        else:
            while True:  # pick ∝ count, accept with (count - d) / count: ∝ count - d
                j = self.tickets[int(rng.random() * n)]
                if rng.random() * self.counts[j] >= self.discount:
                    break
        self.counts[j] += 1
        self.tickets.append(j)
        return self.values[j]


# -- the calendar -------------------------------------------------------------------------------


def daily_counts(n: int, rng: random.Random, start: dt.date = START,
                 end: dt.date = END) -> list[int]:
    """How many of ``n`` articles fall on each day from ``start`` to ``end``.

    Expected volume: weekday factor × growth over the years × holidays × log-normal noise.
    Counts are allocated systematically (one random offset), so they sum to exactly ``n`` and
    follow the weights closely even when ``n`` is much smaller than the number of days.
    """
    days = (end - start).days + 1
    rate = math.log(GROWTH) / days
    weights = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        w = WEEKDAY[day.weekday()] * math.exp(rate * i) * rng.lognormvariate(0.0, DAY_NOISE)
        if (day.month, day.day) in ((1, 1), (12, 25), (12, 26)):
            w *= 0.3
        elif day.month == 8 or (day.month == 12 and day.day >= 20):
            w *= 0.85
        weights.append(w)
    total = math.fsum(weights)
    offset, cum, before, counts = rng.random(), 0.0, 0, []
    for w in weights:
        cum += w
        upto = min(n, int(n * cum / total + offset))
        counts.append(upto - before)
        before = upto
    counts[-1] += n - before
    return counts


# -- stories and articles -----------------------------------------------------------------------


@dataclass
class Story:
    """One event: an anchor and the values its slots take in every write-up."""

    anchor: int
    first_id: str
    source: str
    shift: int                                      # years: article year - SOURCE_YEAR
    memo: dict[tuple, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)


class Generator:
    """Makes the articles of an archive, in date order, one at a time."""

    def __init__(self, corpus: Corpus, seed: int) -> None:
        self.corpus = corpus
        self.rng = random.Random(seed)
        minter = Minter(corpus.name_words, set(corpus.vocabulary), self.rng)
        self.names = PitmanYor(minter.name, NAME_DISCOUNT, NAME_STRENGTH, self.rng)
        self.tickers = PitmanYor(minter.ticker, TICKER_DISCOUNT, TICKER_STRENGTH, self.rng)
        self.recent: deque[tuple[int, Story]] = deque()
        self.sources = [s for s, _ in SOURCES]
        self.source_weights = [w for _, w in SOURCES]

    def articles(self, n: int) -> Iterator[tuple[dict, str]]:
        """``n`` articles (dicts in output shape) with their story ids, in date order."""
        counts = daily_counts(n, self.rng)
        width = max(7, len(str(n)))
        number = 0
        for offset, count in enumerate(counts):
            if not count:
                continue
            day = START + dt.timedelta(days=offset)
            ordinal = day.toordinal()
            while self.recent and self.recent[0][0] < ordinal - FOLLOW_UP_DAYS:
                self.recent.popleft()
            iso = day.isoformat()
            for _ in range(count):
                number += 1
                article_id = f"gen-{number:0{width}d}"
                story = self._story(article_id, day.year)
                self.recent.append((ordinal, story))
                yield self._article(article_id, iso, story), story.first_id

    def _story(self, article_id: str, year: int) -> Story:
        rng = self.rng
        if self.recent and rng.random() < FOLLOW_UP:
            # Picking a recent *article* favours stories with many write-ups already.
            story = self.recent[int(rng.random() * len(self.recent))][1]
            if rng.random() >= SAME_SOURCE:
                story.source = rng.choices(self.sources, self.source_weights)[0]
            return story
        anchor = int(rng.random() * len(self.corpus.titles))
        source = rng.choices(self.sources, self.source_weights)[0]
        return Story(anchor, article_id, source, year - SOURCE_YEAR)

    def _value(self, story: Story, slot: tuple) -> str:
        kind = slot[0]
        if kind == "n":
            name = story.names.get(slot[1])
            if name is None:
                for _ in range(10):  # two names of one story must differ
                    name = self.names.draw()
                    if name not in story.taken:
                        break
                story.names[slot[1]] = name
                story.taken.add(name)
            return name.upper() if slot[2] else name
        if kind == "t":
            return self.tickers.draw()
        if kind == "x":
            return redraw_number(slot[1], self.rng, slot[2])
        if kind == "y":
            return str(slot[1] + story.shift)
        if kind == "p":
            return f"{slot[1] + story.shift}/{(slot[2] + story.shift) % 100:02d}"
        return str(self.rng.randint(1, 28))  # "d": a day of the month

    def render(self, uid: int, story: Story) -> str:
        parts, slots = self.corpus.units[uid]
        if not slots:
            return parts[0]
        memo = story.memo
        out = [parts[0]]
        for slot, text in zip(slots, parts[1:], strict=True):
            value = memo.get(slot)
            if value is None:
                value = memo[slot] = self._value(story, slot)
            out.append(value)
            out.append(text)
        return "".join(out)

    def _article(self, article_id: str, iso: str, story: Story) -> dict:
        corpus, rng, anchor = self.corpus, self.rng, story.anchor
        keys = corpus.pool_keys[anchor]
        used: set[int] = set()
        paragraphs = []
        lead = True
        for kind, uids in corpus.paragraphs[anchor]:
            if kind == PROSE:
                chosen = []
                for uid in uids:
                    if not lead and rng.random() >= KEEP:
                        pool = corpus.sentences.get(keys[int(rng.random() * len(keys))])
                        if pool:
                            other = pool[int(rng.random() * len(pool))]
                            if other not in used:
                                uid = other
                    if uid in used:
                        continue  # a donor took this sentence of the anchor already
                    used.add(uid)
                    chosen.append(self.render(uid, story))
                    lead = False
                if chosen:
                    paragraphs.append(wrap(" ".join(chosen)))
                continue
            uid = uids[0]
            if kind == ROW and not lead and rng.random() >= KEEP_ROW:
                key = keys[int(rng.random() * len(keys))]
                pool = corpus.rows.get((key, corpus.row_labels[uid]))
                if pool:
                    other = pool[int(rng.random() * len(pool))]
                    if other not in used:
                        uid = other
            if uid in used:
                continue
            used.add(uid)
            paragraphs.append(self.render(uid, story))
            lead = False
        topics, places, people, orgs = corpus.facets[anchor]
        return {"id": article_id, "date": iso, "title": self.render(corpus.titles[anchor], story),
                "body": "\n\n".join(paragraphs), "topics": topics, "places": places,
                "people": people, "orgs": orgs, "source": story.source}


def redraw_number(text: str, rng: random.Random, percent: bool = False) -> str:
    """A figure near ``text`` (log-normal factor) written the same way: commas, decimals."""
    whole, _, frac = text.partition(".")
    commas = "," in whole
    value = float(whole.replace(",", "") + ("." + frac if frac else ""))
    limit = 100.0 if percent and value <= 100 else math.inf
    value = min(limit, value * math.exp(rng.gauss(0.0, NUMBER_SIGMA)))
    if frac:
        return f"{value:,.{len(frac)}f}" if commas else f"{value:.{len(frac)}f}"
    whole_value = max(1, round(value))
    return f"{whole_value:,}" if commas else str(whole_value)


LINE = re.compile(rf"(.{{1,{WIDTH}}})(?: |$)")


def wrap(text: str, width: int = WIDTH) -> str:
    """Greedy line wrap, as the Reuters bodies are (textwrap is several times slower)."""
    if len(text) <= width:
        return text
    if width == WIDTH:
        # The regex takes the longest run up to a space; it is 3x faster than the loop below
        # but skips text when one word is longer than a line, which the length check catches.
        wrapped = "\n".join(LINE.findall(text))
        if len(wrapped) == len(text):
            return wrapped
    words = text.split(" ")
    lines, line = [], words[0]
    for word in words[1:]:
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line += " " + word
    lines.append(line)
    return "\n".join(lines)


def text_file(article: dict) -> str:
    """The seed-format text of an article, as in reuters21578-articles.tar.gz."""
    return f" date {article['date']} {article['title']}\n\n{article['body']}\n"


# -- statistics ---------------------------------------------------------------------------------


@dataclass
class Stats:
    """Vocabulary along the stream (Heaps' law) and the length distribution."""

    vocabulary: set[str] = field(default_factory=set)
    tokens: int = 0
    articles: int = 0
    curve: list[tuple[int, int, int]] = field(default_factory=list)  # (articles, tokens, V)
    chars: array = field(default_factory=lambda: array("l"))           # body characters
    token_counts: array = field(default_factory=lambda: array("l"))    # title + body tokens
    paragraph_counts: array = field(default_factory=lambda: array("l"))
    next_point: int = 1000

    def add(self, title: str, body: str) -> None:
        toks = TOKEN.findall((title + " " + body).lower())
        self.vocabulary.update(toks)
        self.tokens += len(toks)
        self.articles += 1
        self.chars.append(len(body))
        self.token_counts.append(len(toks))
        self.paragraph_counts.append(body.count("\n\n") + 1 if body.strip() else 0)
        if self.articles == self.next_point:
            self.point()
            self.next_point = int(self.next_point * 1.25)

    def point(self) -> None:
        if not self.curve or self.curve[-1][0] != self.articles:
            self.curve.append((self.articles, self.tokens, len(self.vocabulary)))


def heaps_beta(curve: list[tuple[int, int, int]]) -> float | None:
    """Least-squares slope of log V on log tokens over the last decade of the curve."""
    if not curve:
        return None
    last = curve[-1][1]
    pts = [(math.log(t), math.log(v)) for _, t, v in curve if t * 10 >= last and v > 0]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else None


def percentiles(values: array, ps: tuple[int, ...] = (10, 25, 50, 75, 90, 99)) -> list[int]:
    ordered = sorted(values)
    if not ordered:
        return [0] * len(ps)
    return [ordered[min(len(ordered) - 1, len(ordered) * p // 100)] for p in ps]


def source_stats(path: Path) -> Stats:
    stats = Stats()
    for doc in read_source(path):
        stats.add(doc.get("title") or "", (doc.get("body") or "").strip())
    stats.point()
    return stats


# -- the command ---------------------------------------------------------------------------------


def generate(source: Path, out: Path, n: int, seed: int = 1987, text_dir: Path | None = None,
             stories: Path | None = None, stats: Stats | None = None) -> dict:
    """Write ``n`` generated articles to ``out`` (and ``text_dir``/``stories``); a summary."""
    started = time.perf_counter()
    corpus = Corpus.load(source)
    loaded, cpu = time.perf_counter(), time.process_time()
    generator = Generator(corpus, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    made_dirs: set[str] = set()
    follow_ups = 0
    with contextlib.ExitStack() as files:
        if out.name.endswith(".gz"):
            # mtime=0 and no file name in the header: the same bytes on every run.
            raw = files.enter_context(out.open("wb"))
            zipped = files.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                       mtime=0))
            fh: IO[str] = files.enter_context(io.TextIOWrapper(zipped, encoding="utf-8",
                                                               newline="\n"))
        else:
            fh = files.enter_context(out.open("w", encoding="utf-8", newline="\n"))
        story_fh = (files.enter_context(stories.open("w", encoding="utf-8", newline="\n"))
                    if stories else None)
        for article, story_id in generator.articles(n):
            fh.write(json.dumps(article, ensure_ascii=False) + "\n")
            if story_id != article["id"]:
                follow_ups += 1
            if story_fh:
                story_fh.write(f"{article['id']}\t{story_id}\n")
            if text_dir is not None:
                folder = f"{article['date'][:4]}/{article['date'][5:7]}"
                if folder not in made_dirs:
                    (text_dir / folder).mkdir(parents=True, exist_ok=True)
                    made_dirs.add(folder)
                (text_dir / folder / f"{article['id']}.txt").write_text(
                    text_file(article), encoding="utf-8", newline="\n")
            if stats is not None:
                stats.add(article["title"], article["body"])
    if stats is not None:
        stats.point()
    done, cpu = time.perf_counter(), time.process_time() - cpu
    return {"articles": n, "follow_ups": follow_ups, "bytes": out.stat().st_size,
            "load_s": round(loaded - started, 2), "generate_s": round(done - loaded, 2),
            "generate_cpu_s": round(cpu, 2),
            "articles_per_s": round(n / max(done - loaded, 1e-9)),
            "distinct_names": len(generator.names.values),
            "distinct_tickers": len(generator.tickers.values),
            "rare_source_names": corpus.rare_names, "rare_source_tickers": corpus.rare_tickers}


def report_lines(summary: dict, stats: Stats | None, reference: Stats | None) -> list[str]:
    lines = [f"{summary['articles']:,} articles ({summary['follow_ups']:,} follow-ups), "
             f"{summary['bytes'] / 1e6:,.1f} MB, {summary['generate_s']} s "
             f"({summary['articles_per_s']:,}/s; CPU {summary['generate_cpu_s']} s) after "
             f"{summary['load_s']} s loading; "
             f"{summary['distinct_names']:,} names and {summary['distinct_tickers']:,} tickers "
             f"minted for {summary['rare_source_names']:,} rare source names and "
             f"{summary['rare_source_tickers']:,} rare tickers"]
    if stats is None:
        return lines
    beta = heaps_beta(stats.curve)
    fitted = f"{beta:.3f}" if beta is not None else "(too few points)"
    lines.append(f"vocabulary {len(stats.vocabulary):,} distinct tokens in {stats.tokens:,} "
                 f"tokens; Heaps beta over the last decade of the stream {fitted}")
    for label, s in (("generated", stats), ("source", reference)):
        if s is None:
            continue
        lines.append(f"{label:>9}: mean body {sum(s.chars) / max(1, s.articles):.0f} chars, "
                     f"{sum(s.token_counts) / max(1, s.articles):.0f} tokens; "
                     f"percentiles 10/25/50/75/90/99 chars {percentiles(s.chars)}, "
                     f"tokens {percentiles(s.token_counts)}, "
                     f"paragraphs {percentiles(s.paragraph_counts)}")
    lines.append("curve (articles, tokens, vocabulary): "
                 + " ".join(f"{a}:{t}:{v}" for a, t, v in stats.curve[-12:]))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, required=True,
                    help=f"how many articles to write ({REUTERS_ARTICLES:,} is Reuters' size)")
    ap.add_argument("--out", type=Path, required=True, help="JSON Lines output (.gz: gzip)")
    ap.add_argument("--text-dir", type=Path, help="also write seed-format text files here")
    ap.add_argument("--stories", type=Path, help="write 'id<TAB>story id' lines here")
    ap.add_argument("--seed", type=int, default=1987)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                    help="Reuters-21578 JSON Lines (default: %(default)s)")
    ap.add_argument("--report", action="store_true",
                    help="count the vocabulary and lengths (slower) and compare with the source")
    args = ap.parse_args(argv)
    if args.articles < 1:
        ap.error("--articles must be at least 1")
    if not args.source.exists():
        ap.error(f"no source corpus at {args.source}")
    stats = Stats() if args.report else None
    summary = generate(args.source, args.out, args.articles, args.seed, args.text_dir,
                       args.stories, stats)
    reference = source_stats(args.source) if args.report else None
    for line in report_lines(summary, stats, reference):
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
