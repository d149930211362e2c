"""Search parameters → :class:`SearchQuery` (contract §3): defaults, accepted spellings, and the
bad values that must be a 400 (``InvalidParameter``) before any search runs.

Everything here goes through the one public entry point, :func:`parse_search_args`, with the
kinds of mapping the service hands it: a plain dict, a dict of lists, and werkzeug's MultiDict.
"""

from __future__ import annotations

import datetime as dt

import pytest
from werkzeug.datastructures import MultiDict

from searchsvc.core.params import SearchQuery, parse_search_args
from searchsvc.errors import InvalidParameter

DAY = dt.date(2020, 1, 24)


def bad(args: dict, code: str = "invalid_parameter") -> InvalidParameter:
    """Parse ``args`` expecting a 400 with ``code``; returns the error for further checks."""
    with pytest.raises(InvalidParameter) as info:
        parse_search_args(args)
    assert info.value.status == 400
    assert info.value.code == code
    assert info.value.detail
    return info.value


# -- defaults ---------------------------------------------------------------------------------


def test_no_parameters_means_every_article_newest_first_page_one():
    sq = parse_search_args({})
    assert sq == SearchQuery(q="", sort="newest", page=1, per_page=10, filters={},
                             interval="auto", collapse=True)
    assert sq.date_from is None and sq.date_to is None and sq.recency_days is None


def test_a_query_defaults_to_relevance_and_an_explicit_sort_wins():
    assert parse_search_args({"q": "sadr"}).sort == "relevance"
    assert parse_search_args({"q": "sadr", "sort": "newest"}).sort == "newest"
    assert parse_search_args({"sort": "relevance"}).sort == "relevance"


def test_query_text_is_trimmed_and_blank_is_empty():
    assert parse_search_args({"q": "  oil prices \n"}).q == "oil prices"
    blank = parse_search_args({"q": "   "})
    assert blank.q == "" and blank.sort == "newest"


@pytest.mark.parametrize("value", ["", "  "])
def test_blank_values_fall_back_to_defaults(value):
    sq = parse_search_args({name: value for name in
                            ("page", "per_page", "sort", "interval", "collapse", "recency",
                             "from", "to")})
    assert (sq.page, sq.per_page, sq.sort, sq.interval, sq.collapse) == \
        (1, 10, "newest", "auto", True)
    assert sq.date_from is sq.date_to is sq.recency_days is None


def test_unknown_parameters_are_ignored():
    plain = parse_search_args({"q": "oil", "page": "2"})
    noisy = parse_search_args({"q": "oil", "page": "2", "utm_source": "mail", "foo": ["1", "2"],
                               "PAGE": "7", "debug": "true"})
    assert noisy == plain


def test_multidict_dict_of_lists_and_plain_dict_read_the_same():
    expected = parse_search_args({"q": "oil", "topics": ["crude", "grain"], "page": "2"})
    assert parse_search_args(MultiDict([("q", "oil"), ("topics", "crude"),
                                        ("topics", "grain"), ("page", "2")])) == expected
    assert parse_search_args({"q": ["oil"], "topics": ["crude", "grain"],
                              "page": ["2"]}) == expected


# -- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("per_page", ["1", "100", " 25 "])
def test_per_page_within_1_to_100_is_accepted(per_page):
    assert parse_search_args({"per_page": per_page}).per_page == int(per_page)


@pytest.mark.parametrize("per_page", ["0", "-1", "101", "ten", "1.5", "1e2"])
def test_per_page_outside_1_to_100_or_not_an_integer_is_a_400(per_page):
    err = bad({"per_page": per_page})
    assert "per_page" in err.detail


@pytest.mark.parametrize("page", ["0", "-1", "first", "2.0"])
def test_page_below_1_or_not_an_integer_is_a_400(page):
    assert "page" in bad({"page": page}).detail


def test_offset_follows_page_and_per_page():
    assert parse_search_args({"page": "3", "per_page": "20"}).offset == 40
    assert parse_search_args({}).offset == 0


@pytest.mark.parametrize("page, per_page", [("100", "100"), ("1000", "10"), ("10000", "1")])
def test_result_window_up_to_10000_is_accepted(page, per_page):
    sq = parse_search_args({"page": page, "per_page": per_page})
    assert sq.page * sq.per_page == 10_000


@pytest.mark.parametrize("page, per_page", [("101", "100"), ("1001", None), ("10001", "1")])
def test_result_window_beyond_10000_is_a_400(page, per_page):
    args = {"page": page} if per_page is None else {"page": page, "per_page": per_page}
    assert "10,000" in bad(args, code="result_window_too_large").detail


# -- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["2020-01-24", "24 Jan 2020", "January 24, 2020",
                                      "2020/01/24", "Jan 24 2020", " 2020-01-24 "])
def test_from_and_to_accept_any_complete_date_dateutil_reads(spelling):
    sq = parse_search_args({"from": spelling, "to": spelling})
    assert sq.date_from == sq.date_to == DAY


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("value", ["notadate", "2020-13-45", "2020-02-30", "2020-13",
                                   "yesterday-ish", "March"])
def test_unreadable_dates_are_a_400_naming_the_parameter(name, value):
    assert name in bad({name: value}).detail


