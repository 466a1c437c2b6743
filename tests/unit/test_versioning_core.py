from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from offerengine.versioning.core import diff


def test_changes_are_listed_by_field_path_ignoring_bookkeeping() -> None:
    before = {
        "name": "Seat",
        "base_price": "30.00",
        "metadata": {"legroom": 34, "rows": [1, 2]},
        "version": 1,
    }
    after = {
        "name": "Seat",
        "base_price": "35.00",
        "metadata": {"legroom": 35, "rows": [1, 2, 3]},
        "version": 2,
    }
    assert [(c.as_dict()["path"], c.before, c.after) for c in diff(before, after)] == [
        ("base_price", "30.00", "35.00"),
        ("metadata.legroom", 34, 35),
        ("metadata.rows", [1, 2], [1, 2, 3]),
    ]


def test_added_and_removed_keys_show_as_none_on_the_missing_side() -> None:
    changes = diff({"a": 1}, {"b": 2})
    assert [(c.path, c.before, c.after) for c in changes] == [(("a",), 1, None), (("b",), None, 2)]


def test_a_type_change_with_an_equal_value_is_a_change() -> None:
    assert diff({"x": 1}, {"x": True}) != []
    assert diff({"x": 1}, {"x": 1}) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(st.text(min_size=1, max_size=3), json_values, max_size=4),
    st.dictionaries(st.text(min_size=1, max_size=3), json_values, max_size=4),
)
def test_no_difference_means_equal_states(a: dict[str, Any], b: dict[str, Any]) -> None:
    a = {k: v for k, v in a.items() if k not in ("version", "created_at", "updated_at")}
    b = {k: v for k, v in b.items() if k not in ("version", "created_at", "updated_at")}
    assert (diff(a, b) == []) == (a == b and _same_types(a, b))


def _same_types(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same_types(a[k], b[k]) for k in a)
    return type(a) is type(b) and (not isinstance(a, list) or a == b)
