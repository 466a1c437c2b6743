from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from offerengine.fields import InCalendar
from offerengine.loyalty.schemas import PointsPayment
from offerengine.money import format_amount
from offerengine.orders.models import Order

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
OrderStatus = Literal["HELD", "CONFIRMED", "CANCELLED", "EXPIRED"]


class PassengerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ADULT", "CHILD", "INFANT"]
    given_name: Name
    surname: Name
    birth_date: Annotated[dt.date, InCalendar] | None = None
    email: (
        Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)]
        | None
    ) = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    loyalty_number: Annotated[str, StringConstraints(max_length=40)] | None = None


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offer_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    passengers: list[PassengerIn] = Field(min_length=1, max_length=18)
    selected_optional_items: list[Annotated[str, StringConstraints(max_length=40)]] | None = Field(
        default=None,
        max_length=20,
        description="Item ids of the offer's optional items to keep; none given: all of them.",
    )
    pay_with_points: PointsPayment | None = Field(
        default=None,
        description="Points of the search customer's loyalty programme to pay with, or to take "
        "off the total as a discount (docs/loyalty.md).",
    )


class OrderConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class OrderRead(BaseModel):
    id: uuid.UUID
    offer_id: str
    offer_type: str
    status: OrderStatus
    passengers: list[dict[str, Any]]
    items: list[dict[str, Any]]
    price: dict[str, Any]
    total: str
    currency: str
    holds: list[dict[str, Any]]
    hold_expires_at: dt.datetime
    payment_reference: str | None
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    expired_at: dt.datetime | None

    @classmethod
    def of(cls, order: Order) -> OrderRead:
        return cls(
            id=order.id,
            offer_id=order.offer_id,
            offer_type=order.offer_type,
            status=order.status,
            passengers=order.passengers,
            items=order.items,
            price=order.price,
            total=format_amount(order.total_minor, order.currency),
            currency=order.currency,
            holds=order.holds,
            hold_expires_at=order.hold_expires_at,
            payment_reference=order.payment_reference,
            created_at=order.created_at,
            confirmed_at=order.confirmed_at,
            cancelled_at=order.cancelled_at,
            expired_at=order.expired_at,
        )
