"""Story clustering: articles that report the same event, told in different words.

News archives carry one story many times: several outlets, or a wire's successive updates, and
the reactions to it. Two write-ups of one event share names and subject words, not sentences —
the two seed articles share few word 3-shingles, so shingle-based MinHash/SimHash would keep
them apart. Instead each article becomes a TF-IDF vector of its stemmed terms (sublinear tf,
smoothed idf, L2-normalised). Similar wording is not enough, though: two companies' earnings
tables, two borrowers' eurobonds, a city's hog prices and the next city's, the Bank of
England's money market report and tomorrow's are worded alike and are different events. Two
articles are one story when

* they are dated at most :data:`WINDOW_DAYS` apart (undated articles never cluster);
* their cosine similarity is at least :data:`THRESHOLD`, and at least
  :data:`CONTENT_THRESHOLD` without each article's own names: they agree on what happened,
  not only on whom it happened to;
* on different days, they share a distinctive term that is news then: its use around the
  later date is at least :data:`MIN_BURST` times denser than the collection's (a company in
  the news, a meeting, an earthquake), not only the vocabulary of a daily report; and when
  both titles report what someone said ("... SAYS ...", "... - SUMITA"), that term is not a
  name: one official's statements on two days are two events;
* the names rule holds (:func:`_names_agree`, on what :func:`entities` finds: tickers, names,
  the title's subject and kind of announcement): items about different companies or tickers,
  or different announcements of one company, never share a story because of their wording;
  nor does a recurring report on another day (:func:`_rerun`).

Comparing every pair is quadratic, so candidates come from a blocking step: each article's
:data:`KEY_TERMS` highest-weighted *distinctive* terms (in at most :data:`DISTINCTIVE_DF` of
all articles); two articles are compared only if they share at least :data:`MIN_SHARED` key
terms. Matches merge strongest first with union–find, and a story stays a star around its
leader (earliest article, whose id is the story's id): every member is at least
:data:`LEADER_THRESHOLD` like the leader and passes the names rule with it (two statements
of different days also :data:`STATEMENT_CONTENT` alike without names), and a story's
titles' tickers never become foreign to another's. Plain single-link chaining grew 74-article
"stories" out of daily market reports, and put a Chrysler downgrade in a USAir story.

Updates: :func:`assign` puts new articles into the existing stories by the same rules without
clustering everything again; :func:`hand_on` names a story whose leader is deleted. A full
build does not hold a :class:`TermTable`: it spools the counts to disk and clusters them date
window by date window (:mod:`searchsvc.ingest.story_spool`), with this module's matrix, rules
and merging, and gets the same stories as :func:`cluster`.

No Whoosh here: the indexer hands in term frequencies it has already computed, and the names
from :func:`entities` (an optional field: without names only the similarity rules apply).
"""

from __future__ import annotations

import functools
import math
import re
import string
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from searchsvc.analysis import is_stop, stem

# The thresholds were chosen by measurement on the labelled pairs (bench/news_eval.py stories):
# each rule's value is where precision stopped rising faster than correct pairs were lost.
THRESHOLD = 0.30  # cosine of a pair
CONTENT_THRESHOLD = 0.15  # cosine without each article's names: same who is not enough
MIN_BURST = 1.5  # how much denser than usual a term's use near the date makes it news
LEADER_THRESHOLD = 0.27  # cosine of every member with its story's leader
STATEMENT_CONTENT = 0.2  # ... and the two statements' cosine without names, across days
RERUN_OVERLAP = 0.6  # share of title words two issues of one recurring report have in common
RESEND_SIM = 0.8  # cosine above which another day's same-titled item is a re-send
WINDOW_DAYS = 3
KEY_TERMS = 12
MIN_SHARED = 2
MAX_BLOCK = 400
DISTINCTIVE_DF = 0.01

# (day ordinal, terms) → (articles dated within WINDOW_DAYS of the day using each term, all
# articles dated there): what :func:`assign` asks the index for the burst rule.
Near = Callable[[int, Iterable[str]], tuple[Mapping[str, int], int]]


@dataclass(frozen=True)
class DocTerms:
    id: str
    date: int | None  # proleptic ordinal
    tf: Mapping[str, int]
    names: frozenset[str] = frozenset()  # from :func:`entities`; empty: no names rule


class TermTable:
    """Many documents' term counts as flat arrays: what clustering reads.

    Build workers fill one each as they index (``add``), the parent ``merge``s them: a few
    arrays and one vocabulary per worker cross the process boundary instead of a dict per
    article, and clustering starts from arrays instead of walking dicts.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.dates = array("q")   # proleptic ordinals; -1: undated
        self.lens = array("q")    # entries per document
        self.terms = array("q")   # index into ``vocab`` of each entry
        self.counts = array("q")
        self.vocab: dict[str, int] = {}
        # Each document's entities(): a few short strings, not worth flat arrays.
        self.names: list[frozenset[str]] = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, doc_id: str, date: int | None, tf: Mapping[str, int],
            names: frozenset[str] = frozenset()) -> None:
        vocab = self.vocab
        self.ids.append(doc_id)
        self.names.append(names)
        self.dates.append(-1 if date is None else date)
        self.lens.append(len(tf))
        self.terms.extend([vocab.setdefault(t, len(vocab)) for t in tf])
        self.counts.extend(tf.values())

    def merge(self, other: TermTable) -> None:
        vocab = self.vocab
        remap = np.array([vocab.setdefault(t, len(vocab)) for t in other.vocab], dtype=np.int64)
        self.ids.extend(other.ids)
        self.names.extend(other.names)
        self.dates.extend(other.dates)
        self.lens.extend(other.lens)
        self.counts.extend(other.counts)
        if len(other.terms):
            self.terms.frombytes(remap[np.frombuffer(other.terms, dtype=np.int64)].tobytes())

    @classmethod
    def of(cls, docs: Sequence[DocTerms]) -> TermTable:
        table = cls()
        for doc in docs:
            table.add(doc.id, doc.date, doc.tf, doc.names)
        return table


# --- Names: who an article is about --------------------------------------------------------

# Exchange tickers as Reuters writes them: <CYL>, <SOCS.O>, <REED.L>, <dig>. The suffix is the
# exchange, not the company: <BAC> and <BAC.N> are one company.
_TICKER = re.compile(r"<([A-Za-z][A-Za-z0-9&]{0,6})(?:\.[A-Za-z]{1,3})?>")
# Some titles put the ticker in parentheses: TEXACO (QTX), GUNNAR GOLD (GGG.TO).
_PAREN_TICKER = re.compile(r"\(([A-Z]{1,5})(?:\.[A-Z]{1,3})?\)")
# A private or foreign company in angle brackets: <Hoechst AG>, <TECHNIGEN PLATINUM CORP>.
_BRACKETED = re.compile(r"<([^<>]*[ a-z][^<>]*)>")
_WORD = re.compile(r"\w+(?:\.?\w+)*")
# The same words with what lies between them: [gap, word, gap, word, ..., gap].
_WORDS_AND_GAPS = re.compile(r"(\w+(?:\.?\w+)*)")
_ASCII_LOWER = string.ascii_lowercase.encode()
_ASCII_UPPER = string.ascii_uppercase.encode()
# Capitalised words that name no one: legal forms, the words of an earnings table (whose lines
# start "Shr", "Net", "Revs" without a full stop before them), months, days, titles of office.
_GENERIC = frozenset("""
    inc corp corporation co company cos ltd limited plc ag nv sa spa bv gmbh kk llc lp
    group holdings holding industries international intl trust fund funds partners
    shr shrs net revs rev sales avg oper qtly qtr div mthly semi pay record prior note year
    mths months nine six three four loss profit dlrs dlr cts mln billion vs primary diluted
    jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june
    july august september october november december monday tuesday wednesday thursday friday
    saturday sunday today
    mr mrs ms dr president chairman minister secretary governor director chief executive
    officer spokesman vice deputy senator rep official officials analysts dealers traders
    the he she they it its this these those there we you his her their i but however also
    after while when if in on at for as by with from of and or to new said says
    u.s us uk u.k reuters
