"""A quote request, decoded once and cheaply into what pricing reads.

``quote_schemas.QuoteRequest`` (pydantic) is the request's schema of record: the API documents it,
and it names the field of every error. Validating a ten-item basket with it took ~32 µs of a new
quote's time (~60 µs under load); msgspec decodes the same bytes in ~7. So :func:`decode` tries
msgspec first, with types at least as strict as the schema's, and hands the bytes to pydantic
whenever msgspec refuses them or cannot tell that pydantic would read them alike:

- a string that pydantic would strip (``city``, ``product_id``) with space at either end;
- an amount that is not a plain decimal string (``"25.50"``), a whole number, or a number below
  10⁹ (pydantic reads ``"1_000"``, ``" 5 "`` and ``1e5`` its own ways; beyond 10⁹ its float parser
  and msgspec's may differ in the last digit);
- a value of another JSON type than the schema's first choice (``"is_express_delivery":
  "true"``; a quantity is a JSON integer for both, never ``2.0``, ``"2"`` or ``true``), a country that is not two ASCII letters, a currency we do
  not know, coordinates given alone, context attributes beyond the schema's limits, an item with
  both ``category`` and ``category_id``.

Either way the result is a :class:`Request`. ``tests/unit/test_quote_request.py`` checks, for any
JSON it generates, that whatever msgspec accepts pydantic accepts as the same request.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from offerengine import money
from offerengine.commerce import core
from offerengine.commerce.quote_schemas import QuoteRequest
from offerengine.validation import validate


class Request(Struct):
    """A valid quote request, as pricing, flags and storage read it."""

    items: list[core.Item]
    delivery_address: core.Address
    pickup_address: core.Address | None
    is_express_delivery: bool
    coupon_codes: list[str]
    currency: str | None
    customer_id: str | None
    seller_id: str | None
    logistics_provider: str | None
    context: dict[str, Any]  # every context attribute given (the schema's and the others)


def decode(raw: bytes) -> Request:
    """``raw`` as a :class:`Request`; a 400 or a 422 naming the field when it is not one.

    ``raw`` comes from :func:`~offerengine.http.body.raw_body`, which has refused text the
    database cannot store (NUL, lone surrogates): both parsers here would take ``\\u0000``."""
    fast = _fast(raw)
    if fast is not None:
        return fast
    return of(validate(QuoteRequest, raw))


def of(model: QuoteRequest) -> Request:
    """A :class:`Request` of a request pydantic validated."""
    context = dict(model.context.model_extra or {})
    for name in CONTEXT_LIMITS:
        value = getattr(model.context, name)
        if value is not None or name in model.context.model_fields_set:
            context[name] = value
    return Request(
        items=[
            core.Item(
                product_id=i.product_id,
                quantity=i.quantity,
                unit_price=i.unit_price,
                category=i.category_id,
                seller_id=i.seller_id,
                logistics_provider=i.logistics_provider,
                weight=i.weight,
                variant_id=i.variant_id,
            )
            for i in model.items
        ],
        delivery_address=_address_of(model.delivery_address),
        pickup_address=None if model.pickup_address is None else _address_of(model.pickup_address),
        is_express_delivery=model.is_express_delivery,
        coupon_codes=list(model.coupon_codes),
        currency=model.currency,
        customer_id=model.customer_id,
        seller_id=model.seller_id,
        logistics_provider=model.logistics_provider,
        context=context,
    )


def _address_of(given: Any) -> core.Address:
    return core.Address(
        city=given.city,
        country=given.country,
        latitude=given.latitude,
        longitude=given.longitude,
        district=given.district,
    )


# --- msgspec's reading: types as strict as the schema's, or stricter ------------------------------

Text = Annotated[str, Meta(min_length=1, max_length=200)]  # and not stripped: see _text
Optional = Annotated[str, Meta(max_length=200)] | None
Amount = str | int | float  # made a Decimal by _Amounts
# The schema's context attributes and their longest strings (QuoteContext; a test holds them to it).
CONTEXT_LIMITS = {"user_agent": 1000, "ip_address": 100, "session_id": 200,
                  "ab_test_group": 200, "segment": 200}  # fmt: skip
MAX_EXTRA_CONTEXT = 50
MAX_CONTEXT_TEXT = 500


class _Address(Struct, forbid_unknown_fields=True):
    city: Text
    country: str
    street: Annotated[str, Meta(max_length=300)] | None = None
    district: Optional = None
    postal_code: Annotated[str, Meta(max_length=20)] | None = None
    latitude: Annotated[float, Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Meta(ge=-180, le=180)] | None = None


class _Item(Struct, forbid_unknown_fields=True):
    product_id: Text
    quantity: Annotated[int, Meta(ge=1, le=1_000_000)]
    unit_price: Amount
    variant_id: Optional = None
    name: Optional = None
    # Unset rather than None: pydantic refuses both names given, even when one is null.
    category_id: Optional | UnsetType = UNSET
    category: Optional | UnsetType = UNSET  # the schema's other name for category_id
    tags: Annotated[list[Annotated[str, Meta(max_length=50)]], Meta(max_length=50)] = []
    weight: Amount | None = None
    seller_id: Optional = None
    logistics_provider: Optional = None


class _Request(Struct, forbid_unknown_fields=True):
    items: Annotated[list[_Item], Meta(min_length=1, max_length=500)]
    delivery_address: _Address
    customer_id: Optional = None
    seller_id: Optional = None
    logistics_provider: Optional = None
    pickup_address: _Address | None = None
    is_express_delivery: bool = False
    coupon_codes: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=40)]], Meta(max_length=10)
    ] = []
    currency: str | None = None
    context: dict[str, str | int | float | bool | None] = {}


_decoder = msgspec.json.Decoder(_Request)
_PLAIN = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})?")
_FLOATS_BELOW = 1e9  # where pydantic's and msgspec's float parsers were seen to agree


class _Unsure(Exception):
    """msgspec read the request, but pydantic might read it otherwise: ask pydantic."""


def _fast(raw: bytes) -> Request | None:
    """The request as msgspec reads it, or None where pydantic is to read it."""
    try:
        given = _decoder.decode(raw)
        return Request(
            items=_items(given.items),
            delivery_address=_address(given.delivery_address),
            pickup_address=None if given.pickup_address is None else _address(given.pickup_address),
            is_express_delivery=given.is_express_delivery,
            coupon_codes=given.coupon_codes,
            currency=_currency(given.currency),
            customer_id=given.customer_id,
            seller_id=given.seller_id,
            logistics_provider=given.logistics_provider,
            context=_context(given.context),
        )
    except (msgspec.DecodeError, _Unsure):  # ValidationError is a DecodeError
        return None
    except UnicodeDecodeError:  # msgspec's error for a string that is not UTF-8: not JSON
        return None


def _text(value: str) -> str:
    if value != value.strip():  # Python strips all the space pydantic would, and more
        raise _Unsure
    return value


def _items(given: list[_Item]) -> list[core.Item]:
    # One loop, no call per field: this runs for every item of every new quote.
    items = []
    price_of, weight_of = _PRICES.of, _WEIGHTS.of
    for item in given:
        category = item.category_id
        if item.category is not UNSET:
            if category is not UNSET:
                raise _Unsure
            category = item.category
        product_id = item.product_id
        if product_id != product_id.strip():  # Python strips all pydantic would, and more
            raise _Unsure
        weight = item.weight
        items.append(
            core.Item(
                product_id,
                item.quantity,
                price_of(item.unit_price),
                None if category is UNSET else category,
                item.seller_id,
                item.logistics_provider,
                None if weight is None else weight_of(weight),
                item.variant_id,
            )
        )
    return items


class _Amounts:
    """The non-negative Decimals pydantic makes of a field's JSON values, with at most
    ``most_digits`` and at most ``most``; those of strings and floats are remembered (prices
    and weights repeat: reading one anew costs more than the rest of its item)."""

    KEEP = 65_536

    def __init__(self, most_digits: int, most: int | None = None) -> None:
        self.most_digits = most_digits
        self.most = most
        self.strings: dict[str, Decimal] = {}
        self.floats: dict[float, Decimal] = {}  # never 0.0, which equals -0.0 (see _new)

    def of(self, value: Amount) -> Decimal:
        kind = type(value)
        if kind is str:
            found = self.strings.get(value)  # type: ignore[arg-type]
        elif kind is float and value:
            found = self.floats.get(value)  # type: ignore[arg-type]
        else:
            found = None
        return self._new(value) if found is None else found

    def _new(self, value: Amount) -> Decimal:
        most_digits = self.most_digits
        if type(value) is str:
            if not _PLAIN.fullmatch(value) or len(value) - ("." in value) > most_digits:
                raise _Unsure
            found = Decimal(value)
        elif type(value) is int:
            if value < 0 or len(str(value)) > most_digits:
                raise _Unsure
            found = Decimal(value)
        else:
            assert type(value) is float
            if value == 0 and math.copysign(1, value) < 0:  # -0.0: pydantic's Decimal("-0")
                raise _Unsure
            if not 0 <= value < _FLOATS_BELOW:
                raise _Unsure
            # How pydantic makes a Decimal of a JSON number (tests/unit/test_quote_request.py).
            found = Decimal(int(value)) if value.is_integer() else Decimal(repr(value))
            _, digits, exponent = found.as_tuple()
            assert isinstance(exponent, int)
            if max(len(digits), -exponent) > most_digits:
                raise _Unsure
        if self.most is not None and found > self.most:
            raise _Unsure
        if type(value) is str:
            self._keep(self.strings, value, found)
        elif type(value) is float and value:
            self._keep(self.floats, value, found)
        return found

    def _keep(self, known: dict[Any, Decimal], value: Any, found: Decimal) -> None:
        if len(known) >= self.KEEP:
            known.clear()
        known[value] = found


_PRICES = _Amounts(18)
_WEIGHTS = _Amounts(12, 100_000)


def _address(given: _Address) -> core.Address:
    country = given.country
    if not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise _Unsure
    if (given.latitude is None) != (given.longitude is None):
        raise _Unsure
    return core.Address(
        city=_text(given.city),
        country=country.upper(),
        latitude=given.latitude,
        longitude=given.longitude,
        district=given.district,
    )


def _currency(code: str | None) -> str | None:
    if code is not None:
        try:
            money.currency(code)
        except money.UnknownCurrency:
            raise _Unsure from None
    return code


def _context(given: dict[str, str | int | float | bool | None]) -> dict[str, Any]:
    extra = 0
    for name, value in given.items():
        limit = CONTEXT_LIMITS.get(name)
        if limit is not None:
            if not (value is None or (isinstance(value, str) and len(value) <= limit)):
                raise _Unsure
            continue
        extra += 1
        if isinstance(value, str):
            if len(value) > MAX_CONTEXT_TEXT:
                raise _Unsure
        elif isinstance(value, float) and not math.isfinite(value):
            raise _Unsure
    if extra > MAX_EXTRA_CONTEXT:
        raise _Unsure
    return given
