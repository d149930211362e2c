"""Dates as people write them, read with python-dateutil.

An article's date must name a whole day (:func:`parse_date`). A search bound may name a whole
period (:func:`parse_period`): ``1987``, ``1987-03`` and ``March 1987`` mean the year or the
month, so ``from=1987-03`` starts on its first day and ``to=1987-03`` ends on its last.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from dateutil import parser as dateparser

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_YEAR = re.compile(r"\d{4}")
# Two different defaults: a component that differs between the two readings was not given.
_DEFAULT_A = dt.datetime(1, 1, 1)
_DEFAULT_B = dt.datetime(2, 2, 2)
MAX_DATE_CHARS = 64


class DateError(ValueError):
    pass


def _readings(text: str) -> tuple[dt.date, dt.date]:
    if not text or len(text) > MAX_DATE_CHARS:
        raise DateError(f"unparseable date {text[:40]!r}")
    try:
        a = dateparser.parse(text, default=_DEFAULT_A)
        b = dateparser.parse(text, default=_DEFAULT_B)
    except (ValueError, OverflowError) as exc:
        raise DateError(f"unparseable date {text!r}") from exc
    return a.date(), b.date()


def parse_date(text: str) -> dt.date:
    """One complete calendar date (year, month and day all given)."""
    text = text.strip()
    if _ISO_DATE.fullmatch(text):
        # The common case, without dateutil's general parser (a large share of read time).
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass  # e.g. 2020-02-30: let dateutil word the error
    a, b = _readings(text)
    if a != b:
        raise DateError(f"incomplete date {text!r} (needs year, month and day)")
    return a


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """The first and last day of the day, month or year ``text`` names."""
    text = text.strip()
    if _ISO_DATE.fullmatch(text):
        day = parse_date(text)
        return day, day
    if _YEAR.fullmatch(text):
        year = int(text)
        if not 1 <= year <= 9999:
            raise DateError(f"unparseable date {text!r}")
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    m = _ISO_MONTH.fullmatch(text)
    if m:
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise DateError(f"unparseable date {text!r}")
        return _month(year, month)
    a, b = _readings(text)
    if a.year != b.year:
        raise DateError(f"date {text!r} names no year")
    if a.month != b.month:
        return dt.date(a.year, 1, 1), dt.date(a.year, 12, 31)
    if a.day != b.day:
        return _month(a.year, a.month)
    return a, a


def _month(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
