"""The snapshot store with a fake builder: no database."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from offerengine.catalog.core import CatalogIndex
from offerengine.errors import NotFound
from offerengine.experiments.core import ExperimentIndex
from offerengine.flags.core import FlagIndex
from offerengine.network.core import Network
from offerengine.pricing.core import PricingIndex
from offerengine.shopping.core import ShoppingConfig
from offerengine.snapshots.core import Snapshot, TenantFacts
from offerengine.snapshots.store import SnapshotStore

TENANT = uuid.uuid4()


class FakeConfig:
    """A tenant's configuration version in a fake database; counts and can slow the builds."""

    def __init__(self) -> None:
        self.version = 1
        self.builds = 0
        self.delay = 0.0
        self.exists = True

    async def build(self, tenant_id: uuid.UUID) -> Snapshot | None:
        self.builds += 1
        version = self.version
        await asyncio.sleep(self.delay)
        if not self.exists:
            return None
        return Snapshot(
            tenant=TenantFacts(tenant_id, "OE", "OE", "airline", "USD", "UTC", "active", {}),
            version=version,
            build_seconds=self.delay,
            catalog=CatalogIndex.build([]),
            network=Network.build([]),
            pricing=PricingIndex.build([], []),
            flags=FlagIndex.build([]),
            experiments=ExperimentIndex.build([]),
            shopping=ShoppingConfig.empty(),
        )


@pytest.fixture
def config() -> FakeConfig:
    return FakeConfig()


async def test_concurrent_requests_share_one_build(config: FakeConfig) -> None:
    store = SnapshotStore(config.build)
    config.delay = 0.05
    snapshots = await asyncio.gather(*(store.get(TENANT) for _ in range(20)))
    assert config.builds == 1
    assert {s.version for s in snapshots} == {1}


async def test_a_local_write_is_read_by_the_next_request(config: FakeConfig) -> None:
    store = SnapshotStore(config.build)
    assert (await store.get(TENANT)).version == 1
    config.version = 2
    store.observe(TENANT, 2, local=True)
    assert (await store.get(TENANT)).version == 2


async def test_a_remote_change_rebuilds_in_the_background_while_the_old_snapshot_serves(
    config: FakeConfig,
) -> None:
    store = SnapshotStore(config.build)
    await store.get(TENANT)
    config.version, config.delay = 2, 0.05
    store.observe(TENANT, 2, local=False)
    assert (await store.get(TENANT)).version == 1  # no request waits for the rebuild
    await asyncio.sleep(0.1)
    assert (await store.get(TENANT)).version == 2
    await store.close()


async def test_an_old_notice_never_replaces_a_newer_snapshot(config: FakeConfig) -> None:
    store = SnapshotStore(config.build)
    config.version = 5
    await store.get(TENANT)
    store.observe(TENANT, 3, local=False)
    await asyncio.sleep(0.01)
    assert (await store.get(TENANT)).version == 5
    assert config.builds == 1


async def test_a_deleted_tenant_is_not_found_and_forgotten(config: FakeConfig) -> None:
    store = SnapshotStore(config.build)
    config.exists = False
    with pytest.raises(NotFound):
        await store.get(TENANT)
    assert store.peek(TENANT) is None


async def test_a_waiter_cut_short_does_not_cancel_the_build(config: FakeConfig) -> None:
    # A request whose time budget runs out stops waiting; the build it started goes on, and the
    # next request gets its result without building again.
    store = SnapshotStore(config.build)
    config.delay = 0.2
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(store.get(TENANT), timeout=0.05)
    waiting = asyncio.gather(*(store.get(TENANT) for _ in range(3)))
    assert {s.version for s in await waiting} == {1}
    assert config.builds == 1


async def test_a_failed_build_reaches_its_waiters_and_the_next_one_tries_again(
    config: FakeConfig,
) -> None:
    store = SnapshotStore(config.build)
    config.exists = False
    with pytest.raises(NotFound):
        await store.get(TENANT)
    config.exists = True
    assert (await store.get(TENANT)).version == 1
    assert config.builds == 2
    await store.close()
