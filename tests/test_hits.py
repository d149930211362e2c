"""The documents a query node matches (``searchsvc.engines.whoosh.hits``), against sets: the
shortcuts taken for lists of very different lengths (a word's few title postings beside its
many body postings, a tier of thousands among half a million matches) must give what
plain set arithmetic gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from searchsvc.engines.whoosh.hits import added, dense, sparse, summed

N = 2_000
doc_sets = st.sets(st.integers(0, N - 1), max_size=300)
weights = st.integers(1, 40).map(lambda w: np.float32(w / 7))


def _postings(docs: set[int], weight: np.float32) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array(sorted(docs), np.int64)
    return ids, (ids % 5 + 1).astype(np.float32) * weight


@settings(max_examples=200, deadline=None)
@given(a=doc_sets, b=doc_sets, wa=weights, wb=weights)
def test_two_posting_lists_added_are_their_union_with_values_summed(a, b, wa, wb):
    pa, pb = _postings(a, wa), _postings(b, wb)
    ids, values = added(pa, pb)
    assert ids.tolist() == sorted(a | b)
    assert values.dtype == np.float32
    # the same values, to the bit, as sorting both lists together gives
    uniq, sums, _ = summed(np.concatenate([pa[0], pb[0]]),
                           np.concatenate([pa[1], pb[1]]).astype(np.float64))
    assert uniq.tolist() == ids.tolist()
    assert values.tolist() == sums.astype(np.float32).tolist()
    assert pa[1].tolist() == _postings(a, wa)[1].tolist()  # the inputs are left as they were


@settings(max_examples=200, deadline=None)
@given(matches=doc_sets, asked=st.lists(st.integers(0, N - 1), max_size=1500),
       ordered=st.booleans())
@example(matches={5, 17}, asked=[17, 3, 5, 9, 11, 2, 40, 1, 0, 8], ordered=False)
@example(matches={5, 17}, asked=[0, 1, 2, 3, 5, 5, 9, 11, 17, 40], ordered=False)
def test_a_match_list_says_which_documents_it_holds(matches, asked, ordered):
    """In any order, with repeats, or ascending and far more numerous than the matches."""
    docs = np.array(sorted(set(asked)) if ordered else asked, np.int64)
    expected = [d in matches for d in docs.tolist()]
    ids = np.array(sorted(matches), np.int64)
    assert sparse(ids).contains(docs).tolist() == expected
    mask = np.zeros(N, bool)
    mask[ids] = True
    assert dense(mask).contains(docs).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.tuples(doc_sets, weights, st.booleans(), st.booleans()),
                      min_size=1, max_size=3),
       at_least=st.integers(1, 3))
@example(parts=[({1, 2, 3}, np.float32(1), False, True), ({2, 5}, np.float32(2), False, False)],
         at_least=2)
def test_unions_and_intersections_are_those_of_the_sets(parts, at_least):
    """Parts sparse or dense, scored or not: the documents in at least ``at_least`` parts
    (or in all of them), each with the sum of its scores."""
    from searchsvc.engines.whoosh.hits import all_of, any_of

    n = 16 * N  # an archive where these parts are few enough to be unions of sorted lists
    hits, scored = [], []
    for docs, weight, is_dense, has_scores in parts:
        ids, values = _postings(docs, weight)
        h = sparse(ids, values if has_scores else None)
        if is_dense:
            mask, dense_scores = h.to_dense(n)
            h = dense(mask, dense_scores if has_scores else None)
        hits.append(h)
        scored.append(dict(zip(ids.tolist(), values.tolist(), strict=True)) if has_scores
                      else dict.fromkeys(ids.tolist(), 0.0))
    for found, wanted in ((any_of(hits, n, at_least), at_least), (all_of(hits, n), len(hits))):
        expected = sorted(d for d in range(N) if sum(d in s for s in scored) >= wanted)
        assert found.doc_ids().tolist() == expected
        got = found.scores_at(np.array(expected, np.int64)).tolist()
        assert got == pytest.approx([sum(s.get(d, 0.0) for s in scored) for d in expected],
                                    rel=1e-6)
