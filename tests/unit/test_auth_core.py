from __future__ import annotations

import uuid

from offerengine.auth.core import (
    ROLE_PERMISSIONS,
    ActorKind,
    Permission,
    Principal,
    Role,
    display_prefix,
    hash_secret,
    new_secret,
    same_secret,
)


def test_roles_nest_owner_over_editor_over_viewer_and_runtime_stands_apart() -> None:
    viewer, editor, owner = (ROLE_PERMISSIONS[r] for r in (Role.VIEWER, Role.EDITOR, Role.OWNER))
    assert viewer < editor < owner
    assert ROLE_PERMISSIONS[Role.RUNTIME] == {Permission.RUNTIME}
    assert Permission.TENANTS_MANAGE not in owner
    assert Permission.RUNTIME not in ROLE_PERMISSIONS[Role.PLATFORM]  # it has no tenant to run for


def test_a_tenant_key_sees_only_its_tenant_and_a_platform_key_sees_all() -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    tenant_key = Principal(uuid.uuid4(), mine, Role.OWNER, "k")
    platform_key = Principal(uuid.uuid4(), None, Role.PLATFORM, "p")
    assert tenant_key.sees_tenant(mine)
    assert not tenant_key.sees_tenant(other)
    assert platform_key.sees_tenant(other)


def test_actors_say_which_kind_of_key_acted() -> None:
    assert Principal(None, None, Role.PLATFORM, "env").actor().kind is ActorKind.PLATFORM_ENV
    assert Principal(uuid.uuid4(), None, Role.PLATFORM, "p").actor().kind is ActorKind.PLATFORM_KEY
    acted = Principal(uuid.uuid4(), uuid.uuid4(), Role.EDITOR, "e").actor("req-1")
    assert (acted.kind, acted.request_id) == (ActorKind.API_KEY, "req-1")


def test_secrets_are_random_prefixed_and_stored_only_as_a_digest() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith("oek_")
    assert len(first) >= 40
    digest = hash_secret(first)
    assert len(digest) == 64
    assert first not in digest
    assert display_prefix(first) == first[:12]
    assert same_secret(first, first)
    assert not same_secret(first, second)
