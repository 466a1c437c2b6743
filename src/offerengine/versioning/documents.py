"""Document kinds: configuration of which a tenant has exactly one (offer rules, fare settings,
segments, promotions), the other shape of a configuration kind.

A :class:`DocumentKind` declares what a :class:`~offerengine.versioning.kinds.ConfigKind` does
(history name, path, operation id stem, schemas, checks) but has no list, create or delete: the
document is read and replaced at ``/v1/admin/tenants/{tenant}/{path}`` (``get{operation}``,
``put{operation}``, made by :func:`offerengine.versioning.kind_routes.add_kind_routes`), its
history at ``/v1/admin/{path}/{id}/…``. Never saved, it reads as its schema's defaults at version
0; the first save creates it at version 1. Saving is :class:`~offerengine.versioning.editing.Editing`'s
create or update, as for every kind; what a document adds is the check of the URLs it holds that
the engine will call (webhooks), against the deployment's destination policy.

All documents share one table (``TenantDocument``, one row per tenant and kind).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor
from offerengine.errors import FieldError, Loc, raise_if_any
from offerengine.shopping.models import TenantDocument
from offerengine.versioning import service as versioning
from offerengine.versioning.editing import Editing
from offerengine.webhooks import core as webhooks

R = TypeVar("R", bound=BaseModel)
_BOOKKEEPING = ("id", "version", "updated_at")
_NEVER_SAVED = SimpleNamespace(version=0)


@dataclass(frozen=True)
class DocumentKind(Generic[R]):
    """A tenant's one-of-a-kind configuration: its input and read models, its checks, its
    history, where the API serves it."""

    kind: str  # object_type in history and the audit log, and the stored document's kind
    schema: type[BaseModel]  # the input
    read_model: type[R]  # the input, its id, version and updated_at
    check: Callable[[Any], list[FieldError]]
    path: str  # in paths: "fare-settings"
    operation: str  # the operation-id stem: "FareSettings"
    update_schema: type[BaseModel]  # the input and the `version` a change is based on
    # The URLs the engine will call (webhooks), by field: checked against the deployment's
    # destination policy when saved (webhooks.core.url_refusal).
    destinations: Callable[[Any], Mapping[Loc, str]] | None = None

    @property
    def name(self) -> str:
        return self.kind

    @property
    def what(self) -> str:
        return self.kind.replace("_", " ")

    def read(self, doc: TenantDocument | None) -> R:
        """The document as the API shows it: its schema's defaults at version 0 if never saved."""
        data = self.schema.model_validate(doc.data if doc else {}).model_dump(by_alias=True)
        return self.read_model.model_validate(
            {
                **data,
                "id": doc.id if doc else None,
                "version": doc.version if doc else 0,
                "updated_at": doc.updated_at if doc else None,
            }
        )

    def dump(self, doc: TenantDocument) -> dict[str, Any]:
        return self.read(doc).model_dump(mode="json", by_alias=True)

    @functools.cached_property
    def editing(self) -> Editing[TenantDocument, BaseModel]:
        return Editing(
            name=self.kind,
            what=self.what,
            model=TenantDocument,
            dump=self.dump,
            new=lambda tenant_id: TenantDocument(tenant_id=tenant_id, kind=self.kind),
            apply=lambda doc, data: setattr(doc, "data", _values(data)),
            same=lambda doc, data: doc.data == _values(data),
            recorded=lambda state: self.schema.model_validate(
                {k: v for k, v in state.items() if k not in _BOOKKEEPING}
            ),
            title=lambda doc: self.what,
            check=self._check,
        )

    @property
    def history(self) -> versioning.Kind[TenantDocument]:
        return self.editing.history

    @property
    def read_schema(self) -> type[R]:
        return self.read_model

    async def get(self, session: AsyncSession, tenant_id: uuid.UUID) -> TenantDocument | None:
        return await session.scalar(
            sa.select(TenantDocument).where(
                TenantDocument.tenant_id == tenant_id, TenantDocument.kind == self.kind
            )
        )

    async def put(
        self,
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        data: BaseModel,
        actor: Actor,
        expected_version: int | None,
        allow_private_destinations: bool = False,
    ) -> TenantDocument:
        """Replace the document (created on first save); a new version when it changes. A URL
        the engine would call must be http(s) and, unless ``allow_private_destinations`` (the
        deployment's ``webhook_allow_private_networks``), not name a non-public host."""
        raise_if_any(self._destination_errors(data, allow_private_destinations))
        doc = await self.get(session, tenant_id)
        if doc is not None:
            return await self.editing.update(
                session, obj=doc, data=data, actor=actor, expected_version=expected_version
            )
        versioning.check_version(_NEVER_SAVED, expected_version, self.what)
        return await self.editing.create_for(session, tenant_id=tenant_id, data=data, actor=actor)

    async def _check(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        data: BaseModel,
        current: TenantDocument | None,
    ) -> None:
        raise_if_any(self.check(data))

    def _destination_errors(self, data: BaseModel, allow_private: bool) -> list[FieldError]:
        found = self.destinations(data) if self.destinations is not None else {}
        errors = []
        for loc, url in found.items():
            refusal = webhooks.url_refusal(url, allow_private=allow_private)
            if refusal is not None:
                errors.append(FieldError(loc, refusal))
        return errors


def _values(data: BaseModel) -> dict[str, Any]:
    """What is stored of the input: its JSON, without the version a change is based on."""
    return data.model_dump(mode="json", by_alias=True, exclude={"version"})
