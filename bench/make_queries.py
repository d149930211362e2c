"""Generate the benchmark's query set from a corpus, with a fixed seed.

``python -m bench.make_queries [--corpus ../shared/corpora] [--seed 1987] [--out
bench/queries.jsonl]`` wrote the committed ``bench/queries.jsonl`` from the Reuters JSONL; the
same code makes the tiny set of ``--smoke`` from the seeds. One JSON object per line::

    {"kind": "phrase", "filters": "date", "params": {"q": "\\"interest rates\\"",
     "from": "1987-03-02", "to": "1987-04-01"}}

Kinds (words are drawn from the corpus, by document frequency among the N articles):

* ``common``   one word in 2.5–20 % of the articles
* ``rare``     one word in 2–5 articles (at least 2, so it is not a typo)
* ``two``, ``three``  two or three content words of one random article (so all-words matches
  exist), each in at least 0.1 % of the articles
* ``phrase``   two adjacent content words of one random article, quoted
* ``prefix``   the first 4–5 letters of a frequent word, ``petro*`` (at most 200 vocabulary
  words share the prefix, so expansion limits are never hit)
* ``fuzzy``    a frequent word with one edit (replace, delete or swap) after the first letter,
  ``exprts~``
* ``empty``    no query text, filters only (newest first)

Each text kind comes in four filter variants — ``none``, ``date`` (a 7/30/91-day window),
``facet`` (one or two topics, or a place, or both), ``date+facet`` — with the same count each.
The lines are shuffled (kinds interleaved) with the same seed.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

KINDS = ("common", "rare", "two", "three", "phrase", "prefix", "fuzzy", "empty")
VARIANTS = ("none", "date", "facet", "date+facet")
SEED = 1987
PER_GROUP = 18
EMPTY = 24
WINDOWS = (7, 30, 91)
# The tokens the committed set was drawn with (the service's tokenizer of the time): kept, so
# that the same corpus and seed still give the same queries.
_TOKEN = re.compile(r"\w+(?:\.?\w+)*")


class _Pools:
    """Word statistics of a corpus, for drawing queries."""

    def __init__(self, articles: list, everything: Iterable | None = None):
        """Queries are drawn from ``articles``; document frequencies, dates and facet counts
        are counted over ``everything`` (default: the same articles). A large archive is
        drawn from a sample, but a word is common or rare by the whole archive's count."""
        from searchsvc.analysis import STOP_WORDS

        self.stop = STOP_WORDS
        self.tokens: list[list[str]] = []
        self.df: Counter = Counter()
        self.n = 0
        dates: list = []
        facet_df = {name: Counter() for name in ("topics", "places")}
        # ``everything`` first: it may be the stream that fills ``articles`` (a sample).
        for a in everything or ():
            self._count(a, _TOKEN.findall(f"{a.title}\n{a.body}".lower()), dates, facet_df)
        for a in articles:
            toks = _TOKEN.findall(f"{a.title}\n{a.body}".lower())
            self.tokens.append(toks)
            if everything is None:
                self._count(a, toks, dates, facet_df)
        self.vocab = sorted(self.df)
        self.first, self.last = (min(dates), max(dates)) if dates else (None, None)
        self.facets = {name: sorted(c.items()) for name, c in facet_df.items() if c}

    def _count(self, a, toks: list[str], dates: list, facet_df: dict[str, Counter]) -> None:
        self.n += 1
        self.df.update({t for t in toks if t.isalpha() and len(t) > 2 and t not in self.stop})
        if a.date:
            if not dates:
                dates.extend((a.date, a.date))
            dates[0], dates[1] = min(dates[0], a.date), max(dates[1], a.date)
        for name, counter in facet_df.items():
            counter.update(getattr(a, name))

    def band(self, lo: float, hi: float, min_len: int = 3) -> list[str]:
        words = [w for w in self.vocab if lo <= self.df[w] <= hi and len(w) >= min_len]
        return words or [w for w in self.vocab if len(w) >= min_len] or self.vocab

    def content(self, word: str) -> bool:
        return (word.isalpha() and len(word) > 2 and word not in self.stop
                and self.df[word] >= max(1, self.n * 0.001))

    def with_prefix(self, prefix: str) -> int:
        lo = bisect.bisect_left(self.vocab, prefix)
        hi = bisect.bisect_left(self.vocab, prefix + "\uffff")
        return hi - lo


def _article_words(pools: _Pools, rng: random.Random, count: int, adjacent: bool) -> list[str]:
    for _ in range(200):
        toks = pools.tokens[rng.randrange(len(pools.tokens))]
        if adjacent:
            pairs = [(a, b) for a, b in zip(toks, toks[1:], strict=False)
                     if pools.content(a) and pools.content(b) and a != b]
            if pairs:
                return list(rng.choice(pairs))
        else:
            words = sorted({t for t in toks if pools.content(t)})
            if len(words) >= count:
                return rng.sample(words, count)
    words = [w for w in pools.vocab if pools.content(w)] or pools.vocab
    return rng.sample(words, min(count, len(words)))


def _typo(word: str, rng: random.Random, known: set[str]) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(50):
        i = rng.randrange(1, len(word) - 1)
        op = rng.choice(("replace", "delete", "swap"))
        if op == "replace":
            out = word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1:]
        elif op == "delete":
            out = word[:i] + word[i + 1:]
        else:
            out = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if out != word and out not in known:
            return out
    return word[:-1]


