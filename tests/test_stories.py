"""Story clustering (``searchsvc.ingest.stories``) on its own: the seeds are one story,
unrelated news is not, and term counts gathered by separate build workers and merged cluster
exactly like counts gathered in one process."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.paths import SEEDS

from searchsvc.analysis import is_stop, tokens
from searchsvc.ingest.prepare import PHRASE_WORDS, headline_phrases, index_article, story_terms
from searchsvc.ingest.readers import read_text_file
from searchsvc.ingest.stories import (
    _WORD,
    DocTerms,
    TermTable,
    _writes,
    cluster,
    entities,
    similarity,
)


def seed_terms() -> list[DocTerms]:
    """The seeds' term counts as a build gathers them (the shared analysis, made once)."""
    articles = [a for path in sorted(SEEDS.glob("*.txt"))
                for a in read_text_file(path, path.stem, 10**7)]
    return [DocTerms(a.id, a.date.toordinal(), story_terms(index_article(a, a.path)))
            for a in articles]


def counts_of(table: TermTable) -> dict[str, dict[str, int]]:
    """Each document's term → count, read back from the table's flat arrays."""
    words = list(table.vocab)  # ids are insertion order
    assert [table.vocab[w] for w in words] == list(range(len(words)))
    out, at = {}, 0
    for doc_id, n in zip(table.ids, table.lens, strict=True):
        out[doc_id] = {words[t]: c for t, c in zip(table.terms[at:at + n],
                                                    table.counts[at:at + n], strict=True)}
        at += n
    return out


def unrelated(n: int, seed: int = 5) -> list[DocTerms]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    return [DocTerms(f"u{i}", 737000 + i % 3, {w: rng.randint(1, 3) for w in rng.sample(vocab, 80)})
            for i in range(n)]


def test_the_two_seed_write_ups_are_one_story():
    a, b = seed_terms()
    assert similarity(a, b) >= 0.30
    assert cluster([a, b]) == {a.id: a.id, b.id: a.id}


def test_articles_dated_far_apart_are_not_one_story():
    a, b = seed_terms()
    late = DocTerms(b.id, b.date + 30, b.tf)
    assert cluster([a, late]) == {}


def test_unrelated_articles_form_no_story():
    assert cluster(unrelated(300)) == {}


@pytest.mark.parametrize("parts", [2, 3])
def test_tables_merged_from_workers_hold_the_same_counts_and_stories(parts):
    docs = unrelated(200) + seed_terms() + unrelated(50, seed=9)
    merged = TermTable()
    shares = [docs[i::parts] for i in range(parts)]
    for share in shares:  # each worker numbers the terms it meets itself
        merged.merge(TermTable.of(share))
    in_order = [d for share in shares for d in share]
    assert counts_of(merged) == {d.id: dict(d.tf) for d in in_order}
    seeds = [d.id for d in seed_terms()]
    assert cluster(merged) == cluster(in_order) == {seeds[0]: seeds[0], seeds[1]: seeds[0]}


def test_copies_of_articles_are_one_story_with_the_smallest_id_leading():
    """A wire resends items and archives get loaded twice: exact copies of the same day are
    one story (even a short item with nothing distinctive to compare), and copies of a
    story's articles join that story."""
    a, b = seed_terms()
    short = DocTerms("short", 737000, {"shr": 1, "cts": 2, "net": 1})
    docs = [*unrelated(40)]
    for r in range(3):
        docs += [DocTerms(f"{d.id}~{r}", d.date, d.tf) for d in (a, b, short)]
    docs.append(DocTerms("short-later", 737000 + 30, short.tf))  # same words, a month later
    stories = cluster(docs)
    first = min(f"{a.id}~0", f"{b.id}~0")
    assert {k: v for k, v in stories.items() if v == first} == {
        f"{d.id}~{r}": first for d in (a, b) for r in range(3)}
    assert {k for k, v in stories.items() if v == "short~0"} == {"short~0", "short~1", "short~2"}
    assert "short-later" not in stories
    assert not any(k.startswith("u") for k in stories)


# -- names and headline phrases: fast paths that must say what the plain definitions say ------

_TEXT = st.text(alphabet="aAbBé_1. -'\n<>", max_size=40)


@settings(max_examples=400, deadline=None)
@given(text=_TEXT, word=st.text(alphabet="aAbéİ_1.", min_size=1, max_size=4))
def test_a_word_is_written_in_a_text_exactly_when_the_name_tokeniser_finds_it(text, word):
    # ``_writes`` looks a sentence's first word up without tokenising the whole body; it must
    # agree with the tokeniser, or a name is dropped (or kept) that the plain reading keeps.
    assert _writes(text, word) == (word in set(_WORD.findall(text)))


def test_a_sentence_opening_word_the_article_also_writes_in_lower_case_is_not_a_name():
    body = ("Shares of Hoechst rose today. Traders said shares would rise again. "
            "Hoechst is the largest chemicals group.")
    assert "hoechst" in entities("Hoechst shares rise", body)
    assert "share" not in entities("Hoechst shares rise", body)  # "shares" is written too
    # Written in lower case only inside longer words, it is still a name.
    other = "Borsig won the order. Borsig.com and borsigs said so."
    assert "borsig" in entities("Pump order placed", other)
    assert "borsig" not in entities("Pump order placed", other + " A borsig is a pump.")


def _phrases_by_definition(title: str) -> set[str]:
    words = [t.word for t in tokens(title)]
    return {" ".join(words[i:i + n]) for n in PHRASE_WORDS for i in range(len(words) - n + 1)
            if not is_stop(words[i]) and not is_stop(words[i + n - 1])
            and all(w.isalnum() for w in words[i:i + n])}


@settings(max_examples=300, deadline=None)
@given(title=st.lists(st.sampled_from(["bank", "of", "england", "the", "G-7", "½", "rates",
                                       "U.S.", "cuts", "it's", "1,000", "$", "A"]),
                      max_size=9).map(" ".join))
def test_headline_phrases_are_the_runs_of_two_to_four_words_without_stop_word_ends(title):
    assert headline_phrases(title) == _phrases_by_definition(title)


def test_a_headline_offers_its_name_phrases_for_completion():
    assert headline_phrases("BANK OF ENGLAND CUTS RATES") == {
        "bank of england", "bank of england cuts", "england cuts", "england cuts rates",
        "cuts rates"}
