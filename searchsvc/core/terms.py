"""Distinctive terms: the words that set a result set apart from the whole archive.

``GET /api/terms`` takes every search parameter. Like Elasticsearch's ``significant_text``
it samples the best :data:`SAMPLE` matches (the foreground), counts in how many of them each
content word occurs, and compares that with the word's document frequency in the whole index
(the background), scoring by **JLH**: ``(fg − bg) · fg / bg`` with ``fg`` and ``bg`` the
word's share of foreground and background articles — a word must be both much more common
here than elsewhere and common here. Words in fewer than :data:`MIN_COUNT` sampled articles,
stop words and the query's own words are left out — every word it has, as a term, in a phrase
or as what a prefix, wildcard or fuzzy clause matches. A word is shown as its most common written
form in the sample (``protesters``, not the stem ``protest``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

from searchsvc import analysis
from searchsvc.core import highlight, querytext
from searchsvc.core.params import SearchQuery
from searchsvc.core.search import filters_of
from searchsvc.engine import EngineRequest, Snapshot

SAMPLE = 200
MIN_COUNT = 3
SIZE = 20


def _asked(parsed: querytext.ParsedQuery) -> Callable[[str, str], bool]:
    """Whether a word (normalised, and its index term) is one the query already has, whatever
    clause holds it: a term, a word of a phrase (also one side of a NEAR), or what a prefix,
    wildcard or fuzzy clause matches — the words its hits are marked for, in either field.
    Offering one of them back as "stands out" would only suggest what was searched."""
    marks = [m for m in highlight.matchers(parsed.text_clauses()).values() if m]
    # An exact phrase marks its words only where the phrase occurs; here each word counts.
    phrased = {t for m in marks for ps in m.phrases.values() for p in ps for t in p}
    return lambda word, term: term in phrased or any(m.matches(word, term) for m in marks)


def distinctive(snapshot: Snapshot, sq: SearchQuery, size: int = SIZE) -> dict:
    parsed = querytext.parse(sq.q)
    sort = "newest" if parsed.match_all and sq.sort == "relevance" else sq.sort
    result = snapshot.search(EngineRequest(
        query=parsed.match, first=parsed.first, filters=filters_of(sq), sort=sort,  # type: ignore[arg-type]
        limit=SAMPLE, collapse=False, rescore=parsed.proximity))
    asked = _asked(parsed)
    docs: Counter = Counter()
    forms: dict[str, Counter] = defaultdict(Counter)
    sampled = 0
    for h in result.hits:
        if h.article is None:
            continue
        sampled += 1
        seen = set()
        for tok in analysis.tokens(f"{h.article.title}\n{h.article.body}"):
            if len(tok.word) < 2 or not tok.word.isalpha() or analysis.is_stop(tok.word):
                continue
            forms[tok.term][tok.word] += 1
            seen.add(tok.term)
        docs.update(seen)
    candidates = [t for t, n in docs.items()
                  if n >= MIN_COUNT and not any(asked(w, t) for w in forms[t])]
    total = max(snapshot.info().documents, 1)
    background = snapshot.doc_freq(candidates) if candidates else {}
    scored = []
    for t in candidates:
        fg = docs[t] / max(sampled, 1)
        bg = max(background.get(t, 0), docs[t]) / total
        if fg <= bg:
            continue
        scored.append(((fg - bg) * fg / bg, t))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return {"query": sq.echo(), "sample": sampled, "documents": total, "terms": [
        {"term": forms[t].most_common(1)[0][0], "stem": t, "score": round(score, 4),
         "count": docs[t], "background": background.get(t, 0)}
        for score, t in scored[:size]]}