""".split())
# Stems of capitalised words that are part of many names without naming anyone: "Bank",
# "Securities", "Exchange Commission", "Investors Service" (the most frequent capitalised
# words in Reuters-21578, less the actual names among them).
_GENERIC_STEMS = frozenset("""
    bank exchang unit commiss secur state feder nation depart associ gener commun system trade
    servic hous ministri stock reserv union board first industri world develop prime financi
    financ credit committe central save resourc econom capit invest loan market investor
    product insur technolog institut standard administr court council air agenc agreement
    commod citi manag parti offic comput power research busi enterpris manufactur store organ
    public telephon futur repres cooper deposit transport tariff de divis asset data act univers
    counti gmt organis govern electron district medic st life drug bureau machin banker
    network tax time inform defens center telecommun rate laboratori metal chapter commerci
    class engin currenc ccc aa aaa baa energi petroleum oil brother chemic food mine ga export
    home statist free incom yield high fund certif eurobond bond note share common preferr
    american european japanes canadian british german french australian swiss dutch italian
    chines soviet brazilian iranian african asian arab latin foreign intern
    gdp gnp cpi ppi cif fob est edt gmt pct bpd
""".split())
# Kinds of announcement a title makes, each a set of patterns that must all match: results
# and a dividend, an order and a bond issue are separate announcements, even of one company.
_KINDS = {kind: tuple(re.compile(p, re.I) for p in patterns) for kind, patterns in {
    "dividend": (r"\b(DIV|DIVS|DIVIDENDS?|PAYOUTS?|DISTRIBUTIONS?)\b",),
    "results": (r"\b(NET|QTR|LOSS|PROFITS?|EARNINGS|RESULTS)\b",),
    "order": (r"\b(GETS?|WINS?|WON|RECEIVES?|AWARDED|BOOKS?|LANDS?)\b",
              r"\b(ORDERS?|CONTRACTS?)\b"),
    "offering": (r"\bOFFERINGS?\b",),
    "issue": (r"\b(ISSU\w*|LAUNCH\w*|SELLS?|OFFERS?|PLACES?|PRICED?|RAIS\w+|SIGNS?|ARRANG\w+|"
              r"SEEKS?|SETS?|HAS|PROGRAM\w*)\b",
              r"\b(BONDS?|NOTES|PAPER|CERTIFICATES?|DEBENTURES?|WARRANTS?|ISSUES?)\b"),
    "financing": (r"\b(EUROBONDS?|LOANS?|FACILITY|FRNS?|CP|EURO-?CP|EUROCOMMERCIAL)\b",),
    "distress": (r"\b(DEFAULTS?|CHAPTER 11|BANKRUPTCY|CREDIT AGREEMENT)\b",),
}.items()}
# Any kind's first pattern: most titles match none, and then no kind needs trying.
_ANY_KIND = re.compile("|".join(patterns[0].pattern for patterns in _KINDS.values()), re.I)
# A title that reports what someone said: one more statement on another day is another event.
_STATEMENT = re.compile(r"\b(SAYS?|SAID|SEES?|URGES?|EXPECTS?|PREDICTS?|WARNS?|TELLS?|"
                        r"CALLS FOR|DENIES|REITERATES?|REPEATS?)\b"
                        r"|(\s[-\u2013]|,)\s*[A-Z][A-Za-z.']*(\s[A-Z][A-Za-z.']*){0,2}\s*$", re.I)
_CORRECTION = frozenset({"CORRECTED", "UPDATE", "REPEAT", "AMENDED"})
# A full stop after a lower-case word or a number, before a capital: "U.S. Officials" and
# "J.P. Morgan" do not end a sentence.
_SENTENCE_END = re.compile(r"(?<=[a-z0-9]{2})[.!?](?=\s+[A-Z\"])")
# Words that start sentences without naming anything (when the next word is lower case).
_STARTERS = frozenset("""
    flash about around nearly almost more less only just hundred hundreds thousand thousands
    million dozen total hog hogs cattle prices price sources shares trading volume earlier last
    under despite
    although currently meanwhile both all some most many several other such each no one two
    three four five six seven eight nine ten officials analysts dealers traders bankers
    economists industry market markets government company companies stocks bonds futures spot
    interest rates net sales gross output exports imports production consumption
