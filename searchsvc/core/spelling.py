"""Did-you-mean and search-box suggestions, from the engine's spelling vocabulary.

**Did you mean.** A plain word of the query (letters only, three or more) is corrected to a
word one edit away (two if there is none), with the same first letter, taken from the
*unstemmed* vocabulary — so ``interst`` becomes ``interest``, never the stem-mate
``interstate``. Whether a known word is a typo is a noisy-channel judgement: the correction
must be more common than the word typed by at least the inverse of how likely that slip is —
:data:`LIKELY` times for a dropped or doubled letter or a neighbouring key, :data:`UNLIKELY`
times for any other substitution or two edits (an unknown word needs a correction in at least
:data:`MIN_DF` articles). So ``goverment`` in 9 articles becomes ``government`` in thousands,
while ``cafe`` is not "corrected" to ``case`` nor ``rated`` to ``rates``. No word of a pasted
passage is corrected: when a query of three or more words is found, every word as typed, in one
of its top hits, it was copied from that article. The correction is offered only if the
corrected query finds more articles.

**Suggestions.** Completions of what has been typed — first frequent headline phrases that
start with it (``bank of eng`` → ``bank of england``), then completions of its last word,
each most frequent first — then headlines of articles that contain the words (each with its
id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from markupsafe import escape

from searchsvc import analysis
from searchsvc.core import querytext
from searchsvc.engine import EngineRequest, Query, Snapshot
from searchsvc.errors import QueryTooExpensive

LIKELY = 50
UNLIKELY = 2000
MIN_DF = 3
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEYS = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
MIN_LENGTH = 3
PASTED_WORDS = 3
_LETTERS = re.compile(r"[^\W\d_]+")


def _count(snapshot: Snapshot, query: Query | None, filters: dict[str, Query]) -> int:
    return snapshot.search(EngineRequest(query=query, filters=filters, limit=0,
                                         collapse=False, fields=False)).total


def correction(snapshot: Snapshot, parsed: querytext.ParsedQuery,
               filters: dict[str, Query], total: int, top: Sequence[str]) -> dict | None:
    """``{"q", "html", "total"}`` for a likely misspelling whose correction finds more."""
    if parsed.match_all or not parsed.words:
        return None
    vocabulary = snapshot.vocabulary()
    documents = snapshot.info().documents
    fixes: dict[tuple[int, int], str] = {}
    for w in parsed.words:
        if len(w.word) < MIN_LENGTH or not w.word.isalpha():
            continue
        fixed = _correct(vocabulary, w.word, documents)
        if fixed:
            fixes[(w.start, w.end)] = fixed
    if not fixes:
        return None
    if len(parsed.words) >= PASTED_WORDS and _pasted(snapshot, parsed, top):
        return None
    text = parsed.text
    plain, html, last = [], [], 0
    for (start, end), word in sorted(fixes.items()):
        plain += [text[last:start], word]
        html += [str(escape(text[last:start])), f"<mark>{escape(word)}</mark>"]
        last = end
    corrected = "".join(plain + [text[last:]])
    found = _count(snapshot, querytext.parse(corrected).match, filters)
    if found <= total:
        return None
    return {"q": corrected, "html": "".join(html + [str(escape(text[last:]))]), "total": found}


def _neighbours(a: str, b: str) -> bool:
    ka, kb = _KEYS.get(a), _KEYS.get(b)
    return ka is not None and kb is not None and abs(ka[0] - kb[0]) <= 1 and abs(
        ka[1] - kb[1]) <= 1


def slip_ratio(typed: str, meant: str) -> int:
    """How many times more common ``meant`` must be for ``typed`` to be a slip of it."""
    if abs(len(typed) - len(meant)) == 1:
        short, long_ = sorted((typed, meant), key=len)
        dropped = any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))
        return LIKELY if dropped else UNLIKELY
    if len(typed) != len(meant):
        return UNLIKELY
    diffs = [i for i, (a, b) in enumerate(zip(typed, meant, strict=True)) if a != b]
    if len(diffs) == 1 and _neighbours(typed[diffs[0]], meant[diffs[0]]):
        return LIKELY
    if len(diffs) == 2 and diffs[1] == diffs[0] + 1 and typed[diffs[0]] == meant[diffs[1]] \
            and typed[diffs[1]] == meant[diffs[0]]:
        return LIKELY  # two neighbouring letters swapped: "teh"
    return UNLIKELY


def _correct(vocabulary, word: str, documents: int) -> str | None:
    # Remembered per vocabulary: search-as-you-type asks again at every keystroke, and two
    # edits away walks Whoosh's pure-Python automaton over the vocabulary (~8 ms a word).
    cache = vocabulary.memo("corrections")
    if word not in cache:
        if len(cache) > 10_000:
            cache.clear()
        cache[word] = _find_correction(vocabulary, word, documents)
    return cache[word]


def _find_correction(vocabulary, word: str, documents: int) -> str | None:
    df = vocabulary.df(word)
    for distance, ratio in ((1, LIKELY), (2, UNLIKELY)):
        if ratio * df > documents:
            return None  # no word can be that much more common: nothing to look for
        # Only words that much more common can be a correction: asking for those alone
        # spares walking the whole vocabulary two edits away. Every LIKELY slip (a dropped,
        # doubled or neighbouring letter, a swap) is one edit away and was looked for first,
        # so two edits away a correction must be UNLIKELY times as common.
        near = vocabulary.similar(word, distance, max(ratio * df, MIN_DF))
        candidates = [c for c in near if c != word
                      and vocabulary.df(c) >= max(slip_ratio(word, c) * df, MIN_DF)]
        if candidates:
            return max(candidates, key=lambda c: (vocabulary.df(c), c))
    return None


def _pasted(snapshot: Snapshot, parsed: querytext.ParsedQuery, top: Sequence[str]) -> bool:
    """Is every word of the query, as typed, in one of its top hits?"""
    wanted = {w.word for w in parsed.words}
    for article in snapshot.documents(list(top)):
        if article is None:
            continue
        words = {analysis.term_of(t)[0]
                 for t in analysis.TOKEN_PATTERN.findall(f"{article.title}\n{article.body}")}
        if wanted <= words:
            return True
    return False


# -- suggestions -----------------------------------------------------------------------------


def suggest(snapshot: Snapshot, prefix: str, limit: int = 8) -> list[dict]:
    """``[{"text", "kind": "completion"|"article", "id"?}]`` for a search box."""
    text = " ".join(prefix.split())
    if not text:
        return []
    toks = list(analysis.tokens(text))
    if not toks:
        return []
    vocabulary = snapshot.vocabulary()
    words = [t.word for t in toks]
    ends_in_word = text[-1].isalnum()
    typed = " ".join(words) if ends_in_word else " ".join(words) + " "
    # Phrases of headlines that continue what was typed, most frequent first; then the last
    # word completed from the vocabulary (most common first).
    phrases = [p for p, _ in vocabulary.phrases(typed, limit) if p != typed.strip()]
    words_done: list[str] = []
    if ends_in_word and words[-1].isalnum():
        head = " ".join(words[:-1])
        for word in vocabulary.completions(words[-1], limit):
            completed = f"{head} {word}".strip()
            if completed != typed and completed not in phrases:
                words_done.append(completed)
    completions = [{"text": t, "kind": "completion"} for t in phrases + words_done]
    # A few places are kept for headlines, which open the article itself; the places
    # headlines do not fill go back to completions.
    room = limit - min(2, limit // 3)
    headlines: list[dict] = []
    if len(completions[:room]) < limit and words:
        query = " ".join(words[:-1] + [words[-1] + "*"]) if ends_in_word else " ".join(words)
        parsed = querytext.parse(query)
        if not parsed.match_all:
            match = parsed.first if parsed.first is not None else parsed.match
            try:
                found = snapshot.search(EngineRequest(query=match, limit=limit * 2,
                                                      collapse=True))
            except QueryTooExpensive:  # an expansion too wide for a search box: no titles
                found = None
            seen = {item["text"] for item in completions[:room]}
            wanted = limit - len(completions[:room])
            for h in found.hits if found else []:
                title = h.article.title if h.article else ""
                if title and title not in seen and len(headlines) < wanted:
                    headlines.append({"text": title, "kind": "article", "id": h.id})
                    seen.add(title)
    return completions[: limit - len(headlines)] + headlines
