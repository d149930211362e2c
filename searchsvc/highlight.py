"""Snippets and ``title_html``: matched words in ``<mark>``, everything else escaped.

A word is a match when its stem is one of the query's terms for that field, so ``protester``
marks "protesters" and "Protester's" alike. Text is analysed with the same tokenizer and stemmer
as the index (``schema``), but only the spans of the text that become snippets are escaped and
assembled, and a long article is scanned once, so a 1 MB article highlights in tens of
milliseconds.

Snippet choice: windows of about :data:`WINDOW` characters centred on matches, scored by how
many *distinct* terms they contain, then by how rare those terms are in the article; best
three that do not overlap, shown in document order and cut at word boundaries. With no match
(empty or filter-only query), the snippet is the article's opening.
"""

from __future__ import annotations

from collections.abc import Collection

from markupsafe import escape

from searchsvc.schema import TOKEN_PATTERN, stem

WINDOW = 180
MAX_SNIPPETS = 3
MAX_MATCHES_PER_TERM = 200
OPENING = 240


def _matches(text: str, terms: Collection[str]) -> list[tuple[int, int, str]]:
    """(start, end, term) of every word of ``text`` whose stem is in ``terms``."""
    found = []
    if not terms:
        return found
    seen: dict[str, int] = {}
    for m in TOKEN_PATTERN.finditer(text):
        word = m.group(0).lower()
        term = stem(word)
        if term in terms or word in terms:
            # The whole text is scanned (a rare term may come late), but a common term's
            # matches are capped so a huge article stays cheap to assemble.
            count = seen.get(term, 0)
            if count < MAX_MATCHES_PER_TERM:
                seen[term] = count + 1
                found.append((m.start(), m.end(), term))
    return found


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


def highlight_all(text: str, terms: Collection[str]) -> str:
    """The whole text, escaped, with every match marked (titles, the article page)."""
    return mark(text, _matches(text, terms))


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


def snippets(text: str, terms: Collection[str], limit: int = MAX_SNIPPETS) -> list[str]:
    """Up to ``limit`` highlighted fragments of ``text``; the opening when nothing matches."""
    spans = _matches(text, terms)
    if not spans:
        return [opening(text)] if text.strip() else []
    # A rare term's match weighs more than another match of a common one, so the snippets show
    # every query word that occurs, not three views of the most frequent one.
    frequency: dict[str, int] = {}
    for _, _, t in spans:
        frequency[t] = frequency.get(t, 0) + 1
    windows = []
    for i, (s, e, _) in enumerate(spans):
        centre = (s + e) // 2
        lo = max(0, centre - WINDOW // 2)
        hi = min(len(text), lo + WINDOW)
        lo = max(0, hi - WINDOW)
        inside = {t for a, b, t in spans[max(0, i - 50): i + 50] if a >= lo and b <= hi}
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
