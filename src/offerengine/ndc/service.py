"""NDC's use cases: each message mapped (:mod:`offerengine.ndc.core`) onto the engine's own use
case, which owns its caching, recording and transactions: AirShopping onto the search
(:mod:`offerengine.shopping.searching`), OfferPrice onto pricing a stored offer again, OrderCreate,
OrderRetrieve and OrderCancel onto :mod:`offerengine.orders.booking`. Nothing here stores
anything of its own; an error the engine raises is given the NDC element it is about."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel

from offerengine.context import AppContext
from offerengine.errors import FieldError, Gone, Invalid, Loc, NotFound, OfferEngineError
from offerengine.ndc import core
from offerengine.ndc import schemas as ndc
from offerengine.orders import booking
from offerengine.orders.schemas import OrderCreate
from offerengine.shopping import searching
from offerengine.shopping.schemas import SearchRequest
from offerengine.snapshots.core import Snapshot
from offerengine.validation import validate

T = TypeVar("T")
E = TypeVar("E", bound=OfferEngineError)
M = TypeVar("M", bound=BaseModel)


def _moved(exc: E, where: Callable[[Loc], Loc]) -> E:
    """The same error, its fields named by their NDC elements."""
    fields = [FieldError(where(e.loc), e.msg, e.type) for e in exc.errors]
    if isinstance(exc, Invalid) and not fields:
        fields = [FieldError(where(("body",)), exc.detail)]
    moved = type(exc)(exc.detail, fields, **exc.extensions)
    moved.__cause__ = exc
    return moved


async def _located(work: Awaitable[T], where: Callable[[Loc], Loc]) -> T:
    try:
        return await work
    except Invalid as exc:
        raise _moved(exc, where) from exc


def _checked(model: type[M], data: Any, where: Callable[[Loc], Loc]) -> M:
    try:
        return validate(model, data)
    except Invalid as exc:
        raise _moved(exc, where) from exc


def _about(exc: E, loc: Loc, kind: str) -> E:
    """``exc`` (a 404, 409 or 410 on an offer or order) naming the element that chose it."""
    return type(exc)(exc.detail, [FieldError(loc, exc.detail, kind)], **exc.extensions)


async def air_shopping(
    ctx: AppContext, snapshot: Snapshot, rq: ndc.AirShoppingRQ, now: datetime
) -> dict[str, Any]:
    """AirShoppingRS: the journey search's offers, in NDC's shape."""
    search, found = core.search_request(rq)
    request = _checked(SearchRequest, search, core.search_loc)
    answer = await _located(searching.search(ctx, snapshot, request, now), core.search_loc)
    head = core.payload(rq.message.payload_attributes, now)
    return core.air_shopping_rs(
        msgspec.json.decode(answer), found, request.cabin, owner=snapshot.tenant.code, head=head
    )


async def offer_price(
    ctx: AppContext, snapshot: Snapshot, rq: ndc.OfferPriceRQ, now: datetime
) -> dict[str, Any]:
    """OfferPriceRS: the selected items of a shown offer at the price an order of it charges
    (the price shown, held until the offer expires), once pricing it again now found it still
    for sale; a Warning gives today's price when it moved."""
    request = rq.message.request
    at = (*core.OFFER_PRICE, "PricedOffer", "SelectedOfferList", "SelectedOffer", 0)
    selected = request.priced_offer.selected_offer_list.selected_offer[0]
    offer_id = core.offer_ref(selected, at)
    try:
        stored = await ctx.shop.offer(snapshot.tenant.id, offer_id, now=now)
        done = await ctx.shop.reprice(snapshot, offer_id, now)
    except (NotFound, Gone) as exc:
        raise _about(exc, (*at, "OfferRefID"), "offer_unknown") from exc
    except OfferEngineError as exc:  # 409: the offer can no longer be sold
        raise _about(exc, (*at, "OfferRefID"), "unavailable") from exc
    shown = stored.body
    if request.data_lists is not None:
        pax_at = (*core.OFFER_PRICE, "DataLists", "PaxList", "Pax")
        found = core.travellers(request.data_lists.pax_list.pax, pax_at)
        core.check_travellers(found, shown, (*core.OFFER_PRICE, "DataLists", "PaxList"))
    else:  # the offer's own party, as PAX1, PAX2 …
        found = _party_of(shown)
    owner = snapshot.tenant.code
    selection = core.select(selected, shown, found, owner=owner, at=at)
    core.check_price(selected, shown, core.selected_total(shown, selection.item_ids), at)
    today = core.selected_total(done.offer, selection.item_ids) if done.changed else None
    head = core.payload(rq.message.payload_attributes, now)
    return core.offer_price_rs(shown, found, selection, today=today, owner=owner, head=head)


