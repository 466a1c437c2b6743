"""Records into their tables: the statements of one batch, and the dead-letter table's writes.

A batch is written in one transaction. Its plain rows go through :func:`db.rows.insert_many` (the
ORM's bulk path, and then SQLAlchemy's own multi-row insert, spent more than the database on these
rows); the counts its searches add up (offers shown per type, segment and day) are upserts
computed from the records of the batch, so a record refused and set aside takes its counts with it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

import sqlalchemy as sa

from offerengine.commerce.models import QuoteLine, StoredQuote
from offerengine.db import upsert
from offerengine.db.rows import insert_many, insert_tuples
from offerengine.decisioning.models import Decision as DecisionRow
from offerengine.experiments.models import Exposure as ExposureRow
from offerengine.ids import new_time_uuid
from offerengine.learning.models import DecisionLog
from offerengine.recording import records as r
from offerengine.recording.models import DeadLetter
from offerengine.shopping.models import OfferBody, OfferDay, OfferStat, StoredSearch

STAT_KEYS = ["tenant_id", "offer_type", "segment"]  # an offer type's shown/ordered counts


class Tuples(NamedTuple):
    """A statement of a batch: insert rows given as tuples (in its columns' order) into ``table``."""

    table: sa.Table


# A batch's statements, each with its rows: a table and its rows as mappings, Tuples and its rows
# as tuples, or a statement and its parameters.
Statements = list[tuple[Any, list[Any]]]

_SEARCH_COLUMNS = tuple(c.key for c in StoredSearch.__table__.columns if c.key != "tenant_id")
_QUOTE_COLUMNS = tuple(
    c.key
    for c in StoredQuote.__table__.columns
    if c.key not in ("tenant_id", "status", "accepted_at")
)


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _log_row(tenant_id: Any, log: r.ChoiceLog) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "decision_id": log.decision_id,
        "activity_id": log.activity_id,
        "rank": log.rank,
        "made_at": log.made_at,
        "offer_id": log.offer_id,
        "propensity": log.propensity,
        "candidates": log.candidates,
        "contexts": log.contexts,
        "model": log.model,
        "shadow": log.shadow,
    }


def statements(dialect: str, batch: Sequence[r.Record]) -> Statements:
    """The statements that store ``batch`` (records of any kinds, each once)."""
    searches: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    decisions: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    quotes: list[dict[str, Any]] = []
    lines: list[tuple[Any, ...]] = []
    exposures: list[dict[str, Any]] = []
    counts: Counter[tuple[Any, str, str]] = Counter()
    days: Counter[tuple[Any, Any, str]] = Counter()
    for record in batch:
        tenant_id = record.tenant_id
        if isinstance(record, r.Search):
            row = {c: getattr(record, c) for c in _SEARCH_COLUMNS}
            row["tenant_id"] = tenant_id
            searches.append(row)
            for body in record.bodies:
                bodies.append(
                    {
                        "id": body.id,
                        "tenant_id": tenant_id,
                        "members_json": body.members_json,
                        "basis_json": body.basis_json,
                        "expires_at": body.expires_at,
                    }
                )
            logs.extend(_log_row(tenant_id, log) for log in record.logs)
            day = record.created_at.date()
            for offer_type in record.shown:
                counts[(tenant_id, offer_type, record.segment)] += 1
                days[(tenant_id, day, offer_type)] += 1
        elif isinstance(record, r.Decision):
            decisions.append(
                {
                    "id": record.id,
                    "tenant_id": tenant_id,
                    "profile_id": record.profile_id,
                    "made_at": record.made_at,
                    "propositions": record.propositions,
                }
            )
            logs.extend(_log_row(tenant_id, log) for log in record.logs)
        elif isinstance(record, r.Quote):
            row = {c: getattr(record, c) for c in _QUOTE_COLUMNS}
            row.update(tenant_id=tenant_id, status="QUOTED", accepted_at=None)
            quotes.append(row)
            lines.extend((tenant_id, record.id, *line) for line in record.lines)
        elif isinstance(record, r.Exposure):
            exposures.append(
                {
                    "id": new_time_uuid(),
                    "tenant_id": tenant_id,
                    "experiment_id": record.experiment_id,
                    "unit_id": record.unit_id,
                    "variant": record.variant,
                    "bucket": record.bucket,
                    "exposed_at": record.exposed_at,
                }
            )
        else:  # pragma: no cover - every kind is handled above
            raise TypeError(f"no table for {type(record).__name__}")
    found: Statements = []
    for model, rows in (
        (OfferBody, bodies),
        (StoredSearch, searches),
        (DecisionRow, decisions),
        (DecisionLog, logs),
        (StoredQuote, quotes),
    ):
        if rows:
            found.append((_table(model), rows))
    if lines:
        found.append((Tuples(_table(QuoteLine)), lines))
    if counts:
        found.append(
            (
                upsert.add_up_statement(dialect, OfferStat, STAT_KEYS, ["shown", "ordered"]),
                [
                    {"tenant_id": t, "offer_type": k, "segment": g, "shown": n, "ordered": 0}
                    for (t, k, g), n in sorted(counts.items())
                ],
            )
        )
    if days:
        found.append(
            (
                upsert.add_up_statement(
                    dialect, OfferDay, ["tenant_id", "day", "offer_type"], ["shown"]
                ),
                [
                    {"tenant_id": t, "day": d, "offer_type": k, "shown": n}
                    for (t, d, k), n in sorted(days.items())
                ],
            )
        )
    if exposures:
        found.append(
            (
                upsert.insert_for(dialect, ExposureRow).on_conflict_do_nothing(
                    index_elements=["experiment_id", "unit_id"]
                ),
                exposures,
            )
        )
    return found


def execute(connection: sa.Connection, found: Statements) -> None:
    """Run a batch's statements; a table stands for inserting the rows into it."""
    for statement, parameters in found:
        if isinstance(statement, sa.Table):
            insert_many(connection, statement, parameters)
        elif isinstance(statement, Tuples):
            insert_tuples(connection, statement.table, parameters)
        else:
            connection.execute(statement, parameters)


def dead_letter_statement(dialect: str) -> Any:
    """Insert dead letters; one already kept for the same record is left as it is (a record
    set aside twice, by two flushes or two consumers, is one dead letter)."""
    return upsert.insert_for(dialect, DeadLetter).on_conflict_do_nothing(
        index_elements=["kind", "record_id"]
    )


def dead_letter_row(record: r.Record, error: str, *, source: str, at: datetime) -> dict[str, Any]:
    return {
        "id": new_time_uuid(),
        "tenant_id": record.tenant_id,
        "kind": r.kind_of(record),
        "record_id": record.record_id[:200],
        "source": source,
        "error": error[:4000],
        "payload": r.to_json(record),
        "created_at": at,
        "redriven_at": None,
    }
