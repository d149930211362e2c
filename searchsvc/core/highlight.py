"""Snippets and ``title_html``: matched words in ``<mark>``, everything else escaped.

A word of the text is a match when the query's clauses would match its index term: the same
term (``protester`` marks "protesters" and "Protester's" alike, ``cafe`` marks "café"), the
start of it for ``prefix*``, the pattern for ``wo?d``, a few edits of it for ``word~``. The
text is analysed with the same tokenizer and normaliser as the index (``analysis``), so this
needs nothing from the engine, and only the spans that become snippets are escaped and
assembled: a long article is scanned once, and a 1 MB article highlights in tens of ms.

Snippet choice: windows of about :data:`WINDOW` characters centred on matches, scored by how
many *distinct* terms they contain, then by how rare those terms are in the article; best
three that do not overlap, shown in document order and cut at word boundaries. With no match
(empty or filter-only query), the snippet is the article's opening.
"""

from __future__ import annotations

import bisect
import fnmatch
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import escape

from searchsvc.analysis import TOKEN_PATTERN, is_stop, term_of
from searchsvc.engine import Fuzzy, Near, Phrase, Prefix, Query, Term, Wildcard

WINDOW = 180
MAX_SNIPPETS = 3
MAX_MATCHES_PER_TERM = 200
OPENING = 240
_WHOLE = operator.methodcaller("group")


def _within(a: str, b: str, limit: int) -> bool:
    """Levenshtein distance of ``a`` and ``b`` is at most ``limit`` (banded, early exit)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (ca != cb))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


@dataclass
class Matcher:
    """Which index terms of one field the query's clauses match."""

    terms: set[str] = field(default_factory=set)
    prefixes: tuple[str, ...] = ()
    patterns: tuple[re.Pattern, ...] = ()
    fuzzy: tuple[tuple[str, int, int], ...] = ()
    # Exact phrases, by their last term: their words are marked where the phrase occurs,
    # not everywhere ("of" in "bank of england").
    phrases: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    _seen: dict[tuple[str, str], bool] = field(default_factory=dict)
    # Tokens as written already judged, and the index terms of those accepted: one search
    # highlights ten titles and bodies with one matcher, and their words repeat.
    _judged: set[str] = field(default_factory=set)
    _accepted: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.terms or self.prefixes or self.patterns or self.fuzzy
                    or self.phrases)

    def matches(self, word: str, term: str) -> bool:
        if term in self.terms:
            return True
        if not (self.prefixes or self.patterns or self.fuzzy):
            return False
        key = (word, term)
        found = self._seen.get(key)
        if found is None:
            found = (any(term.startswith(p) or word.startswith(p) for p in self.prefixes)
                     or any(p.fullmatch(term) or p.fullmatch(word) for p in self.patterns)
                     or any(term[:n] == text[:n] and _within(term, text, d)
                            for text, d, n in self.fuzzy))
            self._seen[key] = found
        return found


def matchers(clauses: Sequence[Query]) -> dict[str, Matcher]:
    """field → :class:`Matcher` for ``title`` and ``body`` from the query's text clauses."""
    out = {"title": Matcher(), "body": Matcher()}
    for q in clauses:
        if isinstance(q, Near):
            for side in (q.left, q.right):
                _add(out, side)
        else:
            _add(out, q)
    return out


def _add(out: dict[str, Matcher], q: Query) -> None:
    fld = getattr(q, "field", None)
    fields = [fld] if isinstance(fld, str) and fld in out else list(out)
    for name in fields:
        m = out[name]
        if isinstance(q, Term):
            m.terms.add(q.text)
        elif isinstance(q, Phrase) and not q.slop:
            m.phrases.setdefault(q.terms[-1], []).append(q.terms)
        elif isinstance(q, Phrase):  # sloppy: its words, wherever they are
            m.terms.update(t for t in q.terms if not is_stop(t))
        elif isinstance(q, Prefix):
            m.prefixes += (q.text,)
        elif isinstance(q, Wildcard):
            m.patterns += (re.compile(fnmatch.translate(q.pattern)),)
        elif isinstance(q, Fuzzy):
            m.fuzzy += ((q.text, q.distance, q.prefix),)


