"""API shapes of outgoing webhooks: deliveries with their attempts, and the signing secret."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from offerengine.webhooks.core import PENDING
from offerengine.webhooks.models import WebhookAttempt, WebhookSecret
from offerengine.webhooks.service import DeliveryLog

DeliveryStatus = Literal["pending", "delivered", "failed"]


class AttemptRead(BaseModel):
    attempt: int = Field(description="The attempt's number, from 1 (re-sending goes on counting).")
    started_at: datetime
    duration_ms: int
    address: str | None = Field(description="The address connected to, once vetted.")
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered.")
    error: str | None = Field(description="Why there was no 2xx: refused, timed out, refused …")
    delivered: bool

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> AttemptRead:
        return cls.model_validate(attempt, from_attributes=True)


class DeliveryRead(BaseModel):
    id: uuid.UUID = Field(description="Also sent as `OfferEngine-Delivery`, the same each time.")
    event_type: str
    url: str
    status: DeliveryStatus
    attempts: int = Field(description="Attempts made so far.")
    attempt_limit: int = Field(description="The delivery is failed once `attempts` reaches it.")
    next_attempt_at: datetime | None = Field(description="When pending: when it is next tried.")
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="The JSON body sent (and signed).")
    log: list[AttemptRead] = Field(description="Every attempt, oldest first.")

    @classmethod
    def of(cls, found: DeliveryLog) -> DeliveryRead:
        d = found.delivery
        return cls(
            id=d.id,
            event_type=d.event_type,
            url=d.url,
            status=d.status,  # one of DeliveryStatus, as stored
            attempts=d.attempts,
            attempt_limit=d.attempt_limit,
            next_attempt_at=d.next_attempt_at if d.status == PENDING else None,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            payload=json.loads(d.body),
            log=[AttemptRead.of(a) for a in found.attempts],
        )


class DeliveryList(BaseModel):
    items: list[DeliveryRead]


class WebhookSecretRead(BaseModel):
    secret: str = Field(
        description="Signs every delivery: `OfferEngine-Signature: t=<unix>,v1=<hex>` with "
        "`hex = HMAC-SHA256(secret, t + '.' + body)`."
    )
    created_at: datetime
    previous_until: datetime | None = Field(
        description="After a rotation, the previous secret also signs (a second `v1`) until then."
    )

    @classmethod
    def of(cls, secret: WebhookSecret) -> WebhookSecretRead:
        return cls(
            secret=secret.secret,
            created_at=secret.created_at,
            previous_until=secret.previous_until,
        )
