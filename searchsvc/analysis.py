"""Text analysis: how article text and query text become index terms. Shared by every engine.

One analysis, used at index time, at query time, for highlighting, spelling and stories, so a
word is found, marked and corrected by the same rules everywhere:

1. **Tokens** are runs of letters and digits (any script). A few forms people search for keep
   their meaning:

   * dotted acronyms are one token without the dots: ``U.S.`` → ``us``, ``e.g.`` → ``eg``
     (Lucene's classic tokenizer does the same);
   * numbers keep a decimal point and drop thousands separators: ``1.5``, ``1,000`` → ``1000``;
   * an apostrophe inside a word joins it, and a possessive ``'s`` is dropped:
     ``don't`` → ``dont``, ``Poland's`` → ``poland``;
   * currency signs are tokens of their own (``$5`` is ``$`` then ``5``);
   * anything else (``-``, ``&``, ``/``, …) separates tokens, so ``G-7`` is ``g`` then ``7`` at
     consecutive positions. A query word that analyses into several tokens is searched as the
     phrase of them (``G-7``, ``AT&T``, ``10-K``), which finds exactly the articles that wrote it.

2. **Folding**: lower case, and accents removed as Elasticsearch's ``asciifolding`` does
   (``café`` → ``cafe``, ``Straße`` → ``strasse``). Highlighting still marks the original text.

3. **Stemming**: the Porter stemmer (``protesters`` → ``protest``).

4. **Stop words stay in the index** with their positions, so ``it``, ``the who`` and phrases such
   as ``"bank of england"`` match what was written. Whether a query's stop word is required or
   only counts towards the score is decided at query time (``core.querytext``); :func:`is_stop`
   is the list it uses.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from whoosh.analysis import STOP_WORDS as _WHOOSH_STOP_WORDS
from whoosh.lang.porter import stem as _porter_stem

# One alternation, tried in this order at each position (see the module docstring).
TOKEN_PATTERN = re.compile(
    r"[^\W\d_](?:\.[^\W\d_])+\.?"          # U.S.  U.S  e.g.
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"        # 1,000  12,345.6
    r"|\d+(?:\.\d+)+"                       # 1.5  3.14.2
    r"|[^\W_]+(?:['’][^\W_]+)*"             # words, don't, Poland's
    r"|[$€£¥]"                              # currency signs
)
CURRENCY = frozenset("$€£¥")
STOP_WORDS: frozenset[str] = frozenset(_WHOOSH_STOP_WORDS)
# Letters that NFKD does not decompose into a base letter and a mark (asciifolding's table).
_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d",
                          "þ": "th", "ð": "d", "ı": "i", "ŀ": "l", "ħ": "h", "ŧ": "t"})
_CACHE_LIMIT = 500_000
_CLITIC = re.compile(r"'(?:s|d|m|re|ve|ll)$")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _porter_stem(word)


def fold(text: str) -> str:
    """Lower case without accents: ``Café`` → ``cafe``."""
    low = text.lower()
    if low.isascii():
        return low
    low = low.translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", low)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(token: str) -> str:
    """A token as the index holds it before stemming (folded, dots and separators resolved)."""
    word = fold(token)
    if "." in word and not word[0].isdigit():
        return word.replace(".", "")                       # an acronym
    if "," in word:
        return word.replace(",", "")                       # thousands separators
    if "'" in word or "’" in word:
        word = _CLITIC.sub("", word.replace("’", "'"))
        return word.replace("'", "")
    return word


# token as written → (normalised word, index term). Words repeat enormously across a corpus,
# so one dictionary lookup per token replaces folding, normalising and stemming.
_TERMS: dict[str, tuple[str, str]] = {}


def term_of(token: str) -> tuple[str, str]:
    """(normalised word, index term) of one token as :data:`TOKEN_PATTERN` finds it."""
    found = _TERMS.get(token)
    if found is None:
        word = normalize(token)
        found = (word, stem(word) if word not in STOP_WORDS else word)
        if len(_TERMS) >= _CACHE_LIMIT:
            _TERMS.clear()
        _TERMS[token] = found
    return found


def is_stop(word: str) -> bool:
    """A normalised word that carries little meaning on its own (``the``, ``of``, ``it``)."""
    return word in STOP_WORDS


def term(token: str) -> str:
    """The index term of one token (as :data:`TOKEN_PATTERN` finds it)."""
    return term_of(token)[1]


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order (position = index in the list)."""
    get = _TERMS.get
    out = []
    for token in TOKEN_PATTERN.findall(text):
        found = get(token) or term_of(token)
        out.append(found[1])
    return out


def positions(text: str) -> dict[str, list[int]]:
    """term → its positions in ``text`` (what a positional index stores)."""
    poses: dict[str, list[int]] = defaultdict(list)
    for pos, t in enumerate(terms(text)):
        poses[t].append(pos)
    return poses


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str      # as written
    word: str      # normalised, unstemmed
    term: str      # the index term

    @property
    def acronym(self) -> bool:
        return "." in self.text and not self.text[0].isdigit()


def tokens(text: str) -> Iterator[Token]:
    """Every token of ``text`` with its character span (highlighting, query parsing)."""
    for m in TOKEN_PATTERN.finditer(text):
        raw = m.group(0)
        word, t = term_of(raw)
        yield Token(m.start(), m.end(), raw, word, t)


def analyze(text: str) -> tuple[dict[str, list[int]], set[str]]:
    """One pass over ``text`` for indexing: term → positions, and the distinct spelling words
    (normalised, unstemmed, alphabetic, at least two letters: what did-you-mean may offer)."""
    get = _TERMS.get
    poses: dict[str, list[int]] = defaultdict(list)
    words: set[str] = set()
    for pos, token in enumerate(TOKEN_PATTERN.findall(text)):
        word, t = get(token) or term_of(token)
        poses[t].append(pos)
        words.add(word)
    return poses, {w for w in words if len(w) > 1 and w.isalpha()}


def content_counts(poses: dict[str, list[int]]) -> dict[str, int]:
    """Term counts without stop words, one-letter terms and currency signs: what tells two
    articles' subjects apart (story clustering, distinctive terms)."""
    return {t: len(p) for t, p in poses.items()
            if len(t) > 1 and t not in STOP_WORDS}


def spelling_words(text: str) -> set[str]:
    """The distinct spelling words of ``text`` (see :func:`analyze`)."""
    return analyze(text)[1]


def word_counts(texts: list[str]) -> Counter:
    """Document frequency of every spelling word over ``texts`` (one count per text)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(spelling_words(text))
    return counts
