"""The quote request's quick reading (msgspec) never accepts what the schema of record (pydantic)
refuses, and reads what it accepts as pydantic does, to the digit and the space; the requests
people send take the quick path."""

from __future__ import annotations

import dataclasses
import json
import os
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from offerengine.commerce import quote_request
from offerengine.commerce.quote_schemas import QuoteContext, QuoteRequest
from offerengine.errors import Invalid, MalformedInput
from tests.e2e.test_quotes import SEED_REQUEST


@dataclasses.dataclass(frozen=True)
class Raw:
    """A JSON token written as is (``1e5``, ``2.50``, ``-0.0``)."""

    text: str


@dataclasses.dataclass(frozen=True)
class Obj:
    """A JSON object as its pairs, so that a key may come twice."""

    pairs: tuple[tuple[str, Any], ...]


def dumps(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` 29 times in 30, else ``odd``: mostly valid requests, each with a few odd
    values, so that both readings are tried on the edges of what is valid."""
    # Not integers(0, 9): hypothesis draws the ends of a range far more often than the middle.
    return st.sampled_from([True] * 29 + [False]).flatmap(lambda ok: good if ok else odd)


GOOD_TEXTS = st.sampled_from(["A", "Istanbul", "İstanbul", "Kadıköy", "a" * 200, "ü" * 200, "😀"])  # noqa: RUF001 (Turkish)
ODD_TEXTS = st.sampled_from(
    [" A", "A ", "\tA", "A\n", "\x1fA", "A\x85", "\u00a0A", "A\u2003", "\u200bA", "A\u3000",
     "", " ", "a" * 201, " " + "a" * 200, "x\x00y"]
)  # fmt: skip
TEXTS = mostly(GOOD_TEXTS, ODD_TEXTS)
GOOD_TOKENS = st.sampled_from(
    ["0", "1", "25", "0.0", "0.4", "2.50", "1e5", "1E+2", "1e-7", "100000.0", "100000", "99999.99",
     "0.1e1", "1.0", "0.30000000000000004", "999999999.5", "123456789012345678"]
)  # fmt: skip
ODD_TOKENS = st.sampled_from(
    ["-1", "-0", "-0.0", "100001", "1e400", "-1e400", "1234567890123456789", "623633727496590.2",
     "1e9", "true", "false", "null", '"1"', "[]", "{}"]
)  # fmt: skip
GOOD_AMOUNT_STRINGS = st.sampled_from(
    ["0", "25", "25.50", "25.5", "0.05", "007.5", "123456789012345678", "99999.999", "100000"]
)
ODD_AMOUNT_STRINGS = st.sampled_from(
    [" 5", "5 ", "1_000", "1e2", "-1", "+5", "5.", ".5", "NaN", "Infinity", "-0", "\u0665", "\uff11",
     "0x10", "", "1234567890123456789", "12345678901234567.8", "1.000000000000000001",
     "100000.0001"]
)  # fmt: skip
AMOUNTS = mostly(
    st.one_of(
        GOOD_AMOUNT_STRINGS,
        st.decimals(0, 10**6, places=2).map(str),
        GOOD_TOKENS.map(Raw),
        st.integers(0, 10**6),
        st.floats(0, 2e5).map(lambda f: Raw(repr(f))),
    ),
    st.one_of(
        ODD_AMOUNT_STRINGS,
        ODD_TOKENS.map(Raw),
        st.integers(-5, 10**19),
        st.floats(-1, 2e15, allow_nan=False).map(lambda f: Raw(repr(f))),
    ),
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return mostly(st.one_of(strategy, st.none()), ODD_TOKENS.map(Raw))


@st.composite
def objects(
    draw: st.DrawFn,
    fields: dict[str, st.SearchStrategy[Any]],
    required: set[str],
    rare: frozenset[str] = frozenset(),
) -> Obj:
    """An object with some of ``fields`` (the required ones nearly always, the ``rare`` ones
    seldom), now and then an unknown key or a key twice."""

    def chance(percent: int) -> bool:
        # The likelier outcome first: hypothesis draws the first of sampled_from the most.
        likely = percent >= 50
        first, then = (percent, 100 - percent) if likely else (100 - percent, percent)
        return draw(st.sampled_from([likely] * first + [not likely] * then))

    pairs = []
    for name, strategy in fields.items():
        if chance(98 if name in required else 10 if name in rare else 50):
            pairs.append((name, draw(strategy)))
    if chance(2):
        pairs.append(("unknown", 1))
    if pairs and chance(3):
        pairs.append((pairs[0][0], draw(fields[pairs[0][0]])))
    return Obj(tuple(pairs))


COORDINATES = mostly(
    st.floats(-90, 90).map(lambda f: Raw(repr(f))),
    st.one_of(st.floats(-200, 200).map(lambda f: Raw(repr(f))), ODD_TOKENS.map(Raw), st.none()),
)
ADDRESS = objects(
    {
        "street": maybe(TEXTS),
        "city": TEXTS,
        "district": maybe(TEXTS),
        "country": mostly(
            st.sampled_from(["TR", "tr", "Tr", "DE"]),
            st.sampled_from(["T", "TUR", " TR", "TR\n", "İT", "1A", ""]),
        ),
        "postal_code": maybe(mostly(st.just("34000"), st.just("1" * 21))),
        "latitude": COORDINATES,
        "longitude": COORDINATES,
    },
    {"city", "country", "latitude", "longitude"},
)
ITEM = objects(
    {
        "product_id": TEXTS,
        "variant_id": maybe(TEXTS),
        "name": maybe(TEXTS),
        "quantity": mostly(
            st.integers(1, 1_000_000),
            st.one_of(
                st.integers(-1, 0), st.just(1_000_001), GOOD_TOKENS.map(Raw), ODD_TOKENS.map(Raw)
            ),
        ),
        "unit_price": AMOUNTS,
        "category_id": maybe(TEXTS),
        "category": maybe(TEXTS),
        "tags": mostly(
            st.lists(st.sampled_from(["a", "b" * 50, "ü"]), max_size=3),
            st.sampled_from([["c" * 51], [" d"], ["t"] * 51, Raw("null"), [1]]),
        ),
        "weight": mostly(
            st.one_of(st.none(), st.decimals(0, 100, places=3).map(str), st.just(Raw("0.4"))),
            AMOUNTS,
        ),
        "seller_id": maybe(TEXTS),
        "logistics_provider": maybe(TEXTS),
    },
    {"product_id", "quantity", "unit_price"},
    frozenset({"category"}),  # with category_id, pydantic refuses it
)
CONTEXT_TEXTS = mostly(
    st.one_of(GOOD_TEXTS, st.none(), st.sampled_from(["x" * 100, "x" * 200])),
    st.one_of(
        ODD_TEXTS,
        st.sampled_from(["x" * 101, "x" * 201, "x" * 1000, "x" * 1001]),
        st.integers(-5, 5),
        st.booleans(),
    ),
)
CONTEXT_VALUES = mostly(
    st.one_of(GOOD_TEXTS, st.none(), st.integers(-5, 5), st.booleans(), st.just(Raw("1.5"))),
    st.one_of(
        ODD_TEXTS,
        st.sampled_from(["x" * 500, "x" * 501]),
        ODD_TOKENS.map(Raw),
        st.just(Obj((("a", 1),))),
    ),
)
CONTEXT = mostly(
    objects(
        {
            "user_agent": CONTEXT_TEXTS,
            "ip_address": CONTEXT_TEXTS,
            "session_id": CONTEXT_TEXTS,
            "ab_test_group": CONTEXT_TEXTS,
            "segment": CONTEXT_TEXTS,
            "tier": CONTEXT_VALUES,
            "visits": CONTEXT_VALUES,
        },
        set(),
    ),
    st.one_of(
        st.integers(45, 56).map(lambda n: Obj(tuple((f"k{i}", i) for i in range(n)))),
        st.just(Raw("null")),
    ),
)
REQUEST = objects(
    {
        "customer_id": maybe(TEXTS),
        "seller_id": maybe(TEXTS),
        "logistics_provider": maybe(TEXTS),
        "items": mostly(
            st.lists(ITEM, min_size=1, max_size=3),
            st.sampled_from([[], Raw("null"), Raw("{}")]),
        ),
        "delivery_address": ADDRESS,
        "pickup_address": st.one_of(ADDRESS, st.none()),
        "is_express_delivery": mostly(
            st.booleans(), st.sampled_from([Raw('"true"'), Raw("1"), Raw("0"), Raw("null")])
        ),
        "coupon_codes": mostly(
            st.lists(st.sampled_from(["SAVE20", "x" * 40, " S"]), max_size=3),
            st.sampled_from([[""], ["x" * 41], ["C"] * 11]),
        ),
        "currency": maybe(
            mostly(st.sampled_from(["TRY", "USD"]), st.sampled_from(["try", "XXX", "NUC", ""]))
        ),
        "context": CONTEXT,
    },
    {"items", "delivery_address"},
)


def shape(request: quote_request.Request) -> str:
    """Everything the request says, written so that 2.5 and 2.50, or 1 and 1.0, differ."""
    fields = msgspec.to_builtins(request)  # Decimals as their strings: "2.50" is not "2.5"
    fields["context"] = sorted(fields["context"].items())
    return repr(fields)


def _refusal(raw: bytes) -> str:
    """Why pydantic refuses ``raw``, with the request in full."""
    try:
        QuoteRequest.model_validate_json(raw)
    except ValidationError as exc:
        return f"{raw.decode()}\n{exc}"
    return raw.decode()


def pydantics(raw: bytes) -> quote_request.Request | None:
    try:
        return quote_request.of(QuoteRequest.model_validate_json(raw))
    except ValidationError:
        return None


@settings(max_examples=int(os.environ.get("QUOTE_REQUEST_EXAMPLES", "1000")), deadline=None)
@given(REQUEST)
@example(
    Obj(
        (
            ("items", [Obj((("product_id", "p"), ("quantity", 1), ("unit_price", Raw("1e5"))))]),
            ("delivery_address", Obj((("city", "A"), ("country", "tr")))),
        )
    )
)
def test_the_quick_reading_accepts_only_what_pydantic_accepts_and_reads_it_alike(
    document: Obj,
) -> None:
    raw = dumps(document).encode()
    quick = quote_request._fast(raw)
    if quick is not None:
        slow = pydantics(raw)
        assert slow is not None, _refusal(raw)
        assert shape(quick) == shape(slow), raw.decode()
    # And decode() answers as pydantic does, whichever way it read the request.
    slow = pydantics(raw)
    if slow is None:
        with pytest.raises((Invalid, MalformedInput)):
            quote_request.decode(raw)
    else:
        assert shape(quote_request.decode(raw)) == shape(slow)


def _bench_basket() -> dict[str, Any]:
    return {
        "customer_id": "c-1",
        "seller_id": "seller-07",
        "logistics_provider": "mng-kargo",
        "items": [
            {"product_id": f"p-{i}", "variant_id": "v1", "quantity": 1 + i % 3,
             "unit_price": f"{49 + 37 * i}.90", "category_id": f"cat-{i:02d}", "tags": ["bench"],
             "weight": 0.4}
            for i in range(10)
        ],
        "delivery_address": {"street": "Cadde 1", "city": "Izmir", "country": "TR",
                             "latitude": 38.47, "longitude": 27.19},
        "pickup_address": {"city": "Izmir", "country": "TR", "latitude": 38.42,
                           "longitude": 27.14},
        "is_express_delivery": True,
        "coupon_codes": ["SAVE20"],
        "currency": "TRY",
        "context": {"session_id": "s-1", "ab_test_group": "group_a", "visits": 3},
    }  # fmt: skip


def test_the_requests_people_send_take_the_quick_path() -> None:
    # The seed's example as written, and the bench's basket: if these fell back to pydantic the
    # quick path would be dead weight.
    for request in (SEED_REQUEST, _bench_basket()):
        raw = json.dumps(request).encode()
        quick = quote_request._fast(raw)
        assert quick is not None, request
        slow = pydantics(raw)
        assert slow is not None
        assert shape(quick) == shape(slow)


@pytest.mark.parametrize(
    ("change", "read"),
    [
        (lambda r: r["delivery_address"].update(city=" Izmir "), lambda q: q.delivery_address.city),
        (lambda r: r["items"][0].update(unit_price=" 49.90"), lambda q: q.items[0].unit_price),
        (lambda r: r["items"][0].update(unit_price=5e9), lambda q: q.items[0].unit_price),
        (lambda r: r.update(is_express_delivery="true"), lambda q: q.is_express_delivery),
    ],
    ids=[
        "spaces around a city",
        "spaces around an amount",
        "a number past 1e9",
        '"true"',
    ],
)
def test_what_the_quick_path_is_unsure_of_pydantic_reads(change: Any, read: Any) -> None:
    request = _bench_basket()
    change(request)
    raw = json.dumps(request).encode()
    assert quote_request._fast(raw) is None
    slow = pydantics(raw)
    assert slow is not None
    assert repr(read(quote_request.decode(raw))) == repr(read(slow))


def test_a_refused_request_names_its_field_as_pydantic_does() -> None:
    request = _bench_basket()
    request["items"][3]["quantity"] = -1
    with pytest.raises(Invalid) as refused:
        quote_request.decode(json.dumps(request).encode())
    assert [e.loc for e in refused.value.errors] == [("body", "items", 3, "quantity")]
    with pytest.raises(MalformedInput):
        quote_request.decode(b'{"items": [')
    assert (
        Decimal("49.90")
        == quote_request.decode(json.dumps(_bench_basket()).encode()).items[0].unit_price
    )


@pytest.mark.parametrize("quantity", [True, False, "2", 2.0, "1e0"])
def test_a_quantity_is_a_json_integer_and_nothing_else_stands_for_one(quantity: Any) -> None:
    # true was read as 1 and "2" as 2: a client's bug priced as a basket.
    request = _bench_basket()
    request["items"][2]["quantity"] = quantity
    with pytest.raises(Invalid) as refused:
        quote_request.decode(json.dumps(request).encode())
    assert [e.loc for e in refused.value.errors] == [("body", "items", 2, "quantity")]


def test_the_quick_reading_knows_the_schemas_context_attributes_and_their_limits() -> None:
    # A context attribute added to QuoteContext, or a limit changed, must reach the quick path
    # (which would otherwise count it among the free-form attributes).
    properties = QuoteContext.model_json_schema()["properties"]
    limits = {
        name: next(t["maxLength"] for t in properties[name]["anyOf"] if t.get("type") == "string")
        for name in QuoteContext.model_fields
    }
    assert limits == quote_request.CONTEXT_LIMITS


def test_json_nested_past_the_readers_limits_is_a_400_not_a_500() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for raw in (nested, b'{"context": {"a": ' + nested + b"}}"):
        with pytest.raises(MalformedInput):
            quote_request.decode(raw)
