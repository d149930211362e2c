"""Snippets and ``title_html`` (contract §3): every inflection of a query word is marked, at most
three snippets, the opening when nothing matches, and article text is always escaped while only
``<mark>`` is added.

The highlighter is given a matcher made from the query's clauses, whose terms are index terms
(folded, stemmed: ``searchsvc.analysis``), so the tests analyse the query words the way the
query reader does before it hands them over.
"""

from __future__ import annotations

import html as html_lib
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchsvc import analysis
from searchsvc.core.highlight import Matcher, highlight_all, matchers, snippets
from searchsvc.engine import Fuzzy, Phrase, Prefix, Term, Wildcard

MARKED = re.compile(r"<mark>(.*?)</mark>")


def terms(*words: str) -> Matcher:
    """What a plain query of ``words`` marks in an article's body."""
    return matchers([Term(analysis.term(w)) for w in words])["body"]


def marked(html: str | list[str]) -> list[str]:
    """The marked words, as text (unescaped)."""
    text = " ".join(html) if isinstance(html, list) else html
    return [html_lib.unescape(m) for m in MARKED.findall(text)]


def without_marks(html: str) -> str:
    return html.replace("<mark>", "").replace("</mark>", "")


def assert_only_mark_tags(html: str) -> None:
    """Nothing but <mark>…</mark> may be markup: no other '<' or '>' survives unescaped."""
    rest = without_marks(html)
    assert "<" not in rest and ">" not in rest, html


# -- which words are marked -------------------------------------------------------------------


def test_every_inflection_of_the_query_word_is_marked():
    text = ("The protesters protested outside; a protester's sign read 'Protest!' and "
            "PROTESTING went on.")
    html = highlight_all(text, terms("protester"))
    # A possessive is part of its word now (the analysis reads "protester's" as one token,
    # "protester"), so the mark covers the whole word as written.
    assert marked(html) == ["protesters", "protested", "protester's", "Protest", "PROTESTING"]


def test_words_that_merely_contain_the_query_word_are_not_marked():
    text = "Oilseed and spoil are not oil; oils and oiled are."
    assert marked(highlight_all(text, terms("oil"))) == ["oil", "oils", "oiled"]


def test_marks_keep_the_original_case_and_spelling():
    text = "SADR spoke; Sadr's men cheered; sadr left."
    # "Sadr's" is one token (the possessive dropped from its term): marked as written.
    assert marked(highlight_all(text, terms("Sadr"))) == ["SADR", "Sadr's", "sadr"]


def test_several_query_words_are_all_marked():
    text = "Crude oil prices rose as grain prices fell."
    assert marked(highlight_all(text, terms("oil", "price"))) == ["oil", "prices", "prices"]


def test_accents_acronyms_and_numbers_are_marked_as_written():
    text = "The Café near the U.S. embassy sold 1,000 cafes; US forces and café owners left."
    assert marked(highlight_all(text, terms("cafe"))) == ["Café", "cafes", "café"]
    assert marked(highlight_all(text, terms("U.S."))) == ["U.S.", "US"]
    assert marked(highlight_all(text, terms("1,000"))) == ["1,000"]


def test_phrase_prefix_wildcard_and_fuzzy_clauses_mark_what_they_match():
    text = "Oil prices rose; the price of oil fell; pricey oilseed was priced well."
    phrase = matchers([Phrase(("oil", "price"))])["body"]
    assert marked(highlight_all(text, phrase)) == ["Oil", "prices"]  # where the phrase is
    prefix = matchers([Prefix("pric")])["body"]
    assert marked(highlight_all(text, prefix)) == ["prices", "price", "pricey", "priced"]
    wild = matchers([Wildcard("oil*d")])["body"]
    assert marked(highlight_all(text, wild)) == ["oilseed"]
    fuzzy = matchers([Fuzzy("rise", distance=1)])["body"]
    assert marked(highlight_all(text, fuzzy)) == ["rose"]


def test_a_clause_on_one_field_marks_only_that_field():
    title_only = matchers([Term("oil", "title")])
    assert title_only["title"] and not title_only["body"]
    assert highlight_all("Oil rose.", title_only["body"]) == "Oil rose."