def _text(kind: str, pools: _Pools, rng: random.Random) -> str:
    n = pools.n
    if kind == "common":
        return rng.choice(pools.band(n * 0.025, n * 0.2))
    if kind == "rare":
        return rng.choice(pools.band(2, max(2, n * 0.00025), min_len=4))
    if kind == "two":
        return " ".join(_article_words(pools, rng, 2, adjacent=False))
    if kind == "three":
        return " ".join(_article_words(pools, rng, 3, adjacent=False))
    if kind == "phrase":
        return '"' + " ".join(_article_words(pools, rng, 2, adjacent=True)) + '"'
    if kind == "prefix":
        frequent = pools.band(max(1, n * 0.0015), n, min_len=6)
        for _ in range(100):
            word = rng.choice(frequent)
            prefix = word[: rng.choice((4, 5))]
            if pools.with_prefix(prefix) <= 200:
                return prefix + "*"
        return word[:5] + "*"
    if kind == "fuzzy":
        word = rng.choice(pools.band(max(1, n * 0.0015), n * 0.2, min_len=5))
        return _typo(word, rng, set(pools.df)) + "~"
    return ""


def _date_filter(pools: _Pools, rng: random.Random) -> dict:
    if pools.first is None:
        return {}
    span = (pools.last - pools.first).days
    days = rng.choice(WINDOWS)
    start = pools.first + dt.timedelta(days=rng.randint(0, max(0, span - days // 2)))
    return {"from": start.isoformat(), "to": (start + dt.timedelta(days=days - 1)).isoformat()}


def _facet_filter(pools: _Pools, rng: random.Random) -> dict:
    if not pools.facets:
        return {}
    out = {}

    def pick(name: str, k: int) -> list[str]:
        counts = dict(pools.facets[name])
        common = [v for v, c in counts.items() if c >= max(1, pools.n * 0.001)] or list(counts)
        weights = [counts[v] for v in common]
        chosen: list[str] = []
        for _ in range(k * 5):
            v = rng.choices(common, weights)[0]
            if v not in chosen:
                chosen.append(v)
            if len(chosen) == k:
                break
        return chosen

    roll = rng.random()
    names = sorted(pools.facets)
    if "topics" in pools.facets and (roll < 0.5 or len(names) == 1):
        out["topics"] = pick("topics", 2 if rng.random() < 0.25 else 1)
    elif "places" in pools.facets and roll < 0.85:
        out["places"] = pick("places", 1)
    else:
        for name in names:
            out[name] = pick(name, 1)
    return out


def generate(articles: list, seed: int = SEED, per_group: int = PER_GROUP,
             empty: int = EMPTY, everything: Iterable | None = None) -> list[dict]:
    """The query set drawn from ``articles`` (see :class:`_Pools` for ``everything``)."""
    pools = _Pools(articles, everything)
    rng = random.Random(seed)
    lines = []
    for kind in KINDS[:-1]:
        for variant in VARIANTS:
            for _ in range(per_group):
                params = {"q": _text(kind, pools, rng)}
                if "date" in variant:
                    params.update(_date_filter(pools, rng))
                if "facet" in variant:
                    params.update(_facet_filter(pools, rng))
                lines.append({"kind": kind, "filters": variant, "params": params})
    variants = VARIANTS[1:]
    for i in range(empty):
        variant = variants[i % len(variants)]
        params = {"q": ""}
        if "date" in variant:
            params.update(_date_filter(pools, rng))
        if "facet" in variant:
            params.update(_facet_filter(pools, rng))
        lines.append({"kind": "empty", "filters": variant, "params": params})
    rng.shuffle(lines)
    return lines


def write(lines: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")


def sample_archive(path: Path, size: int, seed: int = SEED) -> tuple[list, Iterator]:
    """A reservoir sample of ``size`` articles of a JSON Lines archive, sorted by id, and an
    iterator over the whole archive that fills the sample as it goes (read it to the end
    before using the sample). Memory: the sample, not the archive."""
    from searchsvc.ingest.readers import Article
    from searchsvc.ingest.sources import read_sources

    rng = random.Random(seed)
    sample: list = []

    def stream() -> Iterator:
        seen = 0
        for item in read_sources([path]):
            if not isinstance(item, Article):
                continue
            seen += 1
            if len(sample) < size:
                sample.append(item)
            else:
                j = rng.randrange(seen)
                if j < size:
                    sample[j] = item
            yield item
        sample.sort(key=lambda a: a.id)

    return sample, stream()


def main(argv: list[str] | None = None) -> int:
    from bench.common import DEFAULT_CORPUS, QUERIES, REUTERS_JSONL
    from bench.engines import read_articles

    ap = argparse.ArgumentParser(prog="python -m bench.make_queries", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--source", type=Path,
                    help="draw from this JSON Lines archive instead of the Reuters JSONL "
                         "(e.g. one written by bench.generate)")
    ap.add_argument("--sample", type=int, default=0,
                    help="draw the queries' words from a random sample of this many articles "
                         "(word and facet counts still over the whole archive); 0: all")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=QUERIES)
    args = ap.parse_args(argv)
    source = args.source or args.corpus / REUTERS_JSONL
    if args.sample:
        # The whole archive is counted as it streams past, filling the sample; then the
        # queries are drawn from the sample.
        sample, stream = sample_archive(source, args.sample, args.seed)
        lines = generate(sample, seed=args.seed, everything=stream)
    else:
        articles = read_articles([source])
        articles.sort(key=lambda a: a.id)
        lines = generate(articles, seed=args.seed)
    write(lines, args.out)
    kinds = Counter(line["kind"] for line in lines)
    print(f"wrote {len(lines)} queries to {args.out}: {dict(sorted(kinds.items()))}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