""".split())


def entities(title: str, body: str) -> frozenset[str]:
    """Who an article is about and what kind of item it is, as the indexer stores it on
    :class:`DocTerms` ``names`` for :func:`cluster` and :func:`assign`. Words are lower-cased
    and stemmed like index terms, so one article's names can be looked up among another's
    terms. A prefix says what each string is:

    * ``$CYL``: a ticker in the title (``<CYL>``, ``<BAC.N>`` → ``$BAC``, ``(QTX)``): the
      company the item is about; ``%CYL``: any ticker in the body (bidders, advisers).
    * no prefix: a name word: capitalised words of a mixed-case title and of the body's first
      sentence (the lede names the subject; later sentences name traders and brokers), words
      in angle brackets (``<Hoechst AG>``), the title's words just before a ticker
      (``WESTINGHOUSE ELECTRIC CORP <WX>``), the lede's tickers as words.
    * ``^word``: the title's first significant word; ``&word``: its first word that is also
      a name in the text (the subject); ``@word``: the name the title opens with (its first
      two significant words, up to a ticker).
    * ``~word`` and ``=figure``: the title's words and numbers (recurring reports).
    * ``#kind``: the kind of announcement the title makes (results, dividend, order, ...);
      ``!``: the title reports what someone said ("... SAYS ...", "... - SUMITA").
    """
    found: set[str] = set()
    in_title = [t for t in _TICKER.findall(title)]
    if not in_title:
        in_title = [t for t in _PAREN_TICKER.findall(title) if t not in _CORRECTION]
    found.update("$" + t.upper() for t in in_title)
    found.update("%" + t.upper() for t in _TICKER.findall(body))
    lede = _lede(body)
    words = [t for t in _TICKER.findall(lede)]
    for inside in _BRACKETED.findall(f"{title}\n{lede}"):
        words += _WORD.findall(inside)
    for text in (title, lede):
        lower, upper = _case_counts(text)
        if lower and upper <= 1.5 * lower:  # in all caps, capitals say nothing
            words += _capitalised(text, (title, body))
    confirmed = _name_words(words)  # from mixed-case text and brackets
    # In an all-caps title the words before a ticker are the company's name.
    for m in _TICKER.finditer(title):
        words += _WORD.findall(title[:m.start()])[-3:]
    found.update(_name_words(words))
    # What a title leads with ("PEORIA HOGS ...", "SHELL CANADA RAISES ..."): the subject of an
    # item that names no one in mixed case, to tell one city's or company's item from another's.
    lowered = _WORD.findall(title.lower())
    title_words = [w for w in (_name_word(word) for word in lowered
                               if word not in _STARTERS) if w is not None]
    if title_words:
        found.add("^" + title_words[0])
        # ... and the name it opens with: its first two such words, or fewer if a ticker ends
        # the name sooner ("HECK'S <HEX> SAYS ...").
        opening = _WORD.findall(_TICKER.split(title, maxsplit=1)[0].lower())
        found.update("@" + w for w in [w for w in (_name_word(word) for word in opening
                                                   if word not in _STARTERS) if w is not None][:2])
    # ... and the first of its words that the article names: whom a full story is about.
    named = next((w for w in title_words if w in confirmed), None)
    if named:
        found.add("&" + named)
    # A daily report's title on another day: the same words, new figures.
    for word in lowered:
        found.add(("=" if word[0].isdigit() else "~") + stem(word))
    if _STATEMENT.search(title):
        found.add("!")
    # Results and dividends are separate announcements, even of one company on one day.
    if _ANY_KIND.search(title):
        found.update("#" + kind for kind, patterns in _KINDS.items()
                     if all(p.search(title) for p in patterns))
    return frozenset(found)


def _lede(body: str) -> str:
    """The body's first sentence (at most 400 characters)."""
    m = _SENTENCE_END.search(body, 0, 400)
    return body[:m.start() + 1] if m else body[:400]


def _capitalised(text: str, article: tuple[str, str]) -> list[str]:
    """Capitalised words, less a sentence's first word when it is only capitalised for being
    first: the article (title, body) also writes it in lower case, or it is followed by a
    lower-case word and is a common word of a sentence's start."""
    out = []
    parts = _WORDS_AND_GAPS.split(text)  # a word at every odd place, what precedes it before
    for i in range(1, len(parts), 2):
        word = parts[i]
        if not word[0].isupper():
            continue
        # What comes before the word, spaces aside: a gap of spaces only means the word
        # before it (not a sentence's end), unless this is the text's first word.
        before = parts[i - 1].rstrip()
        if (before[-1] in '.!?:;"(-' if before else i == 1) and not word.isupper():
            following = parts[i + 2] if i + 2 < len(parts) else ""
            low = word.lower()
            if low in _GENERIC or any(_writes(part, low) for part in article):
                continue
            if not following[:1].isupper() and low in _STARTERS:
                continue
        out.append(word)
    return out


def _case_counts(text: str) -> tuple[int, int]:
    """How many ASCII lower-case and upper-case letters ``text`` has (bytes.translate deletes
    them in C: counting regular-expression matches made a list of one-letter strings)."""
    raw = text.encode("ascii", "ignore")
    return (len(raw) - len(raw.translate(None, _ASCII_LOWER)),
            len(raw) - len(raw.translate(None, _ASCII_UPPER)))


def _writes(text: str, word: str) -> bool:
    """Whether ``word`` is one of the words :data:`_WORD` finds in ``text``, found with
    ``str.find`` instead: only a sentence's first word is asked about, and tokenising a whole
    body for it was a third of the time spent on an article's names."""
    if not _WORD.fullmatch(word):  # "İ".lower() is "i" and a combining dot: two words
        return False
    start, size = 0, len(word)
    while (i := text.find(word, start)) >= 0:
        end = i + size
        # A word character, or a dot between word characters, would join what is around into
        # one longer word (``\w+(?:\.?\w+)*``).
        if not (i and (_word_char(text[i - 1]) or text[i - 1] == "." and i > 1
                       and _word_char(text[i - 2]))
                or end < len(text) and (_word_char(text[end]) or text[end] == "."
                                        and end + 1 < len(text) and _word_char(text[end + 1]))):
            return True
        start = i + 1
    return False


def _word_char(c: str) -> bool:
    """What ``\\w`` matches in a str pattern: letters and digits of any script, and ``_``."""
    return c.isalnum() or c == "_"


def _name_words(words: Sequence[str]) -> set[str]:
    return {n for n in map(_name_word, words) if n is not None}


@functools.lru_cache(maxsize=200_000)
def _name_word(word: str) -> str | None:
    """The stem a word names someone by, or None for a generic or stop word."""
    low = word.lower()
    if len(low) < 2 or low in _GENERIC or is_stop(low) or not low[0].isalpha():
        return None
    stemmed = stem(low)
    return None if stemmed in _GENERIC_STEMS else stemmed