def test_no_terms_marks_nothing():
    text = "Crude oil prices rose."
    assert highlight_all(text, terms()) == text


# -- escaping ---------------------------------------------------------------------------------


def test_html_in_the_text_is_escaped_while_marks_are_added():
    text = 'Researchers found <script>alert(1)</script> & a <b>bold</b> "attack" here.'
    html = highlight_all(text, terms("attack"))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp;" in html
    assert marked(html) == ["attack"]
    assert_only_mark_tags(html)


def test_a_marked_word_inside_markup_is_marked_and_the_markup_escaped():
    text = "Attack <script>alert(1)</script> feared"
    html = highlight_all(text, terms("script", "alert"))
    assert html == ("Attack &lt;<mark>script</mark>&gt;<mark>alert</mark>(1)"
                    "&lt;/<mark>script</mark>&gt; feared")


def test_snippets_escape_html_too():
    text = ("Officials said the <img src=x onerror=alert(1)> tag was found. " * 3
            + "Later the attack & the response were described in <i>detail</i>.")
    for snippet in snippets(text, terms("attack", "tag")):
        assert_only_mark_tags(snippet)
        assert "&lt;" in snippet or "&amp;" in snippet
    assert marked(snippets(text, terms("attack"))) == ["attack"]


def test_opening_snippet_is_escaped():
    [opening] = snippets("<script>alert(1)</script> opened the article.", terms())
    assert opening.startswith("&lt;script&gt;")
    assert_only_mark_tags(opening)


# -- snippet choice ---------------------------------------------------------------------------


def filler(n: int, word: str = "filler") -> str:
    return " ".join(f"{word}{i}" for i in range(n))


def test_at_most_three_snippets_however_many_matches():
    text = " ".join(f"{filler(60)} Sadr spoke again." for _ in range(10))
    found = snippets(text, terms("Sadr"))
    assert len(found) == 3
    assert all("<mark>Sadr</mark>" in s for s in found)


def test_fewer_snippets_when_the_matches_are_close_together():
    text = f"{filler(80)} Sadr and Sadr again. {filler(80, 'tail')}"
    found = snippets(text, terms("Sadr"))
    assert len(found) == 1
    assert marked(found) == ["Sadr", "Sadr"]


def test_snippets_are_short_windows_cut_with_ellipses_at_word_boundaries():
    words = [f"w{i:04d}" for i in range(400)]
    words[200] = "needle"
    text = " ".join(words)
    [snippet] = snippets(text, terms("needle"))
    assert snippet.startswith("… ") and snippet.endswith(" …")
    inner = without_marks(snippet)[2:-2].split()
    assert "needle" in inner
    # whole words only, taken contiguously from the text
    start = words.index(inner[0])
    assert words[start:start + len(inner)] == inner
    assert len(without_marks(snippet)) < 260


def test_snippets_come_in_document_order():
    text = (f"Alpha oil here. {filler(80)} Grain and oil together. {filler(80, 'x')} "
            f"Grain alone at the end.")
    found = snippets(text, terms("oil", "grain"))
    positions = [text.index(without_marks(s).strip("… ").split()[0]) for s in found]
    assert positions == sorted(positions)


def test_the_best_snippet_has_the_most_distinct_query_words():
    text = (f"oil oil oil oil {filler(80)} the oil and grain report {filler(80, 'x')} "
            f"grain grain grain grain")
    [best] = snippets(text, terms("oil", "grain"), limit=1)
    assert set(marked(best)) == {"oil", "grain"}


def test_a_match_at_the_start_has_no_leading_ellipsis():
    found = snippets(f"Sadr spoke first. {filler(100)}", terms("Sadr"))
    assert found[0].startswith("<mark>Sadr</mark> spoke first.")
    assert found[0].endswith(" …")


def test_line_breaks_and_runs_of_spaces_become_single_spaces():
    text = "First paragraph about oil.\n\nSecond   paragraph\tabout\noil too."
    [snippet] = snippets(text, terms("oil"))
    assert "\n" not in snippet and "\t" not in snippet and "  " not in snippet
    assert snippet == ("First paragraph about <mark>oil</mark>. Second paragraph about "
                       "<mark>oil</mark> too.")


# -- no match: the opening --------------------------------------------------------------------


