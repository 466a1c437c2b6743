"""The records a run-time answer leaves, one typed struct per kind.

A record is what was answered, as it will be stored: a search with the offers it showed (and the
offer bodies it made, and what its conversion model chose from), a decision with its propositions
(and what its bandits chose from, with the propensities), a quote with its analytics lines, an
experiment exposure. Every record names its tenant and has a key that is unique for its kind
(``key``): writing a record again is a no-op, so a record redelivered is stored once.

Records are msgspec structs, tagged by ``kind``, so that the same value is written by the embedded
writer, encoded onto a stream, and kept as JSON in the dead-letter table when the database refuses
it (:func:`to_json` / :func:`from_json`, which survive text the database cannot store).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import msgspec

if TYPE_CHECKING:
    from offerengine.experiments.core import Assignment


class Record(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """What every record has: its tenant."""

    tenant_id: uuid.UUID

    @property
    def key(self) -> tuple[Any, ...]:
        """Unique among the records of its kind: what a redelivery is recognised by."""
        raise NotImplementedError

    @property
    def record_id(self) -> str:
        """The key as text (the dead-letter table's)."""
        return ":".join(str(part) for part in self.key[1:])


class ChoiceLog(msgspec.Struct, frozen=True, kw_only=True):
    """What a learner logged of one item it proposed: the candidates it chose from in order, the
    probability of its choice, the feature vectors by shape, the model version, the shadow's pick
    (a ``decision_logs`` row, but its tenant)."""

    decision_id: uuid.UUID
    activity_id: uuid.UUID
    rank: int
    made_at: datetime
    offer_id: str
    propensity: float
    candidates: list[str]
    contexts: dict[str, list[float]]
    model: dict[str, Any] | None = None
    shadow: str | None = None


class OfferBody(msgspec.Struct, frozen=True, kw_only=True):
    """What the offers of one ranked result share (an ``offer_bodies`` row, but its tenant)."""

    id: str
    members_json: str
    basis_json: str
    expires_at: datetime


class Search(Record, frozen=True, tag="search"):
    """A search and the offers it showed: what is each offer's own (``offers_json``), the offer
    types in the order shown (the counts that rank offers), the bodies it made that were not stored
    yet, and its conversion model's logs."""

    id: str  # the row's key, which its offer ids begin with
    search_id: str
    segment: str
    customer_id: str | None
    currency: str
    experiments_json: str
    offers_json: str
    created_at: datetime
    expires_at: datetime
    shown: list[str]
    bodies: list[OfferBody] = []
    logs: list[ChoiceLog] = []

    @property
    def key(self) -> tuple[Any, ...]:
        return ("search", self.id)


class Decision(Record, frozen=True, tag="decision"):
    """A decision: for whom, when, every item proposed per activity (the fallback included), and
    what its learners chose from, with the propensities."""

    id: uuid.UUID
    profile_id: str
    made_at: datetime
    propositions: list[dict[str, Any]]
    logs: list[ChoiceLog] = []

    @property
    def key(self) -> tuple[Any, ...]:
        return ("decision", self.id)


class Quote(Record, frozen=True, tag="quote"):
    """A quote as it was answered (``data``, its JSON) with its totals in minor units, and its
    analytics lines (tuples in ``quote_lines``' column order after the tenant and quote)."""

    id: uuid.UUID
    request_hash: str
    created_at: datetime
    valid_until: datetime
    day: str
    customer_id: str | None
    seller_id: str | None
    city: str
    country: str
    currency: str
    item_total: int
    discount: int
    tax: int
    delivery_fee: int
    small_basket_fee: int
    total: int
    commission: int
    coupons: list[dict[str, Any]]
    data: bytes
    lines: list[tuple[Any, ...]] = []

    @property
    def key(self) -> tuple[Any, ...]:
        return ("quote", self.id)


class Exposure(Record, frozen=True, tag="exposure"):
    """A unit's exposure to an experiment; only the first is kept (the variant is sticky)."""

    experiment_id: uuid.UUID
    unit_id: str
    variant: str
    bucket: float | None
    exposed_at: datetime

    @property
    def key(self) -> tuple[Any, ...]:
        return ("exposure", self.experiment_id, self.unit_id)


def exposures(
    tenant_id: uuid.UUID, found: Iterable[Mapping[str, Any]], at: datetime
) -> list[Exposure]:
    """Exposure records of the units a flag evaluation put in experiments (``experiment_id``,
    ``unit_id``, ``variant``, ``bucket`` each)."""
    return [
        Exposure(
            tenant_id=tenant_id,
            experiment_id=e["experiment_id"],
            unit_id=e["unit_id"],
            variant=e["variant"],
            bucket=e["bucket"],
            exposed_at=at,
        )
        for e in found
    ]


def exposed(
    tenant_id: uuid.UUID, assignments: Iterable[Assignment], at: datetime
) -> list[Exposure]:
    """Exposure records of the assignments that put their unit in the experiment."""
    return [
        Exposure(
            tenant_id=tenant_id,
            experiment_id=a.experiment.id,
            unit_id=a.hash_value,
            variant=a.variant.key,
            bucket=a.bucket,
            exposed_at=at,
        )
        for a in assignments
        if a.in_experiment
    ]


AnyRecord = Search | Decision | Quote | Exposure
KIND_NAMES = ("search", "decision", "quote", "exposure")  # the dead letters' kinds of records


def kind_of(record: Record) -> str:
    return record.key[0]  # type: ignore[no-any-return]


def to_json(record: Record) -> str:
    """``record`` as ASCII JSON: every character escaped that is not ASCII, so that text a
    database refuses (NUL, lone surrogates) is kept as an escape, not refused again."""
    return json.dumps(msgspec.to_builtins(record), ensure_ascii=True)


def from_json(text: str) -> AnyRecord:
    """A record from :func:`to_json`'s text."""
    return cast(AnyRecord, msgspec.convert(json.loads(text), AnyRecord))
