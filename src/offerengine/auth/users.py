"""People who log in to the admin UI: creating them, checking passwords, turning a session cookie
into the principal of a request. Roles are the API keys' roles (runtime excepted); a platform
user has no tenant of her own and works on the tenant she switches to, as its owner."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth.core import Actor, ActorKind, Principal, Role
from offerengine.auth.models import AppSecret, User
from offerengine.auth.sessions import (
    Passwords,
    SessionData,
    hash_password,
    needs_rehash,
    new_token,
    password_problem,
)
from offerengine.db.base import utcnow
from offerengine.errors import Conflict, Invalid
from offerengine.tenants.models import Tenant
from offerengine.versioning import service as versioning

USER_ROLES = (Role.OWNER, Role.EDITOR, Role.VIEWER, Role.PLATFORM)
SESSION_SECRET = "session_signing_key"  # noqa: S105 - the name of the secret, not the secret


def normal_email(email: str) -> str:
    return email.strip().lower()


def _check_email(email: str) -> str:
    found = normal_email(email)
    local, at, domain = found.partition("@")
    if not at or not local or "." not in domain or len(found) > 320 or " " in found:
        raise Invalid.field(("email",), "not an email address")
    return found


async def create_user(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    email: str,
    role: Role,
    password: str,
    actor: Actor,
) -> User:
    """Create a user; a platform user has no tenant, every other user has one."""
    address = _check_email(email)
    if role not in USER_ROLES:
        raise Invalid.field(("role",), "one of owner, editor, viewer, platform")
    if (role is Role.PLATFORM) != (tenant_id is None):
        raise Invalid.field(("tenant",), "a platform user has no tenant; every other user has one")
    problem = password_problem(password)
    if problem is not None:
        raise Invalid.field(("password",), problem)
    if await session.scalar(sa.select(User.id).where(User.email == address)) is not None:
        raise Conflict(f"A user with the email {address} exists.")
    user = User(
        tenant_id=tenant_id,
        email=address,
        role=role.value,
        password_hash=await asyncio.to_thread(hash_password, password),  # argon2: off the loop
    )
    session.add(user)
    await session.flush()
    versioning.audit(
        session,
        actor=actor,
        action="user.create",
        tenant_id=tenant_id,
        object_type="user",
        object_id=user.id,
        after={"email": address, "role": role.value},
    )
    return user


def new_password() -> str:
    """A password for a user made by a program (the demo): 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


async def find_user(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(sa.select(User).where(User.email == normal_email(email)))


async def list_users(session: AsyncSession, tenant_id: uuid.UUID | None) -> Sequence[User]:
    stmt = sa.select(User).order_by(User.email)
    if tenant_id is not None:
        stmt = stmt.where(User.tenant_id == tenant_id)
    return (await session.scalars(stmt)).all()


async def find_login(session: AsyncSession, email: str) -> User | None:
    """The user an admin login with ``email`` may be for: active, of an active tenant (or a
    platform user); None otherwise. Reads only, and before the slow password check, so that the
    check holds no connection."""
    user = await find_user(session, email)
    if user is None or not user.is_active or not await _tenant_active(session, user.tenant_id):
        return None
    return user


async def login_changes(user: User, password: str, passwords: Passwords) -> dict[str, object]:
    """What a login changes on the user: the time, and the hash if argon2's defaults moved on
    (computed before any write transaction, being slow on purpose)."""
    changes: dict[str, object] = {"last_login_at": utcnow()}
    if needs_rehash(user.password_hash):
        changes["password_hash"] = await passwords.hash(password)
    return changes


async def record_login(session: AsyncSession, user: User, changes: dict[str, object]) -> None:
    await session.execute(sa.update(User).where(User.id == user.id).values(**changes))
    versioning.audit(
        session,
        actor=Actor(kind=ActorKind.USER, id=user.id, name=user.email),
        action="user.login",
        tenant_id=user.tenant_id,
        object_type="user",
        object_id=user.id,
    )


async def log_out(session: AsyncSession, user_id: uuid.UUID) -> None:
    """End every session of the user (the cookie is cleared as well)."""
    await session.execute(
        sa.update(User)
        .where(User.id == user_id)
        .values(session_epoch=User.session_epoch + 1, updated_at=utcnow())
    )


async def _tenant_active(session: AsyncSession, tenant_id: uuid.UUID | None) -> bool:
    if tenant_id is None:
        return True
    status = await session.scalar(sa.select(Tenant.status).where(Tenant.id == tenant_id))
    return status == "active"


def new_session(user: User, tenant_id: uuid.UUID | None = None) -> SessionData:
    return SessionData(user.id, user.tenant_id or tenant_id, new_token(), user.session_epoch)


@dataclass(frozen=True, slots=True)
class Visitor:
    """The person behind a session: her user row, her session and the principal she acts as."""

    user: User
    session: SessionData
    principal: Principal

    @property
    def is_platform(self) -> bool:
        return self.user.role == Role.PLATFORM.value


async def visitor(session: AsyncSession, data: SessionData) -> Visitor | None:
    """The visitor of a session cookie, or None if the session has ended (logout, deactivation,
    a tenant suspended, a platform user's tenant deleted)."""
    user = await session.get(User, data.user_id)
    if user is None or not user.is_active or user.session_epoch != data.epoch:
        return None
    tenant_id = user.tenant_id if user.tenant_id is not None else data.tenant_id
    if tenant_id is not None and not await _tenant_active(session, tenant_id):
        if user.tenant_id is not None:
            return None
        tenant_id = None  # a platform user whose chosen tenant went away picks another
    role = Role(user.role)
    if role is Role.PLATFORM and tenant_id is not None:
        role = Role.OWNER  # a platform user acts as owner of the tenant she works on
    principal = Principal(None, tenant_id, role, user.email, user_id=user.id)
    return Visitor(user, data, principal)


async def session_secret(session: AsyncSession) -> str:
    """The deployment's session signing key, made on first use and shared by every worker."""
    found = await session.scalar(sa.select(AppSecret.value).where(AppSecret.name == SESSION_SECRET))
    if found is not None:
        return found
    await session.rollback()
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        # Writers take SQLite's write lock up front, so that they queue instead of failing.
        await session.connection(execution_options={"sqlite_immediate": True})
    session.add(AppSecret(name=SESSION_SECRET, value=secrets.token_urlsafe(48)))
    try:
        await session.commit()
    except sa.exc.IntegrityError:  # another worker made it first
        await session.rollback()
    return str(
        await session.scalar(sa.select(AppSecret.value).where(AppSecret.name == SESSION_SECRET))
    )