def _party_of(offer: dict[str, Any]) -> list[core.Traveller]:
    kinds = [
        str(p["type"]) for p in offer["price"]["per_passenger"] for _ in range(int(p["count"]))
    ]
    return [core.Traveller(f"PAX{n}", kind) for n, kind in enumerate(kinds, 1)]


async def order_create(
    ctx: AppContext,
    snapshot: Snapshot,
    rq: ndc.OrderCreateRQ,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """OrderViewRS of the order made (HELD) from the selected offer, and whether it was made now
    (False: this message, or this Idempotency-Key, made it before)."""
    selected, at = core.chosen_offer(rq)
    offer_id = core.offer_ref(selected, at)
    try:
        stored = await ctx.shop.offer(snapshot.tenant.id, offer_id, now=now)
    except (NotFound, Gone) as exc:
        raise _about(exc, (*at, "OfferRefID"), "offer_unknown") from exc
    owner = snapshot.tenant.code
    data = core.order_request(rq, stored.body, owner=owner)
    body = _checked(OrderCreate, data, core.order_loc)
    # No header: the request (not its envelope, whose ids a retry may renew) is its own key,
    # so a message sent again never books twice.
    digest = hashlib.sha256(rq.message.request.model_dump_json().encode()).hexdigest()
    key = idempotency_key or f"ndc-{digest}"
    try:
        booked = await _located(booking.create(ctx, snapshot, body, key, now), core.order_loc)
    except (NotFound, Gone) as exc:
        raise _about(exc, (*at, "OfferRefID"), "offer_unknown") from exc
    except OfferEngineError as exc:
        if isinstance(exc, Invalid):
            raise
        raise _about(exc, (*at, "OfferRefID"), "unavailable") from exc
    head = core.payload(rq.message.payload_attributes, now)
    read = booked.order.model_dump(mode="json")
    return core.order_view_rs(read, owner=owner, head=head), booked.created


def _order_id(ref: ndc.NdcOrderRef, snapshot: Snapshot, at: Loc) -> uuid.UUID:
    if ref.owner_code is not None and ref.owner_code != snapshot.tenant.code:
        msg = f"the orders here are {snapshot.tenant.code}'s"
        raise Invalid.field((*at, "OwnerCode"), msg, "owner_code")
    return ref.order_id


async def order_retrieve(
    ctx: AppContext, snapshot: Snapshot, rq: ndc.OrderRetrieveRQ, now: datetime
) -> dict[str, Any]:
    """OrderViewRS of an order of the tenant's."""
    at: Loc = ("body", "IATA_OrderRetrieveRQ", "Request", "OrderValidationFilterCriteria")
    at = (*at, "OrderFilterCriteria")
    order_id = _order_id(rq.message.request.criteria.order_filter_criteria, snapshot, at)
    try:
        order = await booking.get(ctx, snapshot, order_id, now)
    except NotFound as exc:
        raise _about(exc, (*at, "OrderID"), "order_unknown") from exc
    head = core.payload(rq.message.payload_attributes, now)
    return core.order_view_rs(order.model_dump(mode="json"), owner=snapshot.tenant.code, head=head)


async def order_cancel(
    ctx: AppContext, snapshot: Snapshot, rq: ndc.OrderCancelRQ, now: datetime
) -> dict[str, Any]:
    """OrderCancelRS: the order cancelled, giving back what it held (again: a no-op)."""
    at = ("body", "IATA_OrderCancelRQ", "Request", "Order")
    order_id = _order_id(rq.message.request.order, snapshot, at)
    try:
        order = await booking.cancel(ctx, snapshot, order_id, now)
    except NotFound as exc:
        raise _about(exc, (*at, "OrderID"), "order_unknown") from exc
    head = core.payload(rq.message.payload_attributes, now)
    return core.order_cancel_rs(
        order.model_dump(mode="json"), owner=snapshot.tenant.code, head=head
    )
