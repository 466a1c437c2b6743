"""Loading the demo tenants, idempotently, through the same services the API uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from offerengine.auth import service as auth
from offerengine.auth import users
from offerengine.auth.core import Actor, Role
from offerengine.bundles import service as bundles
from offerengine.bundles.schemas import BundleIn
from offerengine.catalog import service as catalog
from offerengine.db.base import utcnow
from offerengine.demo import commerce as demo_commerce
from offerengine.demo import data
from offerengine.demo import decisioning as demo_decisioning
from offerengine.inventory import service as inventory
from offerengine.inventory.schemas import InventoryRuleIn, ScheduleIn
from offerengine.network import service as network
from offerengine.pricing import service as pricing
from offerengine.shopping import config as shopping
from offerengine.starters import service as starters
from offerengine.tenants import service as tenants
from offerengine.tenants.models import Tenant
from offerengine.tenants.schemas import TenantCreate

DEMO_TEMPLATE_SET = "airline-packages"


@dataclass
class DemoResult:
    created_tenants: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # DEMO_OE_OWNER_KEY → secret, new keys only
    products: dict[str, int] = field(default_factory=dict)  # tenant code → products created/updated
    users: dict[str, str] = field(default_factory=dict)  # email → password, new users only


async def load(session: AsyncSession, *, actor: Actor) -> DemoResult:
    """Create or refresh the demo tenants; keys are made only for tenants created now."""
    result = DemoResult()
    if await auth.platform_key_count(session) == 0:
        created = await auth.create_key(
            session, tenant_id=None, name="demo platform", role=Role.PLATFORM, actor=actor
        )
        result.keys["DEMO_PLATFORM_KEY"] = created.secret
    for spec, products in (
        (data.AIRLINE, data.AIRLINE_PRODUCTS),
        (data.MARKETPLACE, data.MARKETPLACE_PRODUCTS),
    ):
        tenant = await tenants.find(session, spec["code"])
        if tenant is None:
            tenant = await tenants.create(session, data=TenantCreate(**spec), actor=actor)
            result.created_tenants.append(tenant.code)
            await _keys(session, tenant, actor, result)
        outcome = await catalog.bulk_upsert(session, tenant=tenant, rows=products, actor=actor)
        result.products[tenant.code] = len(outcome.created) + len(outcome.updated)
        if tenant.kind == "airline":
            await network.add_airports(
                session, tenant_id=tenant.id, iata_codes=data.AIRPORTS, actor=actor
            )
            rules = data.pricing_rules(utcnow().date())
            await pricing.import_rules(session, tenant=tenant, rows=rules, actor=actor)
            await _shopping(session, tenant, actor)
            # The template library's packages (hotel, car hire, insurance partners): bundles of
            # their own offer types, which the demo's offer mix leaves out of searches (so its
            # offers stay as documented); a bundle's preview, or a mix naming them, shows them.
            await starters.apply(session, tenant=tenant, name=DEMO_TEMPLATE_SET, actor=actor)
            await demo_decisioning.load(session, tenant, actor)
        else:
            await demo_commerce.load(session, tenant, actor)
    await _users(session, actor, result)
    return result


async def _users(session: AsyncSession, actor: Actor, result: DemoResult) -> None:
    """One admin UI user per demo tenant and a platform user; passwords are made here and shown
    once (the CLI prints them and keeps them with the demo keys)."""
    for code, email, role in data.DEMO_USERS:
        if await users.find_user(session, email) is not None:
            continue
        tenant = await tenants.find(session, code) if code else None
        password = users.new_password()
        await users.create_user(
            session,
            tenant_id=tenant.id if tenant else None,
            email=email,
            role=Role(role),
            password=password,
            actor=actor,
        )
        result.users[email] = password


async def _shopping(session: AsyncSession, tenant: Tenant, actor: Actor) -> None:
    """Flights for the coming week, seed 001's bundles, inventory and offer rules, fare settings;
    what exists already is kept (flights by number and date, the rest by name)."""
    for schedule in data.schedules(utcnow().date()):
        await inventory.add_schedule(
            session, tenant=tenant, schedule=ScheduleIn.model_validate(schedule), actor=actor
        )
    have = {
        b.bundle_name for b in await bundles.list_bundles(session, tenant_id=tenant.id, active=None)
    }
    for bundle in data.BUNDLES:
        if bundle["bundle_name"] not in have:
            await bundles.create(
                session, tenant=tenant, data=BundleIn.model_validate(bundle), actor=actor
            )
    rules = {
        (r.resource_type, r.resource)
        for r in await inventory.list_rules(session, tenant_id=tenant.id)
    }
    for rule in data.INVENTORY_RULES:
        if (rule["resource_type"], rule.get("resource")) not in rules:
            await inventory.create_rule(
                session, tenant=tenant, data=InventoryRuleIn.model_validate(rule), actor=actor
            )
    for document, values in (
        (shopping.OFFER_RULES, data.OFFER_RULES),
        (shopping.FARE_SETTINGS, data.FARE_SETTINGS),
    ):
        if await document.get(session, tenant.id) is None:
            await document.put(
                session,
                tenant_id=tenant.id,
                data=document.schema.model_validate(values),
                actor=actor,
                expected_version=None,
            )


async def _keys(session: AsyncSession, tenant: Tenant, actor: Actor, result: DemoResult) -> None:
    for role in data.DEMO_ROLES:
        created = await auth.create_key(
            session, tenant_id=tenant.id, name=f"demo {role}", role=Role(role), actor=actor
        )
        result.keys[f"DEMO_{tenant.code}_{role.upper()}_KEY"] = created.secret
