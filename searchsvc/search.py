"""The search core: a :class:`SearchQuery` in, plain dataclasses out. No Flask here.

``search()`` runs the whole search page's work (contract §3):

1. parse the query text (``IndexView.parse``) and compute the exact set of matching documents;
2. intersect it with the date and facet filters (column masks) → ``total``;
3. rank: by BM25F within tiers (all words, then any word) or by date, and cut the page;
4. facet counts for every facet, each ignoring its own filter (multi-select), and the date
   histogram (which likewise ignores the from/to filter and marks the selected range);
5. snippets and ``title_html`` for the page's hits only; did-you-mean when a word looks
   misspelt and its correction would find more.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from markupsafe import escape

from searchsvc import highlight
from searchsvc.errors import InvalidParameter, NotFound
from searchsvc.query import FACETS, SearchQuery
from searchsvc.searcher import IndexView, ParsedQuery

FACET_SIZE = 20
RARE = 5  # words in at least this many articles are never "corrected"


@dataclass
class Hit:
    id: str
    date: str | None
    title: str
    title_html: str
    score: float | None
    snippets: list[str]
    url: str
    source: str | None
    topics: list[str]
    places: list[str]
    people: list[str]
    orgs: list[str]
    story: dict | None = None


@dataclass
class SearchResult:
    """``total`` and every facet count count articles; ``total_stories`` counts the stories
    they belong to, which is what the hits list when ``collapse`` is on."""

    query: dict
    total: int
    total_stories: int
    took_ms: float
    hits: list[Hit]
    facets: dict
    did_you_mean: dict | None = None

    def to_dict(self) -> dict:
        # Shallow: a result is built per request and only serialised. dataclasses.asdict
        # deep-copied every hit and facet bucket, ~1 ms of a 10 ms request.
        out = dict(self.__dict__)
        out["hits"] = [dict(h.__dict__) for h in self.hits]
        return out


@dataclass
class Article:
    id: str
    date: str | None
    title: str
    body: str
    url: str
    source: str | None
    topics: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def article_url(article_id: str) -> str:
    from urllib.parse import quote

    return "/articles/" + quote(article_id, safe="/")


def _facet_values(view: IndexView, docnum: int) -> dict[str, list[str]]:
    out = {}
    for name, col in view.columns.facets.items():
        lo, hi = np.searchsorted(col.entry_doc, [docnum, docnum + 1])
        out[name] = [col.values[v] for v in col.entry_val[lo:hi].tolist()]
    return out


def _date_of(view: IndexView, docnum: int) -> str | None:
    ordinal = int(view.columns.date[docnum])
    return dt.date.fromordinal(ordinal).isoformat() if ordinal > 0 else None


def make_hit(view: IndexView, docnum: int, score: float | None, parsed: ParsedQuery | None,
             ) -> Hit:
    stored = view.stored(docnum)
    facets = _facet_values(view, docnum)
    terms = parsed.terms if parsed else {}
    title = stored.get("title", "")
    source = facets.pop("source", [])
    return Hit(
        id=view.ids[docnum],
        date=_date_of(view, docnum),
        title=title,
        title_html=highlight.highlight_all(title, terms.get("title", ())),
        score=round(score, 4) if score is not None else None,
        snippets=highlight.snippets(stored.get("body", ""), terms.get("body", ())),
        url=article_url(view.ids[docnum]),
        source=source[0] if source else None,
        **facets,
    )


def _filter_masks(view: IndexView, sq: SearchQuery) -> dict[str, np.ndarray]:
    cols = view.columns
    masks = {}
    if sq.date_from or sq.date_to:
        masks["date"] = cols.date_mask(sq.date_from, sq.date_to)
    for name, values in sq.filters.items():
        masks[name] = cols.facets[name].mask_for(values, cols.n)
    return masks


def _all_but(base: np.ndarray, masks: dict[str, np.ndarray], skip: str | None) -> np.ndarray:
    out = base.copy()
    for name, mask in masks.items():
        if name != skip:
            out &= mask
    return out


def _order(view: IndexView, sq: SearchQuery, parsed: ParsedQuery, final: np.ndarray,
           scores: np.ndarray) -> np.ndarray:
    """Every matching document, best first."""
    if sq.sort == "relevance" and not parsed.match_all:
        # Tier 0 (every word) ranks before tier 1 (any word); within a tier, by score.
        first = view.mask(parsed.tiers[0]) if len(parsed.tiers) > 1 else None
        return view.rank(final, _with_recency(view, sq, scores), first)
    docs = np.flatnonzero(final)
    dates = view.columns.date[docs]
    # Undated articles sort after dated ones in both directions; ties keep index order.
    if sq.sort == "oldest":
        keys = np.where(dates < 0, np.iinfo(np.int64).max, dates)
    else:
        keys = np.where(dates < 0, np.iinfo(np.int64).max, -dates)
    return docs[np.argsort(keys, kind="stable")]


def _with_recency(view: IndexView, sq: SearchQuery, scores: np.ndarray) -> np.ndarray:
    """score × 0.5^(age / half-life), age in days before the newest article of the index
    (an archive's "now"); undated articles count as the oldest."""
    if not sq.recency_days:
        return scores
    dates = view.columns.date
    dated = dates >= 0
    if not dated.any():
        return scores
    newest = dates[dated].max()
    age = np.where(dated, newest - dates, newest - dates[dated].min()).astype(np.float64)
    return scores * np.power(0.5, age / sq.recency_days)


def _collapse(view: IndexView, ordered: np.ndarray) -> np.ndarray:
    """Keep the best-ranked article of each story, in rank order."""
    keys = view.story_key[ordered]
    rank = np.arange(len(keys))
    first = np.empty(view.columns.n, dtype=np.int64)
    first[keys[::-1]] = rank[::-1]  # with repeated keys the last write, the best rank, wins
    return ordered[first[keys] == rank]


def _story(view: IndexView, docnum: int, final: np.ndarray) -> dict:
    key = view.story_key[docnum]
    members = np.flatnonzero((view.story_key == key) & final)
    members = members[np.argsort(-view.columns.date[members], kind="stable")]
    article_id = view.ids[docnum]
    return {"id": view.story_id.get(article_id, article_id), "size": int(len(members)),
            "others": [view.ids[d] for d in members.tolist() if d != docnum][:20]}


def search(view: IndexView, sq: SearchQuery, facet_size: int = FACET_SIZE) -> SearchResult:
    started = time.perf_counter()
    parsed = view.parse(sq.q)
    if parsed.match_all and sq.sort == "relevance":
        # No words to rank by ("*", punctuation only): the order is newest first, say so.
        sq = replace(sq, sort="newest")
    base, scores = view.evaluate(parsed.query)
    masks = _filter_masks(view, sq)
    final = _all_but(base, masks, None)
    total = int(final.sum())
    ordered = _order(view, sq, parsed, final, scores)
    stories = int(np.count_nonzero(np.bincount(view.story_key[final],
                                               minlength=view.columns.n)))
    if sq.collapse:
        ordered = _collapse(view, ordered)
    scored = sq.sort == "relevance" and not parsed.match_all
    hits = []
    for d in ordered[sq.offset: sq.offset + sq.per_page].tolist():
        hit = make_hit(view, d, float(scores[d]) if scored else None, parsed)
        hit.story = _story(view, d, final)
        hits.append(hit)

    facets: dict = {}
    hist_mask = _all_but(base, masks, "date")
    interval = sq.interval
    if interval == "auto":
        interval = view.columns.auto_interval(hist_mask)
    elif view.columns.bucket_count(hist_mask, interval) > 5000:
        raise InvalidParameter(f"interval={interval} would make more than 5000 buckets for "
                               "these matches; use a coarser interval", code="too_many_buckets")
    facets["date"] = {
        "interval": interval,
        "buckets": view.columns.histogram(hist_mask, interval, (sq.date_from, sq.date_to)),
    }
    for name in FACETS:
        column = view.columns.facets[name]
        facets[name] = column.top(_all_but(base, masks, name), facet_size,
                                  sq.filters.get(name, ()))
    did_you_mean = suggest_correction(view, parsed, masks, total)
    return SearchResult(
        query=sq.echo(), total=total, total_stories=stories,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        hits=hits, facets=facets, did_you_mean=did_you_mean,
    )


# -- did you mean ---------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_LETTERS = re.compile(r"[^\W\d_]+")


def suggest_correction(view: IndexView, parsed: ParsedQuery, masks: dict[str, np.ndarray],
                       total: int) -> dict | None:
    """A corrected query when some word is unknown or rare and a close, much more common word
    exists — offered only if the corrected query finds more articles. Only plain words of the
    query are candidates (not field names, dates, phrases or wildcards), replaced in place."""
    if parsed.match_all or not parsed.words:
        return None
    text = parsed.text
    fixes: dict[tuple[int, int], str] = {}
    for start, end, _ in parsed.words:
        # The parser's span may carry punctuation ("inflaton.", "inflaton's"): fix the letters.
        core = _LETTERS.search(text, start, end)
        if core is None:
            continue
        correction = _correct(view, core.group(0).lower())
        if correction:
            fixes[core.span()] = correction
    if not fixes:
        return None
    plain, html, last = [], [], 0
    for (start, end), word in sorted(fixes.items()):
        plain += [text[last:start], word]
        html += [str(escape(text[last:start])), f"<mark>{escape(word)}</mark>"]
        last = end
    corrected = "".join(plain + [text[last:]])
    found = int(_all_but(view.mask(view.parse(corrected).query), masks, None).sum())
    if found <= total:
        return None
    return {"q": corrected, "html": "".join(html + [str(escape(text[last:]))]), "total": found}


def _correct(view: IndexView, word: str) -> str | None:
    # Remembered per view: search-as-you-type asks again for every word at every keystroke,
    # and a search two edits away walks Whoosh's automaton over the vocabulary (~8 ms).
    cache = view.corrections
    if word not in cache:
        if len(cache) >= 4096:
            cache.clear()
        cache[word] = _find_correction(view, word)
    return cache[word]


def _find_correction(view: IndexView, word: str) -> str | None:
    if len(word) < 3 or not word.isalpha():
        return None
    df = view.df.get(word, 0)
    if df >= RARE:
        return None
    for maxdist in (1, 2):
        # An unknown word takes any known neighbour; a rare one only a far commoner one.
        candidates = [c for c in view.similar_words(word, maxdist)
                      if c != word and view.df.get(c, 0) > 3 * df + (2 if df else 0)]
        if candidates:
            return max(candidates, key=lambda c: (view.df[c], c))
    return None


# -- other endpoints ------------------------------------------------------------------------------


def get_article(view: IndexView, article_id: str) -> Article:
    docnum = view.docnum.get(article_id)
    if docnum is None:
        raise NotFound(f"no article with id {article_id!r}")
    stored = view.stored(docnum)
    facets = _facet_values(view, docnum)
    source = facets.pop("source", [])
    return Article(id=article_id, date=_date_of(view, docnum), title=stored.get("title", ""),
                   body=stored.get("body", ""), url=stored.get("url") or article_url(article_id),
                   source=source[0] if source else None, **facets)


def related(view: IndexView, article_id: str, limit: int = 5) -> list[Hit]:
    """Other versions of the article's story first (newest first), then the most similar
    articles by more-like-this."""
    docnum = view.docnum.get(article_id)
    if docnum is None:
        raise NotFound(f"no article with id {article_id!r}")
    live = view.columns.live
    story = _story(view, docnum, live)
    chosen = [(view.docnum[i], None) for i in story["others"]][:limit]
    seen = {docnum} | {d for d, _ in chosen}
    if len(chosen) < limit:
        for d, score in view.more_like(docnum, limit + len(seen)):
            if d not in seen and live[d]:
                chosen.append((d, score))
                seen.add(d)
    hits = []
    for d, score in chosen[:limit]:
        hit = make_hit(view, d, score, None)
        hit.story = _story(view, d, live)
        hits.append(hit)
    return hits


def suggest(view: IndexView, prefix: str, limit: int = 8) -> list[str]:
    """Completions for a search box: the last word completed from the vocabulary (most common
    first, keeping the words before it), then titles containing all the words."""
    text = " ".join(prefix.split())
    if not text:
        return []
    head, _, last = text.rpartition(" ")
    last_l = last.lower()
    out: list[str] = []
    if last_l.isalnum():
        for word in view.completions(last_l, limit):
            out.append(f"{head} {word}".strip())
    if len(out) < limit and _WORD.search(text):
        words = _WORD.findall(text)
        q = " ".join(words[:-1] + [words[-1] + "*"])
        try:
            parsed = view.parse(q)
        except Exception:
            parsed = None
        if parsed and not parsed.match_all:
            allowed, scores = view.evaluate(parsed.tiers[0])
            for docnum in view.rank(allowed, scores, None)[: limit * 2].tolist():
                title = view.stored(docnum).get("title", "")
                if title and title not in out:
                    out.append(title)
                if len(out) >= limit:
                    break
    return out[:limit]


def stats(view: IndexView, facet_size: int = 50) -> dict:
    cols = view.columns
    live = cols.live
    span = cols.date_range(live)
    size = sum(p.stat().st_size for p in view.generation.iterdir() if p.is_file())
    facets = {name: [{"value": v["value"], "count": v["count"]}
                     for v in col.top(live, facet_size)] for name, col in cols.facets.items()}
    return {
        "documents": view.doc_count,
        "date_range": {"min": span[0].isoformat() if span else None,
                       "max": span[1].isoformat() if span else None},
        "undated": int((live & ~cols.has_date).sum()),
        "index": {
            "generation": view.generation.name,
            "size_bytes": size,
            "segments": len(view.reader.leaf_readers()) if hasattr(view.reader, "leaf_readers")
            else 1,
            "built_at": view.build_info.get("built_at"),
            "build_seconds": view.build_info.get("seconds"),
            "sources": view.build_info.get("sources", []),
            "vocabulary": len(view.words),
        },
        "facets": facets,
    }