# Changed by the restructure: a month or a year is a period now, no longer an "incomplete
# date" (a 400). ``from`` starts on its first day and ``to`` ends on its last.
@pytest.mark.parametrize("value, first, last", [
    ("1987-03", dt.date(1987, 3, 1), dt.date(1987, 3, 31)),
    ("January 2020", dt.date(2020, 1, 1), dt.date(2020, 1, 31)),
    ("2020-02", dt.date(2020, 2, 1), dt.date(2020, 2, 29)),
    ("1987", dt.date(1987, 1, 1), dt.date(1987, 12, 31)),
])
def test_a_month_or_a_year_is_the_whole_period(value, first, last):
    sq = parse_search_args({"from": value, "to": value})
    assert (sq.date_from, sq.date_to) == (first, last)
    assert sq.echo()["from"] == first.isoformat() and sq.echo()["to"] == last.isoformat()


def test_from_a_month_to_an_earlier_month_is_a_400():
    bad({"from": "1987-04", "to": "1987-03"})
    assert parse_search_args({"from": "1987-03", "to": "1987-03-31"}).date_to == dt.date(
        1987, 3, 31)


def test_from_after_to_is_a_400():
    bad({"from": "2020-02-01", "to": "2020-01-31"})


def test_echo_reports_dates_in_iso_and_filters_as_lists():
    sq = parse_search_args({"q": "oil", "from": "24 Jan 2020", "to": "February 3, 2020",
                            "topics": ["crude", "grain"], "places": "usa"})
    echo = sq.echo()
    assert echo["q"] == "oil"
    assert echo["from"] == "2020-01-24" and echo["to"] == "2020-02-03"
    assert echo["sort"] == "relevance" and echo["page"] == 1 and echo["per_page"] == 10
    assert echo["filters"] == {"topics": ["crude", "grain"], "places": ["usa"]}
    assert parse_search_args({}).echo()["from"] is None


# -- choices ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_every_documented_sort_is_accepted(sort):
    assert parse_search_args({"q": "x", "sort": sort}).sort == sort


@pytest.mark.parametrize("sort", ["bogus", "date", "score", "newest,oldest"])
def test_unknown_sort_is_a_400(sort):
    assert "sort" in bad({"sort": sort}).detail


@pytest.mark.parametrize("interval", ["auto", "day", "week", "month", "year"])
def test_every_documented_interval_is_accepted(interval):
    assert parse_search_args({"interval": interval}).interval == interval


@pytest.mark.parametrize("interval", ["bogus", "hour", "quarter", "days"])
def test_unknown_interval_is_a_400(interval):
    assert "interval" in bad({"interval": interval}).detail


@pytest.mark.parametrize("value, expected", [("true", True), ("false", False), ("1", True),
                                             ("0", False), ("TRUE", True), ("False", False)])
def test_collapse_reads_true_and_false(value, expected):
    assert parse_search_args({"collapse": value}).collapse is expected


@pytest.mark.parametrize("value", ["maybe", "2", "tru", "null"])
def test_collapse_with_another_value_is_a_400(value):
    assert "collapse" in bad({"collapse": value}).detail


@pytest.mark.parametrize("value, days", [("7d", 7), ("30d", 30), ("4w", 28), ("1y", 365),
                                         ("6m", 180), ("7D", 7)])
def test_recency_half_life_is_read_in_days(value, days):
    sq = parse_search_args({"q": "oil", "recency": value})
    assert sq.recency_days == days
    assert sq.echo()["recency"] == value.lower()


@pytest.mark.parametrize("value", ["abc", "7", "d7", "7 days", "-7d", "1.5y"])
def test_recency_that_is_not_a_half_life_is_a_400(value):
    assert "recency" in bad({"q": "oil", "recency": value}).detail


# -- facet filters ----------------------------------------------------------------------------


def test_facet_filters_are_repeatable_deduplicated_and_trimmed_in_order():
    sq = parse_search_args({"topics": ["grain", " crude ", "grain", ""], "places": ["usa"],
                            "people": [], "orgs": "  "})
    assert sq.filters == {"topics": ("grain", "crude"), "places": ("usa",)}


@pytest.mark.parametrize("facet", ["topics", "places", "people", "orgs", "source"])
def test_every_facet_can_filter(facet):
    assert parse_search_args({facet: ["a", "b"]}).filters == {facet: ("a", "b")}


def test_facet_values_keep_their_case_and_spaces_inside():
    sq = parse_search_args({"places": ["United States", "usa"]})
    assert sq.filters["places"] == ("United States", "usa")


# -- query text limits ------------------------------------------------------------------------


def test_query_longer_than_the_limit_is_a_400_query_too_long():
    assert parse_search_args({"q": "a" * 2000}).q == "a" * 2000
    with pytest.raises(InvalidParameter) as info:
        parse_search_args({"q": "a" * 2001})
    assert info.value.code == "query_too_long"
    with pytest.raises(InvalidParameter):
        parse_search_args({"q": "oil prices"}, max_query_chars=5)


def test_nul_character_in_query_is_a_400():
    bad({"q": "oil\x00prices"})


def test_a_zero_half_life_turns_recency_off():
    assert parse_search_args({"q": "oil", "recency": "0d"}).recency_days is None


# -- facet size -------------------------------------------------------------------------------


def test_facet_size_defaults_to_20_and_is_read_within_1_to_1000():
    assert parse_search_args({}).facet_size == 20
    assert parse_search_args({"facet_size": "1000"}).facet_size == 1000
    assert parse_search_args({"facet_size": " 3 "}).facet_size == 3


@pytest.mark.parametrize("value", ["0", "1001", "many", "-5"])
def test_facet_size_out_of_range_is_a_400(value):
    assert "facet_size" in bad({"facet_size": value}).detail
