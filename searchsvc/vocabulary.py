"""The spelling vocabulary in memory: words with their document frequencies, and phrases.

Built by the shared ingest (``ingest.collect``), stored by each engine with its generation, and
read back into this one structure, so did-you-mean and suggestions behave the same on every
engine. Words are normalised and unstemmed (``protesters``, never the stem ``protest``), so a
correction or completion is always a word someone wrote.

``phrases`` are frequent runs of two to four words (``bank of england``) that completions
offer when a person has typed the start of one.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

import numpy as np
from whoosh.codec.base import Automata

MIN_PHRASE_COUNT = 2  # a headline phrase seen once is not offered as a completion


def split_phrases(counts: Mapping[str, int]) -> tuple[dict[str, int], list[str]]:
    """(the phrases completions offer, with their counts; the ones seen only once)."""
    frequent = {p: n for p, n in counts.items() if n >= MIN_PHRASE_COUNT}
    once = sorted(p for p, n in counts.items() if 0 < n < MIN_PHRASE_COUNT)
    return frequent, once


def add_counts(counts: Mapping[str, int], delta: Mapping[str, int]) -> dict[str, int]:
    """``counts`` with the signed ``delta`` added; what falls to zero or below is gone."""
    out = dict(counts)
    for key, n in delta.items():
        total = out.get(key, 0) + n
        if total > 0:
            out[key] = total
        else:
            out.pop(key, None)
    return out


class _ListCursor:
    """The term-cursor interface Whoosh's Levenshtein automaton walks, over a sorted list."""

    def __init__(self, words: list[str]):
        self.words = words
        self.i = 0

    def text(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def find(self, term: str) -> None:
        self.i = bisect.bisect_left(self.words, term)


def one_edit(word: str, alphabet: str) -> set[str]:
    """``word`` and every string one insertion, deletion, substitution or swap of two
    neighbouring letters away that keeps its first letter."""
    head, rest = word[0], word[1:]
    splits = [(rest[:i], rest[i:]) for i in range(len(rest) + 1)]
    found = {word}
    found.update(head + a + b[1:] for a, b in splits if b)
    found.update(head + a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    found.update(head + a + c + b[1:] for a, b in splits if b for c in alphabet)
    found.update(head + a + c + b for a, b in splits for c in alphabet)
    return found


class MemoryVocabulary:
    def __init__(self, words: Mapping[str, int], phrases: Mapping[str, int] | None = None):
        self._df = dict(words)
        self._words = sorted(self._df)
        self._phrases = dict(phrases or {})
        self._phrase_keys = sorted(self._phrases)
        self._alphabet: str | None = None
        # Frequencies aligned with the sorted words, made with them (on opening, not in the
        # first search that needs a correction two edits away).
        self._df_sorted = np.fromiter((self._df[w] for w in self._words), np.int32,
                                      count=len(self._words))
        self._memos: dict[str, dict] = {}

    def memo(self, name: str) -> dict:
        """A dictionary that lives as long as this vocabulary (what is derived from it)."""
        return self._memos.setdefault(name, {})

    def df(self, word: str) -> int:
        return self._df.get(word, 0)

    def __len__(self) -> int:
        return len(self._df)

    def words(self) -> Mapping[str, int]:
        return self._df

    def phrase_counts(self) -> Mapping[str, int]:
        return self._phrases

    def similar(self, word: str, distance: int, min_df: int = 1) -> list[str]:
        if not word:
            return []
        if distance == 1:
            # Every string one edit away, looked up: a few hundred set lookups instead of
            # walking Whoosh's pure-Python automaton (~1 ms a word).
            return sorted(w for w in one_edit(word, self.alphabet())
                          if self._df.get(w, 0) >= max(min_df, 1))
        dfa = Automata.levenshtein_dfa(word, distance, prefix=1)
        return [w for w in Automata.find_matches(dfa, _ListCursor(self._at_least(min_df)))
                if self._df[w] >= min_df]

    def _at_least(self, min_df: int) -> list[str]:
        """The sorted words in at least ``min_df`` articles, or a few more: the threshold is
        rounded down to a power of two, so a handful of lists serve every threshold. A
        correction two edits away must be thousands of times more common than the word
        typed, and walking only those words instead of a million-article vocabulary took
        a rare word's did-you-mean from ~10 ms to well under one."""
        if min_df <= 1:
            return self._words
        tier = 1 << (min_df.bit_length() - 1)
        memo = self.memo("at least")
        if tier not in memo:
            memo[tier] = [self._words[i]
                          for i in np.flatnonzero(self._df_sorted >= tier).tolist()]
        return memo[tier]

    def alphabet(self) -> str:
        if self._alphabet is None:
            self._alphabet = "".join(sorted(set("".join(self._words))))
        return self._alphabet

    def completions(self, prefix: str, limit: int) -> list[str]:
        start = bisect.bisect_left(self._words, prefix)
        end = bisect.bisect_left(self._words, prefix + "\uffff")
        found = self._words[start:end]
        found.sort(key=lambda w: (-self._df[w], w))
        return found[:limit]

    def phrases(self, prefix: str, limit: int) -> list[tuple[str, int]]:
        start = bisect.bisect_left(self._phrase_keys, prefix)
        end = bisect.bisect_left(self._phrase_keys, prefix + "\uffff")
        found = [(p, self._phrases[p]) for p in self._phrase_keys[start:end]]
        found.sort(key=lambda item: (-item[1], item[0]))
        return found[:limit]
