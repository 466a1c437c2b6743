from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offerengine.errors import Invalid
from offerengine.pagination import decode_cursor, encode_cursor

scalars = (
    st.none()
    | st.integers()
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False)
)


@given(st.lists(scalars, min_size=1, max_size=3))
def test_cursors_carry_their_sort_keys_unchanged(values: list[object]) -> None:
    assert decode_cursor(encode_cursor(values), len(values)) == values  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "cursor", ["", "garbage!", encode_cursor(["a"]) + "x", encode_cursor(["a", "b"])]
)
def test_a_cursor_we_did_not_make_is_a_422_on_the_cursor(cursor: str) -> None:
    with pytest.raises(Invalid) as raised:
        decode_cursor(cursor, 1)
    assert raised.value.errors[0].loc == ("query", "cursor")
