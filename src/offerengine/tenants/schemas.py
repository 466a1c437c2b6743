from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import ErrorDetails

from offerengine import money
from offerengine.rulebook import core as rulebook

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


@cache
def countries() -> frozenset[str]:
    """The ISO 3166 alpha-2 country codes, from the time zone database's own copy of the
    standard's list (``iso3166.tab`` in tzdata, which is kept current with it)."""
    text = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text("utf-8")
    return frozenset(
        line.split("\t", 1)[0] for line in text.splitlines() if line and not line.startswith("#")
    )


def _check_country(value: str) -> str:
    if value not in countries():
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code (e.g. US, TR, GB)")
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
Country = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_check_country),
    Field(
        description="Where the tenant is based: an ISO 3166 alpha-2 code (seed 001's airlines' "
        "`country`).",
        examples=["US"],
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
    country: Country | None = None
    status: TenantStatus = "active"
    settings: dict[str, Any] = Field(
        default_factory=dict,
        max_length=MAX_SETTINGS_KEYS,
        description="Tenant settings read by later capabilities (limits, webhook URLs …).",
    )


# What a body in seed 001's airline shape (`{"code", "name", "country"}`) must add.
_REQUIRED = {
    "kind": 'kind is required: "airline" (as seed 001\'s airlines), "marketplace" or "retail"',
    "base_currency": "base_currency is required: the ISO 4217 code prices default to, e.g. "
    '"USD" (a country does not fix one)',
}


class TenantCreate(TenantFields):
    """A tenant. Seed 001's airline body (`code`, `name`, `country`) is taken with `kind` and
    `base_currency` added."""

    code: Code
    template_sets: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=10,
        description="Template sets to apply to the new tenant in the same transaction, in order "
        "(GET /v1/admin/template-sets lists them); each must be for the tenant's kind and in "
        "its base currency.",
        examples=[["airline-packages"]],
    )

    @model_validator(mode="wrap")
    @classmethod
    def _say_what_to_add(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            found = exc.errors()
            if not any(_unsaid(e) for e in found):
                raise
            raise ValidationError.from_exception_data(
                exc.title,
                [
                    rulebook.custom_error(e["loc"], _REQUIRED[str(e["loc"][0])], data)
                    if _unsaid(e)
                    else rulebook.line_error(e)
                    for e in found
                ],
            ) from None


def _unsaid(error: ErrorDetails) -> bool:
    return error["type"] == "missing" and len(error["loc"]) == 1 and error["loc"][0] in _REQUIRED


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
    country: str | None = Field(default=None, description="ISO 3166 alpha-2; null if not given.")
    status: str
    settings: dict[str, Any]
    config_version: int = Field(
        description="Moves with every change to the tenant's configuration."
    )
    version: int
    created_at: datetime
    updated_at: datetime
