"""The check for text the database cannot store: for any JSON, however its escapes fall, a body is
refused exactly when a string or key in it holds NUL or a lone surrogate, naming each."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offerengine import text
from offerengine.errors import Invalid, MalformedInput

# Characters that make escapes collide: backslashes, the letters and digits of \u0000 and of
# surrogate escapes, halves of pairs that may or may not meet, and ordinary non-ASCII text.
CHARS = ["\\", "u", "d", "D", "8", "c", "0", "a", '"', "\x00", "\ud800", "\udc00", "\ud83d",
         "\ude00", "\U0001f600", "ğ", "東"]  # fmt: skip
texts = st.text(alphabet=st.sampled_from(CHARS), max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


def _faults(value: Any, loc: tuple[Any, ...] = ("body",)) -> set[tuple[Any, ...]]:
    """Where ``value`` holds unstorable text: the oracle, written plainly."""

    def bad(s: str) -> bool:
        return any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in s)

    if isinstance(value, str):
        return {loc} if bad(value) else set()
    found: set[tuple[Any, ...]] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            shown = text.shown_text(key)
            if bad(key):
                found.add((*loc, shown, "[key]"))
            found |= _faults(child, (*loc, shown))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found |= _faults(child, (*loc, i))
    return found


def _refused(raw: bytes) -> set[tuple[Any, ...]]:
    try:
        text.check_json(raw)
    except Invalid as exc:
        return {e.loc for e in exc.errors}
    return set()


@settings(max_examples=1000)
@given(values)
def test_a_body_is_refused_exactly_where_its_text_cannot_be_stored(value: Any) -> None:
    raw = json.dumps(value).encode()  # every NUL, surrogate and non-ASCII character escaped
    # What a JSON reader makes of it: adjacent halves of a pair become one character.
    assert _refused(raw) == _faults(json.loads(raw))


@settings(max_examples=500)
@given(values)
def test_storable_text_sent_as_utf8_is_never_refused(value: Any) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if raw.decode("utf-8", "surrogatepass") != raw.decode("utf-8", "replace"):
        return  # surrogates encoded: not UTF-8, refused as a 400 (below)
    assert _refused(raw) == _faults(json.loads(raw))


@pytest.mark.parametrize(
    "raw", [b'{"a": "\xff"}', b'{"a\xc3": 1}', b'{"a": "\xed\xa0\x80"}', b'"\xf4\x90\x80\x80"']
)
def test_a_body_that_is_not_utf8_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedInput) as refused:
        text.check_json(raw)
    assert "UTF-8" in refused.value.errors[0].msg


def test_an_emoji_escaped_as_a_pair_is_no_hit() -> None:
    assert text._SUSPECT.search(json.dumps({"note": "\U0001f600"}).encode()) is None


def test_a_query_or_path_with_nul_names_the_parameter() -> None:
    with pytest.raises(Invalid) as refused:
        text.check_query(b"type=SEAT&q=a%00b&%00=1")
    assert [e.loc for e in refused.value.errors] == [("query", "q"), ("query", "\\u0000", "[key]")]
    text.check_query(b"q=%2500")  # the text "%00"
    with pytest.raises(Invalid) as refused:
        text.check_path("/v1/profiles/x\x00y", {"profile_id": "x\x00y"})
    assert [e.loc for e in refused.value.errors] == [("path", "profile_id")]