def _matches(text: str, matcher: Matcher | None) -> list[tuple[int, int, str]]:
    """(start, end, term) of every word of ``text`` the matcher accepts.

    The text is cut into tokens by the regex engine in one go, and each *distinct* token is
    analysed and judged once: an article says "the" and "said" dozens of times, so a loop
    over every token in Python (analyse, judge, record) was most of a page's highlighting."""
    if not matcher:
        return []
    found = list(TOKEN_PATTERN.finditer(text))
    raw: list[str] = list(map(_WHOLE, found))
    distinct = set(raw)
    for token in distinct - matcher._judged:
        word, t = term_of(token)
        if matcher.matches(word, t):
            matcher._accepted[token] = t
    matcher._judged |= distinct
    accepted = distinct & matcher._accepted.keys()
    term = matcher._accepted
    phrases = matcher.phrases
    ends: dict[int, list[tuple[str, ...]]] = {}
    terms: list[str] = []
    if phrases:
        term = {token: term_of(token)[1] for token in distinct}
        terms = [term[token] for token in raw]
        for i in [i for i, t in enumerate(terms) if t in phrases]:
            ends[i] = [p for p in phrases[terms[i]]
                       if len(p) <= i + 1 and tuple(terms[i + 1 - len(p): i + 1]) == tuple(p)]
    chosen: dict[int, int] = {}  # token index → its place among the matches
    seen: dict[str, int] = {}

    def add(i: int) -> None:
        # The whole text is scanned (a rare term may come late), but a common term's
        # matches are capped so a huge article stays cheap to assemble.
        t = term[raw[i]]
        count = seen.get(t, 0)
        if count < MAX_MATCHES_PER_TERM and i not in chosen:
            seen[t] = count + 1
            chosen[i] = len(chosen)

    hits = [i for i, token in enumerate(raw) if token in accepted]
    for i in sorted(set(hits).union(ends)) if ends else hits:
        for phrase in ends.get(i, ()):
            for k in range(i + 1 - len(phrase), i + 1):
                add(k)
        if raw[i] in accepted:
            add(i)
    return [(found[i].start(), found[i].end(), term[raw[i]]) for i in sorted(chosen)]


def mark(text: str, spans: list[tuple[int, int, str]], start: int = 0,
         end: int | None = None) -> str:
    """Escape ``text[start:end]`` and wrap the given spans in ``<mark>``."""
    end = len(text) if end is None else end
    out = []
    pos = start
    for s, e, _ in spans:
        if s < start or e > end:
            continue
        out.append(str(escape(text[pos:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(str(escape(text[pos:end])))
    return "".join(out)


def highlight_all(text: str, matcher: Matcher | None) -> str:
    """The whole text, escaped, with every match marked (titles, the article page)."""
    return mark(text, _matches(text, matcher))


def _cut_left(text: str, pos: int) -> int:
    """Move ``pos`` forward to the start of a word (never into the middle of one)."""
    if pos <= 0:
        return 0
    space = text.find(" ", pos, pos + 30)
    return space + 1 if space != -1 else pos


def _cut_right(text: str, pos: int) -> int:
    if pos >= len(text):
        return len(text)
    space = text.rfind(" ", pos - 30, pos)
    return space if space != -1 else pos


def opening(text: str, length: int = OPENING) -> str:
    """The start of the text as a snippet (escaped), cut at a word boundary."""
    flat = text[: length * 2]
    end = _cut_right(flat, length) if len(flat) > length else len(flat)
    snippet = " ".join(flat[:end].split())
    return str(escape(snippet)) + (" …" if end < len(text) else "")


def snippets(text: str, matcher: Matcher | None, limit: int = MAX_SNIPPETS) -> list[str]:
    """Up to ``limit`` highlighted fragments of ``text``; the opening when nothing matches."""
    spans = _matches(text, matcher)
    if not spans:
        return [opening(text)] if text.strip() else []
    # A rare term's match weighs more than another match of a common one, so the snippets show
    # every query word that occurs, not three views of the most frequent one.
    frequency: dict[str, int] = {}
    for _, _, t in spans:
        frequency[t] = frequency.get(t, 0) + 1
    windows = []
    # Spans do not overlap, so their starts and ends both ascend: the spans inside a window
    # are a run found by bisection (at most 50 either side of its own, as always).
    starts = [a for a, _, _ in spans]
    ends = [b for _, b, _ in spans]
    for i, (s, e, _) in enumerate(spans):
        centre = (s + e) // 2
        lo = max(0, centre - WINDOW // 2)
        hi = min(len(text), lo + WINDOW)
        lo = max(0, hi - WINDOW)
        first = max(i - 50, bisect.bisect_left(starts, lo, 0, i + 1))
        last = min(i + 50, bisect.bisect_right(ends, hi, i))
        inside = {t for _, _, t in spans[first:last]}
        rarity = sum(1 / frequency[t] for t in inside)
        windows.append((len(inside), rarity, -s, lo, hi))
    windows.sort(reverse=True)
    chosen: list[tuple[int, int]] = []
    for *_, lo, hi in windows:
        if all(hi <= a or lo >= b for a, b in chosen):
            chosen.append((lo, hi))
            if len(chosen) == limit:
                break
    out = []
    for lo, hi in sorted(chosen):
        a, b = _cut_left(text, lo), _cut_right(text, hi)
        body = " ".join(mark(text, spans, a, b).split())
        out.append(("… " if a > 0 else "") + body + (" …" if b < len(text) else ""))
    return out
