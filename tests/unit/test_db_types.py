"""UTCDateTime binds a time for SQLite in one step: the text SQLAlchemy's own path writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from offerengine.db.base import UTCDateTime

SQLITE = sqlite.dialect()


Bind = Callable[[Any], Any]


def _ours(dialect: sa.Dialect) -> Bind:
    found = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    return found if found is not None else (lambda value: value)


def _sqlalchemys(dialect: sa.Dialect) -> Bind:
    # What UTCDateTime did before it bound SQLite's text itself: process_bind_param, then the
    # dialect's DATETIME format.
    decorated = cast(UTCDateTime, UTCDateTime().dialect_impl(dialect))
    found = sa.types.TypeDecorator.bind_processor(decorated, dialect)
    return found if found is not None else (lambda value: value)


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # noqa: DTZ001 (hypothesis adds the zones)
        max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.one_of(st.just(UTC), st.timezones()),
    )
)
def test_a_time_is_stored_in_sqlite_as_sqlalchemys_text_of_it_in_utc(value: datetime) -> None:
    assert _ours(SQLITE)(value) == _sqlalchemys(SQLITE)(value)


def test_naive_times_are_refused_and_none_is_null() -> None:
    ours = _ours(SQLITE)
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 12, 4, 1, 30))  # noqa: DTZ001 (the point)
    assert ours(None) is None
    assert ours(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02 03:04:05.000000"


def test_postgresql_is_given_aware_utc_times_as_before() -> None:
    dialect = postgresql.dialect()
    value = datetime(2026, 12, 4, 1, 30, tzinfo=UTC)
    assert _ours(dialect)(value) == _sqlalchemys(dialect)(value) == value
