"""The dashboard's date range, read from its URL: presets, from/to, and what a bad range says."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine.web.dashboards import (
    DEFAULT_DAYS,
    MAX_DAYS,
    PRESETS,
    BadRange,
    Span,
    choose_span,
)

TODAY = date(2026, 12, 8)


def test_no_range_is_the_last_30_days_up_to_today() -> None:
    span = choose_span({}, TODAY)
    assert span == Span(TODAY - timedelta(days=29), TODAY, DEFAULT_DAYS)
    assert len(span) == 30 == len(span.days)
    assert span.days[0] == span.first
    assert span.days[-1] == TODAY
    assert span.query() == "days=30"


@pytest.mark.parametrize("days", PRESETS)
def test_a_preset_is_that_many_days_up_to_today(days: int) -> None:
    span = choose_span({"days": str(days)}, TODAY)
    assert (span.first, span.last, span.preset, len(span)) == (
        TODAY - timedelta(days=days - 1),
        TODAY,
        days,
        days,
    )


def test_from_and_to_win_over_a_preset_and_are_shared_as_dates() -> None:
    span = choose_span({"days": "7", "from": "2026-11-01", "to": "2026-11-03"}, TODAY)
    assert span == Span(date(2026, 11, 1), date(2026, 11, 3))
    assert span.query() == "from=2026-11-01&to=2026-11-03"
    assert choose_span({"from": "2026-12-01"}, TODAY) == Span(date(2026, 12, 1), TODAY)
    assert choose_span({"to": "2026-11-30"}, TODAY) == Span(date(2026, 11, 1), date(2026, 11, 30))


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"from": "yesterday"}, "from", "must be a date"),
        ({"to": "2026-13-01"}, "to", "must be a date"),
        ({"from": "2026-12-05", "to": "2026-12-01"}, "from", "on or before"),
        ({"to": "2026-12-09"}, "to", "after today"),
        ({"from": "2020-01-01", "to": "2026-12-01"}, "from", "at most 366 days"),
        ({"days": "14"}, "days", "one of 7, 30, 90"),
        ({"days": "-7"}, "days", "one of 7, 30, 90"),
        ({"days": "x" * 500}, "days", "one of 7, 30, 90"),
        ({"days": "\u00b2"}, "days", "one of 7, 30, 90"),
    ],
)
def test_a_bad_range_names_its_field_and_says_what_is_wrong(
    query: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(BadRange) as raised:
        choose_span(query, TODAY)
    assert raised.value.field == field
    assert words in raised.value.message


@given(
    first=st.dates(date(2000, 1, 1), date(2030, 1, 1)),
    last=st.dates(date(2000, 1, 1), date(2030, 1, 1)),
    text=st.text(max_size=30),
)
def test_any_query_is_a_span_within_the_rules_or_a_bad_range(
    first: date, last: date, text: str
) -> None:
    for query in (
        {"from": first.isoformat(), "to": last.isoformat()},
        {"from": text},
        {"days": text},
    ):
        try:
            span = choose_span(query, TODAY)
        except BadRange as bad:
            problems = (bad.field, bad.message)
        else:
            problems = None
        if problems is not None:
            assert problems[0] in {"from", "to", "days"}
            assert problems[1]
            continue
        assert span.first <= span.last <= TODAY
        assert 1 <= len(span) <= MAX_DAYS
        assert len(span.days) == len(span)
        assert len(set(span.days)) == len(span)
