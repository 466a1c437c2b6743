"""Who may use the engine: ``create-key`` (an API key, its secret printed once) and
``create-user`` (a person who logs in to the admin UI)."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from offerengine.cli._common import cli_actor, console, database_settings, err

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class KeyRole(StrEnum):
    owner = "owner"
    editor = "editor"
    viewer = "viewer"
    runtime = "runtime"


def create_key(
    tenant: Annotated[str | None, typer.Option(help="Tenant code or id.")] = None,
    role: Annotated[KeyRole | None, typer.Option(help="Role of a tenant key.")] = None,
    platform: Annotated[bool, typer.Option("--platform", help="Create a platform key.")] = False,
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "cli",
) -> None:
    """Create an API key and print its secret once.

    The secret is shown only this once; the database keeps its hash."""
    if platform == (tenant is not None):
        err().print("Give either --platform, or --tenant CODE --role ROLE.")
        raise typer.Exit(2)
    if tenant is not None and role is None:
        err().print("A tenant key needs --role (owner, editor, viewer or runtime).")
        raise typer.Exit(2)
    from offerengine.auth import service as auth
    from offerengine.auth.core import Role
    from offerengine.errors import NotFound
    from offerengine.tenants import service as tenants
    from offerengine.units import run_in_transaction

    settings = database_settings()
    actor = cli_actor()

    async def work(session: AsyncSession) -> auth.CreatedKey:
        tenant_id = None
        if tenant is not None:
            found = await tenants.find(session, tenant)
            if found is None:
                raise NotFound(f"No tenant {tenant!r}.")
            tenant_id = found.id
        key_role = Role.PLATFORM if platform else Role(str(role))
        return await auth.create_key(
            session, tenant_id=tenant_id, name=name, role=key_role, actor=actor
        )

    try:
        created = asyncio.run(run_in_transaction(settings, work))
    except NotFound as exc:
        err().print(str(exc))
        raise typer.Exit(1) from exc
    console().print(f"[bold]{created.secret}[/bold]")
    err().print(f"{created.key.role} key {created.key.id} created; the secret above is not stored.")


class UserRole(StrEnum):
    owner = "owner"
    editor = "editor"
    viewer = "viewer"
    platform = "platform"


def create_user(
    email: Annotated[str, typer.Option(help="The email the person logs in with.")],
    role: Annotated[UserRole, typer.Option(help="owner, editor, viewer or platform.")],
    tenant: Annotated[
        str | None, typer.Option(help="Tenant code or id (not for platform).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="The password (at least 10 characters). Default: a generated one, printed once.",
            envvar="OFFERENGINE_NEW_USER_PASSWORD",
        ),
    ] = None,
) -> None:
    """Create a person who logs in to the admin UI.

    They log in at /admin with their email and password."""
    if (role is UserRole.platform) != (tenant is None):
        err().print("A platform user takes no --tenant; every other role needs --tenant CODE.")
        raise typer.Exit(2)
    from offerengine.auth import users
    from offerengine.auth.core import Role
    from offerengine.errors import Conflict, Invalid, NotFound
    from offerengine.tenants import service as tenants
    from offerengine.units import run_in_transaction

    settings = database_settings()
    actor = cli_actor()
    chosen = password or users.new_password()

    async def work(session: AsyncSession) -> None:
        tenant_id = None
        if tenant is not None:
            found = await tenants.find(session, tenant)
            if found is None:
                raise NotFound(f"No tenant {tenant!r}.")
            tenant_id = found.id
        await users.create_user(
            session,
            tenant_id=tenant_id,
            email=email,
            role=Role(role.value),
            password=chosen,
            actor=actor,
        )

    try:
        asyncio.run(run_in_transaction(settings, work))
    except (NotFound, Conflict, Invalid) as exc:
        details = "; ".join(f"{e.loc[-1]}: {e.msg}" for e in getattr(exc, "errors", []))
        err().print(f"{exc}{' (' + details + ')' if details else ''}")
        raise typer.Exit(1) from exc
    if password is None:
        console().print(f"[bold]{chosen}[/bold]")
        err().print(f"{role.value} user {email} created; the password above is not stored.")
    else:
        err().print(f"{role.value} user {email} created.")