@dataclass
class _Matrix:
    """All documents' normalised TF-IDF weights as one sorted sparse array (CSR-like)."""

    offsets: np.ndarray  # doc d's entries are offsets[d]:offsets[d + 1]
    terms: np.ndarray    # term id of each entry, sorted within a document
    weights: np.ndarray
    key_docs: np.ndarray  # (doc, term) of every key term, as two parallel arrays
    key_terms: np.ndarray
    n_terms: int
    entry_keys: np.ndarray  # doc * (n_terms + 1) + term, sorted: for lookups
    first_copy: np.ndarray  # each document's first copy (itself if it has none)
    rank: np.ndarray  # vocabulary id → term id (the ids above)
    doc_of: np.ndarray  # each entry's document
    df: np.ndarray  # each term's document frequency (over distinct articles)
    distinctive: int  # the largest df of a distinctive term
    local: np.ndarray  # each entry's term's df within WINDOW_DAYS of the entry's article
    near_share: np.ndarray  # each document's share of all articles within WINDOW_DAYS of it

    def pair(self, x: int, y: int, weights: np.ndarray | None = None) -> float:
        """Cosine of documents x and y (of ``weights`` in place of the matrix's own)."""
        weights = self.weights if weights is None else weights
        sx, sy = slice(self.offsets[x], self.offsets[x + 1]), slice(self.offsets[y],
                                                                    self.offsets[y + 1])
        _, ix, iy = np.intersect1d(self.terms[sx], self.terms[sy], assume_unique=True,
                                   return_indices=True)
        return float(np.dot(weights[sx][ix], weights[sy][iy]))


def _matrix(table: TermTable) -> _Matrix:
    n = len(table)
    lens = np.frombuffer(table.lens, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    # Term ids in sorted-term order, so ties between equally weighted terms break the same way
    # in every build (Python's str hash is salted per process, workers meet terms in any order).
    n_terms = len(table.vocab)
    rank = np.empty(n_terms, dtype=np.int64)
    rank[np.fromiter(map(table.vocab.__getitem__, sorted(table.vocab)), dtype=np.int64,
                     count=n_terms)] = np.arange(n_terms)
    terms = rank[np.frombuffer(table.terms, dtype=np.int64)]
    tf = np.frombuffer(table.counts, dtype=np.int64)
    doc_of = np.repeat(np.arange(n), lens)
    keys = doc_of * (n_terms + 1) + terms  # unique: a document lists a term once
    order = np.argsort(keys)  # by document (doc_of stays as it is), then term
    keys, terms, tf = keys[order], terms[order], tf[order]
    dates = np.frombuffer(table.dates, dtype=np.int64)
    rep = _first_copies(offsets, terms, tf, dates, table.ids, n_terms)
    # Statistics over distinct articles: five copies of an article must not make its words
    # look five times as common (and no longer distinctive).
    kept = rep == np.arange(n)
    stats = _Stats.of(np.bincount(terms[kept[doc_of]], minlength=n_terms),
                      int(np.count_nonzero(kept)), dates[kept & (dates >= 0)])
    return _weigh(offsets, terms, tf, keys, doc_of, dates, kept, stats, rep, rank)


@dataclass
class _Stats:
    """What weighing an article needs from the whole collection: each term's document
    frequency and idf, how many distinct articles there are, and their dates."""

    df: np.ndarray  # by term id, over distinct articles
    idf: np.ndarray
    distinct: int
    distinctive: int  # the largest df of a distinctive term
    dates: np.ndarray  # the distinct articles' dates, sorted (undated left out)

    @classmethod
    def of(cls, df: np.ndarray, distinct: int, dates: np.ndarray) -> _Stats:
        return cls(df, np.log((distinct + 1) / (df + 1)) + 1.0, distinct,
                   max(3, int(DISTINCTIVE_DF * distinct)), np.sort(dates))


def _weigh(offsets: np.ndarray, terms: np.ndarray, tf: np.ndarray, keys: np.ndarray,
           doc_of: np.ndarray, dates: np.ndarray, kept: np.ndarray, stats: _Stats,
           rep: np.ndarray, rank: np.ndarray, rules: bool = True) -> _Matrix:
    """The matrix of some documents (all of them, or the articles of a date window), with the
    collection's statistics: each document's weights depend on its own terms and ``stats``
    only, its terms' local densities on the documents within :data:`WINDOW_DAYS` of it (so a
    window's matrix has them right for the articles at least that far from its edges).
    ``kept``: the documents that are not copies; without ``rules`` only the weights."""
    n = len(dates)
    df, cap = stats.df, stats.distinctive
    w = (1.0 + np.log(np.maximum(tf, 1))) * stats.idf[terms]
    norms = np.sqrt(np.bincount(doc_of, weights=w * w, minlength=n))
    w /= np.where(norms > 0, norms, 1.0)[doc_of]
    empty = np.zeros(0, dtype=np.int64)
    if not rules:
        return _Matrix(offsets, terms, w, empty, empty, len(df), keys, rep, rank, doc_of, df,
                       cap, empty, np.zeros(0))
    # Key terms: each document's heaviest *distinctive* terms (names, places, subjects), so
    # a formulaic item ("Shr 10 cts vs 12 cts, Net …") does not pair with all of its kind.
    # A term in one article only can pair nothing, so it is never a key term. Copies have
    # none: they join their first copy's story without being compared.
    counted = kept[doc_of]
    chosen = _key_entries(doc_of, terms, w, counted, stats)
    # How much of each term's use falls near each article's date: a name in the news, a
    # meeting, a disaster are talked about for days; the vocabulary of a daily report (the Bank
    # of England's money market shortage, a city's hog prices) is used every day.
    # Only distinctive terms are asked about; each occurrence's neighbours are counted in one
    # pass over the occurrences sorted by (term, date).
    day = dates[doc_of]
    dft = df[terms]
    occurrences = np.flatnonzero(counted & (day >= 0) & (dft >= 2) & (dft <= cap))
    span = np.int64(1 << 23)  # beyond any proleptic ordinal plus the window
    at = terms[occurrences] * span + day[occurrences]
    order = np.argsort(at, kind="stable")
    at = at[order]
    local = np.zeros(len(terms), dtype=np.int64)
    local[occurrences[order]] = (np.searchsorted(at, at + WINDOW_DAYS, side="right")
                                 - np.searchsorted(at, at - WINDOW_DAYS))
    # ... compared with how much of everything falls near that date: a term used in 30 of the
    # collection's 100 articles on "Cyclops", where the week holds 5 % of all articles, is news
    # that week. A ratio of shares does not change with the size of the archive.
    near_share = ((np.searchsorted(stats.dates, dates + WINDOW_DAYS, side="right")
                   - np.searchsorted(stats.dates, dates - WINDOW_DAYS))
                  / max(1, stats.distinct))
    return _Matrix(offsets, terms, w, doc_of[chosen], terms[chosen], len(df), keys, rep, rank,
                   doc_of, df, cap, local, near_share)


def _key_entries(doc_of: np.ndarray, terms: np.ndarray, w: np.ndarray, counted: np.ndarray,
                 stats: _Stats) -> np.ndarray:
    """The entries of each document's :data:`KEY_TERMS` heaviest distinctive terms (ties: the
    first term in sorted order), of the ``counted`` entries."""
    dft = stats.df[terms]
    candidates = np.flatnonzero(counted & (dft >= 2) & (dft <= stats.distinctive))
    by_weight = candidates[np.lexsort((-w[candidates], doc_of[candidates]))]
    docs = doc_of[by_weight]
    nth = np.arange(len(docs)) - np.searchsorted(docs, docs)  # rank within its document
    return by_weight[nth < KEY_TERMS]


def _first_copies(offsets: np.ndarray, terms: np.ndarray, tf: np.ndarray, dates: np.ndarray,
                  ids: list[str], n_terms: int) -> np.ndarray:
    """Each document's first copy: among the documents of the same date with the very same
    terms and counts (a wire's resent item, an archive loaded twice), the smallest id.

    Copies are one story without being compared: n copies of an article made n² candidate
    pairs with every neighbour (the 5x benchmark corpus: 20 s of a 78 s build).
    """
    n = len(dates)
    rep = np.arange(n)
    lens = np.diff(offsets)
    # An order-independent 64-bit hash of each document's (term, count) entries; documents
    # with equal hashes are then compared entry by entry.
    salt = np.random.default_rng(0).integers(1, 2**63, size=max(n_terms, 1), dtype=np.uint64)
    entry = salt[terms] * (tf.astype(np.uint64) * np.uint64(2) + np.uint64(1))
    sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(entry, dtype=np.uint64)])
    digest = (sums[offsets[1:]] - sums[offsets[:-1]]).view(np.int64)
    dated = np.flatnonzero((dates >= 0) & (lens > 0))
    order = dated[np.lexsort((digest[dated], lens[dated], dates[dated]))]
    keys = np.stack([dates[order], lens[order], digest[order]], axis=1)
    starts = np.flatnonzero(np.concatenate([[True], (keys[1:] != keys[:-1]).any(axis=1)]))
    bounds = np.append(starts, len(order)).tolist()
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi - lo < 2:
            continue
        group = sorted(order[lo:hi].tolist(), key=ids.__getitem__)
        first = slice(offsets[group[0]], offsets[group[0] + 1])
        for d in group[1:]:
            other = slice(offsets[d], offsets[d + 1])
            if (np.array_equal(terms[first], terms[other])
                    and np.array_equal(tf[first], tf[other])):
                rep[d] = group[0]
    return rep


