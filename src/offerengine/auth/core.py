"""Roles, permissions and key material. Pure: no database, no web framework."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "oek_"
DISPLAY_PREFIX_LEN = 12


class Role(StrEnum):
    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"
    RUNTIME = "runtime"
    PLATFORM = "platform"


class Permission(StrEnum):
    CONFIG_READ = "config:read"  # read configuration, versions, audit and analytics
    CONFIG_WRITE = "config:write"  # create, change and roll back configuration
    KEYS_MANAGE = "keys:manage"  # create, list and revoke the tenant's API keys
    RUNTIME = "runtime"  # shop, decide, quote, events, flag evaluation
    TENANTS_MANAGE = "tenants:manage"  # create, change and delete tenants (platform only)


_READ = {Permission.CONFIG_READ}
_WRITE = _READ | {Permission.CONFIG_WRITE}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_READ),
    Role.EDITOR: frozenset(_WRITE),
    Role.OWNER: frozenset(_WRITE | {Permission.KEYS_MANAGE, Permission.RUNTIME}),
    Role.RUNTIME: frozenset({Permission.RUNTIME}),
    # Run-time calls take their tenant from the key; a platform key has none.
    Role.PLATFORM: frozenset(Permission) - {Permission.RUNTIME},
}


class ActorKind(StrEnum):
    API_KEY = "api_key"
    PLATFORM_KEY = "platform_key"
    PLATFORM_ENV = "platform_env"
    CLI = "cli"
    SYSTEM = "system"
    USER = "user"  # a person logged in to the admin UI


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something, as recorded in versions and the audit log."""

    kind: ActorKind
    id: uuid.UUID | None
    name: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    key_id: uuid.UUID | None  # None only for the key given by OFFERENGINE_PLATFORM_KEY
    tenant_id: uuid.UUID | None  # None for platform keys
    role: Role
    name: str
    user_id: uuid.UUID | None = None  # set when a person in the admin UI is the caller

    @property
    def is_platform(self) -> bool:
        return self.role is Role.PLATFORM

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def sees_tenant(self, tenant_id: uuid.UUID) -> bool:
        """Tenant isolation in one place: platform keys see every tenant, others only their own."""
        return self.is_platform or self.tenant_id == tenant_id

    def actor(self, request_id: str | None = None) -> Actor:
        if self.user_id is not None:
            return Actor(ActorKind.USER, self.user_id, self.name, request_id)
        if self.key_id is None:
            kind = ActorKind.PLATFORM_ENV
        elif self.is_platform:
            kind = ActorKind.PLATFORM_KEY
        else:
            kind = ActorKind.API_KEY
        return Actor(kind, self.key_id, self.name, request_id)


def new_secret() -> str:
    """A fresh API key: 256 bits of randomness behind a recognisable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    # Keys are random 256-bit tokens, not passwords: a fast digest is the right tool (no salt or
    # stretching needed), and it lets a key be found by its hash in one indexed lookup.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:DISPLAY_PREFIX_LEN]


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
