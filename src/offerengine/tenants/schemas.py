from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from offerengine import money

TenantKind = Literal["airline", "marketplace", "retail"]
TenantStatus = Literal["active", "suspended"]
MAX_SETTINGS_KEYS = 100


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _check_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Istanbul)")
    return value


def _check_currency(value: str) -> str:
    try:
        money.currency(value)
    except money.UnknownCurrency as exc:
        raise ValueError(str(exc)) from exc
    return value


Code = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9]{2,10}$"),
    Field(
        description="Unique, 2-10 upper-case letters or digits (an IATA code for an airline).",
        examples=["OE"],
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Currency = Annotated[
    str,
    AfterValidator(_check_currency),
    Field(
        description="ISO 4217 code of the base currency.",
        examples=["USD"],
        json_schema_extra={"enum": money.currency_codes()},
    ),
]
TimeZone = Annotated[
    str,
    AfterValidator(_check_zone),
    Field(
        description="IANA time zone.",
        examples=["America/New_York"],
        json_schema_extra={"enum": sorted(_zones())},
    ),
]


class TenantFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: TenantKind
    base_currency: Currency
    timezone: TimeZone = "UTC"
    status: TenantStatus = "active"
    settings: dict[str, Any] = Field(
        default_factory=dict,
        max_length=MAX_SETTINGS_KEYS,
        description="Tenant settings read by later capabilities (limits, webhook URLs …).",
    )


class TenantCreate(TenantFields):
    code: Code


class TenantUpdate(TenantFields):
    """A full replacement of the tenant's fields; the code cannot change."""

    version: int | None = Field(
        default=None,
        ge=1,
        description="Optimistic concurrency: the version this change is based on.",
    )


class TenantRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    base_currency: str
    timezone: str
    status: str
    settings: dict[str, Any]
    config_version: int = Field(
        description="Moves with every change to the tenant's configuration."
    )
    version: int
    created_at: datetime
    updated_at: datetime
