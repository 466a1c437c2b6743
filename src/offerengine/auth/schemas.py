from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from offerengine.ratelimit import RateLimit

TenantRoleName = Literal["owner", "editor", "viewer", "runtime"]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = (
        Field(examples=["checkout-service"])
    )
    role: TenantRoleName = Field(
        description="owner: keys and everything below; editor: write configuration; viewer: read "
        "configuration and analytics; runtime: shop, decide, quote, events, flags."
    )
    rate_limit: RateLimit | None = Field(
        default=None,
        description="The key's own limit on run time; unset, the tenant's and the deployment's "
        "apply (docs/operations.md, Overload).",
    )


class ApiKeyUpdate(BaseModel):
    """What of a key can change after it is made."""

    model_config = ConfigDict(extra="forbid")

    rate_limit: RateLimit | None = Field(
        description="The key's own limit on run time; null takes it away."
    )


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    name: str
    role: str
    prefix: str = Field(description="The first characters of the secret, to recognise the key.")
    created_at: datetime
    revoked_at: datetime | None
    rate_limit: RateLimit | None = Field(default=None, description="The key's own limit.")


class ApiKeyCreated(ApiKeyRead):
    secret: str = Field(description="The key itself. Shown once: store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