def test_empty_query_gives_the_opening_as_the_only_snippet():
    text = f"The opening sentence of the article. {filler(200)}"
    [opening] = snippets(text, terms())
    assert opening.startswith("The opening sentence of the article.")
    assert opening.endswith(" …")
    assert len(opening) <= 250
    assert "<mark>" not in opening


def test_short_article_opening_is_the_whole_text_without_ellipsis():
    assert snippets("A short note.\n\nTwo lines.", terms()) == ["A short note. Two lines."]


def test_query_words_absent_from_the_body_give_the_opening():
    text = f"Body text about something else entirely. {filler(100)}"
    [opening] = snippets(text, terms("zebra"))
    assert opening.startswith("Body text about something else entirely.")


def test_empty_body_has_no_snippets():
    assert snippets("", terms("oil")) == []
    assert snippets("   \n", terms()) == []


# -- large articles ---------------------------------------------------------------------------


@pytest.mark.parametrize("query", [("zebra",), ("fox",), ()])
def test_a_1_mb_article_is_highlighted_quickly(query):
    text = "The quick brown fox jumps over the lazy dog near the river bank. " * 16_500
    text += "A rare zebra appeared at the very end."
    assert len(text) > 1_000_000
    started = time.perf_counter()
    found = snippets(text, terms(*query))
    title = highlight_all(text[:200], terms(*query))
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0
    assert 1 <= len(found) <= 3
    assert all(len(s) < 400 for s in found)
    assert title
    if query == ("zebra",):
        assert marked(found) == ["zebra"]
        assert found[0].endswith("very end.")


def test_a_rare_word_late_in_a_long_article_still_gets_a_snippet():
    text = "The quick brown fox jumps over the lazy dog near the river bank. " * 3_000
    text += "A rare zebra ran past a fox at the very end."
    found = snippets(text, terms("zebra", "fox"))
    assert "zebra" in marked(found)


# -- the scan marks exactly what a token-by-token reading marks --------------------------------

WORDS = ["Protesters", "protest", "the", "The", "Bank", "bank", "of", "England", "U.S.", "us",
         "café", "cafe", "G", "7", "don't", "Poland's", "1,000", "1.5", "$", "oil", "Oils",
         "oiled", "banking", "protests", "it"]
SEPARATORS = [" ", " ", ", ", ". ", "-", "\n", "&", "'"]


def one_by_one(text: str, matcher: Matcher) -> list[str]:
    """What a plain reading marks: each token in turn, a phrase where its last word ends it."""
    toks = list(analysis.tokens(text))
    chosen: set[int] = set()
    for i, tok in enumerate(toks):
        for phrase in matcher.phrases.get(tok.term, ()):
            n = len(phrase)
            if i + 1 >= n and tuple(t.term for t in toks[i + 1 - n: i + 1]) == tuple(phrase):
                chosen.update(range(i + 1 - n, i + 1))
        if matcher.matches(tok.word, tok.term):
            chosen.add(i)
    return [toks[i].text for i in sorted(chosen)]


@st.composite
def texts(draw) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), max_size=40))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True))


@st.composite
def clauses(draw) -> list:
    def term() -> str:
        return analysis.term(draw(st.sampled_from(WORDS[:-5])))
    kinds = draw(st.lists(st.sampled_from(["term", "phrase", "prefix", "fuzzy", "wildcard"]),
                          min_size=1, max_size=4))
    out: list = []
    for kind in kinds:
        if kind == "term":
            out.append(Term(term()))
        elif kind == "phrase":
            out.append(Phrase(tuple(term() for _ in range(draw(st.integers(2, 3))))))
        elif kind == "prefix":
            out.append(Prefix(term()[:2]))
        elif kind == "fuzzy":
            out.append(Fuzzy(term(), 1))
        else:
            out.append(Wildcard(term()[:2] + "*"))
    return out


@given(st.lists(texts(), min_size=1, max_size=3), clauses())
@settings(max_examples=300, deadline=None)
def test_the_marks_are_those_of_reading_the_text_token_by_token(several, query):
    # one matcher for several texts, as one search highlights all its hits with one
    matcher = matchers(query)["body"]
    for text in several:
        assert marked(highlight_all(text, matcher)) == one_by_one(text, matcher)