def _shared(m: _Matrix, a: np.ndarray,
            b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The terms pairs (a[i], b[i]) share, vectorised over all pairs: for each, the pair's
    index, a's entry and b's entry."""
    starts, ends = m.offsets[a], m.offsets[a + 1]
    lens = ends - starts
    pair_of = np.repeat(np.arange(len(a)), lens)
    first = np.cumsum(lens) - lens
    entry = np.arange(lens.sum()) - np.repeat(first, lens) + np.repeat(starts, lens)
    # Look up b's weight for each of a's terms in the sorted (doc, term) keys.
    all_keys = m.entry_keys
    wanted = b[pair_of] * (m.n_terms + 1) + m.terms[entry]
    pos = np.searchsorted(all_keys, wanted)
    pos = np.minimum(pos, len(all_keys) - 1)
    hit = all_keys[pos] == wanted
    return pair_of[hit], entry[hit], pos[hit]


def _cosines(m: _Matrix, a: np.ndarray, b: np.ndarray,
             weights: np.ndarray | None = None) -> np.ndarray:
    """Cosine similarity of each pair (a[i], b[i]), vectorised over all pairs (of ``weights``
    in place of the matrix's own, when given)."""
    if not len(a):
        return np.zeros(0)
    weights = m.weights if weights is None else weights
    return _dots(len(a), _shared(m, a, b), weights)


def _dots(n_pairs: int, shared: tuple[np.ndarray, np.ndarray, np.ndarray],
          weights: np.ndarray) -> np.ndarray:
    pair_of, x, y = shared
    return np.bincount(pair_of, weights=weights[x] * weights[y], minlength=n_pairs)


def _bursts(m: _Matrix, n_pairs: int, shared: tuple[np.ndarray, np.ndarray, np.ndarray],
            dates: np.ndarray, content: np.ndarray | None = None) -> np.ndarray:
    """For each pair (of the :func:`_shared` terms given), how much the distinctive term they
    share is news at the later article's date: the share of its documents dated within the
    window, over the share of all documents there (1: used as much as any other time)."""
    out = np.zeros(n_pairs)
    pair_of, x, y = shared
    later = np.where(dates[m.doc_of[y]] >= dates[m.doc_of[x]], y, x)
    term = m.terms[later]
    ok = (m.df[term] >= 2) & (m.df[term] <= m.distinctive)
    if content is not None:  # terms that are neither article's names
        ok &= (content[x] > 0) & (content[y] > 0)
    later, term = later[ok], term[ok]
    lift = m.local[later] / m.df[term] / np.maximum(m.near_share[m.doc_of[later]], 1e-9)
    np.maximum.at(out, pair_of[ok], lift)
    return out


def similarity(a: DocTerms, b: DocTerms, background: Sequence[DocTerms] = ()) -> float:
    """Cosine of two articles' TF-IDF vectors (idf from both plus ``background``)."""
    m = _matrix(TermTable.of([a, b, *background]))
    return float(_cosines(m, np.array([0]), np.array([1]))[0])


def _candidate_pairs(m: _Matrix, dates: np.ndarray, keep: np.ndarray | None = None,
                     sizes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of dated documents (of ``keep``) within the window that share ≥ MIN_SHARED key
    terms that are no more than :data:`MAX_BLOCK` documents' key terms (``sizes``: how many
    documents have each as a key term, when ``m`` holds only some of them)."""
    docs, terms = m.key_docs, m.key_terms
    dated = dates[docs] >= 0
    if keep is not None:
        dated &= keep[docs]
    docs, terms = docs[dated], terms[dated]
    order = np.lexsort((dates[docs], terms))
    docs, terms = docs[order], terms[order]
    d = dates[docs]
    if sizes is None:
        sizes = np.bincount(terms, minlength=m.n_terms)
    common = sizes[terms] > MAX_BLOCK
    found = []
    for lag in range(1, MAX_BLOCK):
        if lag >= len(docs):
            break
        ok = ((terms[lag:] == terms[:-lag]) & (d[lag:] - d[:-lag] <= WINDOW_DAYS)
              & ~common[lag:])
        if not ok.any():
            break
        a, b = docs[:-lag][ok], docs[lag:][ok]
        found.append(np.minimum(a, b) * len(dates) + np.maximum(a, b))
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    codes, counts = np.unique(np.concatenate(found), return_counts=True)
    codes = codes[counts >= MIN_SHARED]
    return codes // len(dates), codes % len(dates)


@dataclass(frozen=True)
class _Who:
    """An article's :func:`entities`, split by kind; words as term ids (cluster) or terms."""

    tickers: frozenset[str]  # in the title
    mentioned: frozenset[str]  # anywhere
    words: frozenset  # name words
    lead: frozenset  # the title's first significant word
    subject: frozenset  # the title's first word that the article names
    kinds: frozenset[str]  # results, dividend
    title: frozenset[str]  # the title's words, stemmed
    figures: frozenset[str]  # the title's numbers
    lead2: frozenset  # the title's first two significant words

    @classmethod
    def of(cls, names: frozenset[str], term: Callable[[str], object | None]) -> _Who:
        kinds: dict[str, list[str]] = defaultdict(list)
        for e in names:  # one pass: by prefix, words without one
            if e[0].isalnum():
                kinds[""].append(e)
            else:
                kinds[e[0]].append(e[1:])
                if e[0] == "$":
                    kinds[""].append(e[1:].lower())

        def terms(prefix: str) -> frozenset:
            return frozenset(t for t in map(term, kinds.get(prefix, ())) if t is not None)
        return cls(frozenset(kinds.get("$", ())),
                   frozenset(kinds.get("$", []) + kinds.get("%", [])),
                   terms(""), terms("^"), terms("&"), frozenset(kinds.get("#", ())),
                   frozenset(kinds.get("~", ())), frozenset(kinds.get("=", ())), terms("@"))


def _rerun(x: _Who, y: _Who, sim: Callable[[], float]) -> bool:
    """True when two articles of different days are one recurring report's, so two events:
    their titles share most words ("BANK OF JAPAN TO SELL 400 BILLION YEN IN BILLS", "SPOT
    TIN EASIER ON EUROPEAN FREE MARKET", "PROPOSED OFFERINGS RECENTLY FILED WITH THE SEC") and
    the texts are not a re-sent item's (cosine ``sim()`` below :data:`RESEND_SIM`)."""
    if len(x.title & y.title) < RERUN_OVERLAP * len(x.title | y.title):
        return False
    return sim() < RESEND_SIM


def _names_agree(x: _Who, terms_x: frozenset, y: _Who, terms_y: frozenset) -> bool:
    """The names rule: False when two articles are about different companies, or are
    different announcements, whatever their wording shares. In order:

    * their titles' tickers are disjoint and neither mentions the other's at all (the
      Chrysler <C> and Piedmont <PIE> downgrades);
    * their titles are announcements of different kinds (results and a dividend);
    * both are announcements of a kind and neither title's opening name is all in the other
      article ("FRANKLIN HIGH YIELD SETS PAYOUT", "FRANKLIN MICHIGAN INSURED SETS PAYOUT");
    * the first title word each article names in its text (its subject) is missing from the
      other ("CME PROPOSES ..." beside "CBT PROPOSES ...");
    * both name someone and neither uses any of the other's names (two borrowers' eurobonds);
    * neither names anyone and neither uses the word the other's title leads with ("PEORIA
      HOGS ..." beside "ST LOUIS HOGS ...").

    A report and the reaction that names it pass: Coca-Cola <KO> denying a bid for Wendy's
    <WEN> mentions Wendy's ticker."""
    if x.tickers and y.tickers and x.tickers.isdisjoint(y.mentioned) \
            and y.tickers.isdisjoint(x.mentioned):
        return False
    if x.kinds and y.kinds and x.kinds.isdisjoint(y.kinds):
        return False
    # Announcements of one kind (results, payouts, bond issues) lead with who makes them.
    if x.kinds and y.kinds and x.lead2 and y.lead2 \
            and not x.lead2 <= terms_y and not y.lead2 <= terms_x:
        return False
    if x.subject and y.subject and x.subject.isdisjoint(terms_y) \
            and y.subject.isdisjoint(terms_x):
        return False
    if x.words and y.words:
        return not x.words.isdisjoint(terms_y) or not y.words.isdisjoint(terms_x)
    if not x.words and not y.words and x.lead and y.lead:
        return not x.lead.isdisjoint(terms_y) or not y.lead.isdisjoint(terms_x)
    return True  # a bare all-caps flash beside a full story: nothing more to go on


class _Names:
    """Each document's tickers and name terms, and the names rule between two documents.

    ``found``: each document's :func:`entities`; ``vocab``: term → id (through ``rank`` when
    given: the matrix's ids are the ranks of the vocabulary's)."""

    def __init__(self, found: Sequence[frozenset[str]], vocab: Mapping[str, int],
                 rank: Sequence[int] | None, dates: np.ndarray, m: _Matrix) -> None:
        n = len(dates)
        self.found = found if len(found) == n else [frozenset()] * n
        self.vocab = vocab
        self.m = m
        self.dates = dates
        self._who: dict[int, _Who] = {}
        self._terms: dict[int, frozenset[int]] = {}
        self._ids: dict[str, int | None] = {}
        self._rank = rank

    @classmethod
    def of(cls, table: TermTable, m: _Matrix) -> _Names:
        return cls(table.names, table.vocab, m.rank.tolist(),
                   np.frombuffer(table.dates, dtype=np.int64), m)

    def term(self, word: str) -> int | None:
        """The term id of ``word``, None if no document has it (remembered: names repeat)."""
        try:
            return self._ids[word]
        except KeyError:
            found_id = self.vocab.get(word)
            if found_id is not None and self._rank is not None:
                found_id = self._rank[found_id]
            self._ids[word] = found_id
            return found_id

    def who(self, d: int) -> _Who:
        """Document d's names, split by kind (made when first asked for: most documents never
        meet a similar one)."""
        found = self._who.get(d)
        if found is None:
            found = self._who[d] = _Who.of(self.found[d], self.term)
        return found

    def terms(self, d: int) -> frozenset[int]:
        found = self._terms.get(d)
        if found is None:
            m = self.m
            found = self._terms[d] = frozenset(m.terms[m.offsets[d]:m.offsets[d + 1]].tolist())
        return found

    def compatible(self, x: int, y: int) -> bool:
        wx, wy = self.who(x), self.who(y)
        if self.dates[x] != self.dates[y] and _rerun(wx, wy, lambda: self.m.pair(x, y)):
            return False
        return _names_agree(wx, self.terms(x), wy, self.terms(y))

    def content_weights(self) -> np.ndarray:
        """Each document's TF-IDF weights with its own names zeroed, renormalised: what the
        article says happened, without who it happened to."""
        m = self.m
        n = len(self.found)
        docs, names = [], []
        term = self.term
        for d, found in enumerate(self.found):
            for e in found:
                word = e if e[0].isalnum() else e[1:].lower() if e[0] == "$" else None
                t = None if word is None else term(word)
                if t is not None:
                    docs.append(d)
                    names.append(t)
        keys = np.array(docs, dtype=np.int64) * (m.n_terms + 1) + np.array(names, dtype=np.int64)
        is_name = np.isin(m.entry_keys, keys)
        w = np.where(is_name, 0.0, m.weights)
        doc_of = np.repeat(np.arange(n), np.diff(m.offsets))
        norms = np.sqrt(np.bincount(doc_of, weights=w * w, minlength=n))
        return w / np.where(norms > 0, norms, 1.0)[doc_of]


def cluster(docs: Sequence[DocTerms] | TermTable) -> dict[str, str]:
    """article id → story id, for the articles that share a story with at least one other."""
    table = docs if isinstance(docs, TermTable) else TermTable.of(docs)
    if len(table) < 2:
        return {}
    m = _matrix(table)
    dates = np.frombuffer(table.dates, dtype=np.int64)
    ids = table.ids
    rep = m.first_copy
    copies = np.flatnonzero(rep != np.arange(len(ids)))
    a, b = _candidate_pairs(m, dates, keep=rep == np.arange(len(ids)))
    names = _Names.of(table, m)
    content_weights = names.content_weights()
    said = _said(names.found)
    same, sims = _passing(m, a, b, dates, said, content_weights)
    same = same[np.argsort(-sims[same], kind="stable")]  # strongest pairs first
    parent = _join(a[same].tolist(), b[same].tolist(), m, names, dates, ids, said,
                   content_weights)
    for d, original in zip(copies.tolist(), rep[copies].tolist(), strict=True):
        parent[d] = original  # a copy joins whatever story its first copy is in
    groups: dict[int, list[int]] = defaultdict(list)
    for d in range(len(ids)):
        groups[_root(parent, d)].append(d)
    stories: dict[str, str] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        earliest = min(group, key=lambda d: (dates[d], ids[d]))
        for d in group:
            stories[ids[d]] = ids[earliest]
    return stories


def _said(found: Sequence[frozenset[str]]) -> np.ndarray:
    """Which documents' titles report what someone said."""
    return np.fromiter(("!" in ns for ns in found), dtype=bool, count=len(found))


def _passing(m: _Matrix, a: np.ndarray, b: np.ndarray, dates: np.ndarray, said: np.ndarray,
             content_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of the candidate pairs (a[i], b[i]), those that pass the similarity rules (cosine,
    content, a bursty shared term across days), and every pair's cosine."""
    shared = _shared(m, a, b) if len(a) else (np.zeros(0, np.int64),) * 3
    sims = _dots(len(a), shared, m.weights)
    content = _dots(len(a), shared, content_weights)
    # Articles of different days must share something that is news in those days.
    bursty = (dates[a] == dates[b]) | (_bursts(m, len(a), shared, dates) >= MIN_BURST)
    # Two statements of different days (what Sumita said on Tuesday and on Friday) are two
    # events unless what was said is news then, not only who said it.
    both = said[a] & said[b] & (dates[a] != dates[b])
    if both.any():
        bursty &= ~both | (_bursts(m, len(a), shared, dates, content_weights) >= MIN_BURST)
    return np.flatnonzero((sims >= THRESHOLD) & (content >= CONTENT_THRESHOLD) & bursty), sims


def _root(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _join(xs: list[int], ys: list[int], m: _Matrix, names: _Names, dates: np.ndarray,
          ids: Sequence[str], said: np.ndarray, content_weights: np.ndarray) -> list[int]:
    """Union–find over the passing pairs (xs[i], ys[i]), strongest first, each merge checked
    by the names rule and the star around the leader: each document's parent (a root: its
    own index)."""
    parent = list(range(len(dates)))
    leader = list(range(len(dates)))
    members = [[d] for d in range(len(dates))]  # of each root
    # A story's tickers: its members' titles' and all they mention (of each root).
    tickers: dict[int, frozenset[str]] = {}
    mentioned: dict[int, frozenset[str]] = {}

    def first(p: int, q: int) -> int:
        return p if (dates[p], ids[p]) <= (dates[q], ids[q]) else q

    def linked(d: int, lead: int) -> bool:
        if m.pair(d, lead) < LEADER_THRESHOLD or not names.compatible(d, lead):
            return False
        if said[d] and said[lead] and dates[d] != dates[lead]:
            return m.pair(d, lead, content_weights) >= STATEMENT_CONTENT
        return True

    for x, y in zip(xs, ys, strict=True):
        rx, ry = _root(parent, x), _root(parent, y)
        if rx == ry or not names.compatible(x, y):
            continue
        for r in (rx, ry):
            if r not in tickers:
                tickers[r], mentioned[r] = names.who(r).tickers, names.who(r).mentioned
        tx, ty = tickers[rx], tickers[ry]
        if tx and ty and tx.isdisjoint(mentioned[ry]) and ty.isdisjoint(mentioned[rx]):
            continue
        # Every member of a story is like its leader (earliest article): the members that
        # were not compared with the merged story's leader yet are now. Plain single-link
        # chaining grew 74-article "stories" out of daily reports where each is like the next.
        lead = first(leader[rx], leader[ry])
        unchecked = members[ry] if lead == leader[rx] else members[rx]
        if not all(d == lead or linked(d, lead) for d in unchecked):
            continue
        if len(members[rx]) < len(members[ry]):
            rx, ry = ry, rx
        parent[ry] = rx
        leader[rx] = lead
        tickers[rx] = tx | ty
        mentioned[rx] = mentioned[rx] | mentioned[ry]
        members[rx] += members[ry]
        members[ry] = []
    return parent


# --- One article at a time -------------------------------------------------------------------

@dataclass
class _Vector:
    """One article as :func:`assign` compares it: what :func:`_matrix` holds for it, from the
    collection's document frequencies."""

    doc: DocTerms
    weights: dict[str, float]
    content: dict[str, float]  # without its own names
    keys: frozenset[str]
    who: _Who


def _vector(doc: DocTerms, df: Mapping[str, int], n_docs: int) -> _Vector:
    distinctive = max(3, int(DISTINCTIVE_DF * n_docs))
    weights = {t: (1.0 + math.log(max(c, 1))) * (math.log((n_docs + 1) / (df.get(t, 0) + 1)) + 1)
               for t, c in doc.tf.items()}
    who = _Who.of(doc.names, lambda w: w if w in weights else None)

    def normalised(w: dict[str, float]) -> dict[str, float]:
        norm = math.sqrt(sum(v * v for v in w.values())) or 1.0
        return {t: v / norm for t, v in w.items()}

    # Ties broken by the term, as _matrix breaks them by the sorted term order.
    ranked = sorted((t for t in weights if 2 <= df.get(t, 0) <= distinctive),
                    key=lambda t: (-weights[t], t))
    return _Vector(doc, normalised(weights),
                   normalised({t: v for t, v in weights.items() if t not in who.words}),
                   frozenset(ranked[:KEY_TERMS]), who)


def _dot(u: dict[str, float], v: dict[str, float]) -> float:
    if len(u) > len(v):
        u, v = v, u
    return sum(w * v[t] for t, w in u.items() if t in v)


def _agree(x: _Vector, y: _Vector) -> bool:
    if x.doc.date != y.doc.date and _rerun(x.who, y.who, lambda: _dot(x.weights, y.weights)):
        return False
    return _names_agree(x.who, frozenset(x.weights), y.who, frozenset(y.weights))


def assign(new: Sequence[DocTerms], window: Sequence[tuple[DocTerms, str]],
           df: Mapping[str, int], n_docs: int, near: Near | None = None) -> dict[str, str]:
    """Story ids for articles added to an index that already has stories, without clustering
    it again: new article id → story id (its own id when it starts a story of its own).

    ``window`` holds the existing articles dated within :data:`WINDOW_DAYS` of the new ones,
    each with its current story id (an article in no story: its own id); ``df`` and ``n_docs``
    are the collection's document frequencies and size, new articles included. A new article
    goes by the rules of :func:`cluster`: an exact same-day copy joins its first copy's story;
    otherwise it joins the story of its most similar window article among those it passes every
    rule with (shared key terms, similarity, content, a bursty shared term across days, names),
    if it is also like that story's leader (the earliest of its articles in the window when the
    leader is older) and its title's tickers are not foreign to the story's. New articles are
    taken in date order, each then part of the window of the next.

    When ``window`` holds only the candidates (the index found them by their shared terms),
    ``near(day, terms)`` gives, for the burst rule, how many articles dated within
    :data:`WINDOW_DAYS` of ``day`` use each of ``terms`` and how many articles that window
    has, over the collection as it is with the new articles (themselves included). It is
    asked at the later date of each pair, as :func:`cluster` measures a burst.

    Story ids stay as they are: an article that turns out earlier than its story's leader (an
    archive loaded late) joins under the story's id, where a full :func:`cluster` would name
    the story after it; links to a story do not break when old articles arrive.
    """
    vectors: list[tuple[_Vector, str]] = [(_vector(d, df, n_docs), s) for d, s in window]
    out: dict[str, str] = {}
    for doc in sorted(new, key=lambda d: (d.date is None, d.date or 0, d.id)):
        vec = _vector(doc, df, n_docs)
        story = _story_of(vec, vectors, df, n_docs, near)
        out[doc.id] = story
        vectors.append((vec, story))
    return out


def _story_of(vec: _Vector, window: list[tuple[_Vector, str]], df: Mapping[str, int],
              n_docs: int, near_of: Near | None = None) -> str:
    doc = vec.doc
    if doc.date is None:
        return doc.id  # undated articles never cluster
    near = [(v, s) for v, s in window
            if v.doc.date is not None and abs(v.doc.date - doc.date) <= WINDOW_DAYS]
    copies = [v.doc.id for v, s in near if v.doc.date == doc.date and v.doc.tf == doc.tf]
    if copies:
        first = min(copies + [doc.id])
        return next(s for v, s in near if v.doc.id == first) if first != doc.id else doc.id
    # How many articles near a date use each term (itself included): a term is news then when
    # much of its use is there. Without ``near_of`` only the window is known, and this
    # article's own date stands in for the pair's later one.
    local: dict[str, int] = defaultdict(lambda: 1)
    if near_of is None:
        for v, _ in near:
            for t in v.doc.tf.keys() & doc.tf.keys():
                local[t] += 1
    distinctive = max(3, int(DISTINCTIVE_DF * n_docs))
    share = (len(near) + 1) / max(1, n_docs)  # of all articles, those near this one's date
    day = doc.date

    def density(other: _Vector, shared: Iterable[str]) -> tuple[Mapping[str, int], float]:
        if near_of is None:
            return local, share
        # cluster() measures the burst at the pair's later date (an archive loaded late can
        # make the new article the earlier one), over the whole collection.
        counts, size = near_of(max(day, other.doc.date or day), shared)
        return counts, size / max(1, n_docs)

    best: list[tuple[float, str, _Vector]] = []
    for v, story in near:
        if len(vec.keys & v.keys) < MIN_SHARED:
            continue
        sim = _dot(vec.weights, v.weights)
        if sim < THRESHOLD or _dot(vec.content, v.content) < CONTENT_THRESHOLD:
            continue
        if v.doc.date != doc.date:
            # Of the statements of two days, what was said must be news, not who said it.
            said = "!" in doc.names and "!" in v.doc.names
            shared = [t for t in doc.tf.keys() & v.doc.tf.keys()
                      if 2 <= df.get(t, 0) <= distinctive
                      and not (said and (t in vec.who.words or t in v.who.words))]
            counts, part = density(v, shared)
            burst = max((counts[t] / df[t] / part for t in shared), default=0.0)
            if burst < MIN_BURST:
                continue
        if _agree(vec, v):
            best.append((sim, story, v))
    for _, story, _ in sorted(best, key=lambda b: (-b[0], b[1])):
        members = [v for v, s in window if s == story]
        tickers = frozenset().union(*(v.who.tickers for v in members))
        mentioned = frozenset().union(*(v.who.mentioned for v in members))
        if (vec.who.tickers and tickers and vec.who.tickers.isdisjoint(mentioned)
                and tickers.isdisjoint(vec.who.mentioned)):
            continue
        leader = next((v for v in members if v.doc.id == story),
                      min(members, key=lambda v: (v.doc.date is None, v.doc.date, v.doc.id)))
        if _dot(vec.weights, leader.weights) < LEADER_THRESHOLD or not _agree(vec, leader):
            continue
        if ("!" in doc.names and "!" in leader.doc.names and leader.doc.date != doc.date
                and _dot(vec.content, leader.content) < STATEMENT_CONTENT):
            continue
        return story
    return doc.id


def hand_on(members: Sequence[tuple[str, int | None]]) -> str:
    """The story id after its leader is deleted: the next earliest of the remaining members
    (id, date ordinal or None), by date then id, as :func:`cluster` names stories; undated
    articles last. A story left with one article is no story any more (``cluster`` lists only
    articles that share one): the caller drops it."""
    if not members:
        raise ValueError("a story with no members left has no id")
    return min(members, key=lambda m: (m[1] is None, m[1] or 0, m[0]))[0]
