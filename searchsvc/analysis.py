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


class _Cache(dict):
    """token as written → what ``of`` makes of it. Words repeat enormously across a corpus, so
    one dictionary lookup per token replaces folding, normalising and stemming; and a miss is
    filled in here, so a whole text is looked up with ``map`` (no Python call per token)."""

    def __init__(self, of) -> None:
        super().__init__()
        self.of = of

    def __missing__(self, token: str):
        if len(self) >= _CACHE_LIMIT:  # bounded whatever the vocabulary
            self.clear()
        value = self[token] = self.of(token)
        return value


def _word_and_term(token: str) -> tuple[str, str]:
    word = normalize(token)
    return word, (stem(word) if word not in STOP_WORDS else word)


def _spelling_word(token: str) -> str:
    word = _TERMS[token][0]
    return word if len(word) > 1 and word.isalpha() else ""


_TERMS = _Cache(_word_and_term)    # token → (normalised word, index term)
_TERM = _Cache(lambda token: _TERMS[token][1])  # token → index term
_SPELLING = _Cache(_spelling_word)  # token → its spelling word, or "" (see analyze)


def term_of(token: str) -> tuple[str, str]:
    """(normalised word, index term) of one token as :data:`TOKEN_PATTERN` finds it."""
    return _TERMS[token]


def is_stop(word: str) -> bool:
    """A normalised word that carries little meaning on its own (``the``, ``of``, ``it``)."""
    return word in STOP_WORDS


def term(token: str) -> str:
    """The index term of one token (as :data:`TOKEN_PATTERN` finds it)."""
    return term_of(token)[1]


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order (position = index in the list)."""
    return list(map(_TERM.__getitem__, TOKEN_PATTERN.findall(text)))


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


def analyze(text: str) -> tuple[list[str], set[str]]:
    """One pass over ``text`` for indexing: its index terms in order (a term's positions are
    its indexes in the list), and the distinct spelling words (normalised, unstemmed,
    alphabetic, at least two letters: what did-you-mean may offer)."""
    found = TOKEN_PATTERN.findall(text)
    words = set(map(_SPELLING.__getitem__, found))
    words.discard("")
    return list(map(_TERM.__getitem__, found)), words


def content_counts(terms: list[str]) -> dict[str, int]:
    """Term counts without stop words, one-letter terms and currency signs: what tells two
    articles' subjects apart (story clustering, distinctive terms). ``terms`` as
    :func:`terms` gives them."""
    return {t: n for t, n in Counter(terms).items() if len(t) > 1 and t not in STOP_WORDS}


def spelling_words(text: str) -> set[str]:
    """The distinct spelling words of ``text`` (see :func:`analyze`)."""
    return analyze(text)[1]


def word_counts(texts: list[str]) -> Counter:
    """Document frequency of every spelling word over ``texts`` (one count per text)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(spelling_words(text))
    return counts
