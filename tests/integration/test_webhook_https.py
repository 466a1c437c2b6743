"""Webhook deliveries to an https receiver on this machine, with a certificate signed by a CA
made for the test: delivered when the deployment trusts that CA (``webhook_ca_bundle``), and
checked every time: an untrusted certificate, or one for another host than the URL names, fails
the attempt before anything is sent. Loopback receivers need ``webhook_allow_private_networks``,
which these tests set (one checks that without it the receiver is refused)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.clock import utcnow
from offerengine.db.session import write_transaction
from offerengine.webhooks import core
from offerengine.webhooks import service as webhooks
from offerengine.webhooks.sending import resolve
from tests.certificates import Certificates, make_certificates
from tests.conftest import make_settings
from tests.integration import test_webhooks
from tests.integration.test_webhooks import Database
from tests.receiver import receiving

db = test_webhooks.db  # the fixture: a migrated database with one tenant, on both backends

NAMES = ["localhost", "hooks.example.com"]  # what the server's certificate is for


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"), NAMES, ["127.0.0.1"])


async def _to_loopback(host: str, port: int) -> list[core.IPAddress]:
    """A resolver for which every name is this machine (as a test's DNS would say)."""
    return await resolve("127.0.0.1", port)


async def test_a_delivery_to_an_https_receiver_the_deployment_trusts_is_signed_and_delivered(
    db: Database, certificates: Certificates
) -> None:
    with receiving(tls=certificates.server_context()) as receiver:
        urls = [
            receiver.url,  # by address: the certificate names 127.0.0.1
            f"https://localhost:{receiver.port}/hook",
            f"https://hooks.example.com:{receiver.port}/hook",
        ]
        ids = [i for url in urls for i in await db.enqueue(url)]
        deliverer = db.deliverer(resolver=_to_loopback, ca_bundle=certificates.ca)
        assert await deliverer.deliver_due() == 3
        got = receiver.wait_for(3)
    assert receiver.handshakes_failed == 0
    assert sorted(r.headers[core.DELIVERY_HEADER] for r in got) == sorted(map(str, ids))
    secret = await webhooks.read_secret(db, tenant_id=db.tenant_id, now=utcnow())
    for request in got:
        header = request.headers[core.SIGNATURE_HEADER]
        assert core.verify(header, request.body, secret.secret, now=int(time.time()))
    for delivery_id in ids:
        found = await db.delivery(delivery_id)
        assert found.delivery.status == core.DELIVERED
        assert [(a.status_code, a.address) for a in found.attempts] == [(204, "127.0.0.1")]


async def test_certificates_are_checked_by_default_and_against_the_host_the_url_names(
    db: Database, certificates: Certificates, tmp_path: Path
) -> None:
    other_ca = make_certificates(tmp_path / "other", NAMES, ["127.0.0.1"]).ca
    with receiving(tls=certificates.server_context()) as receiver:
        # A failed attempt is due again in a minute: each deliverer below tries its own only.
        later = {"resolver": _to_loopback, "first_retry": 60.0}
        untrusted = await db.enqueue(receiver.url)  # certifi's CAs: the test's CA is not one
        assert await db.deliverer(**later).deliver_due() == 1
        another_ca = await db.enqueue(receiver.url)  # a bundle, but not of the signing CA
        assert await db.deliverer(**later, ca_bundle=other_ca).deliver_due() == 1
        # The right CA, but a name the certificate is not for, though it resolves to the same
        # address: checked against the name, not the address connected to.
        elsewhere = await db.enqueue(f"https://elsewhere.example.com:{receiver.port}/hook")
        assert await db.deliverer(**later, ca_bundle=certificates.ca).deliver_due() == 1
        await asyncio.sleep(0.2)
        assert receiver.received == []  # nothing was sent: each handshake failed
        assert receiver.handshakes_failed == 3
    for delivery_id in [*untrusted, *another_ca, *elsewhere]:
        found = await db.delivery(delivery_id)
        assert found.delivery.status == core.PENDING  # an attempt failed: it is tried again
        [attempt] = found.attempts
        assert attempt.status_code is None
        assert attempt.error is not None
        assert "CERTIFICATE_VERIFY_FAILED" in attempt.error, attempt.error


async def test_an_https_receiver_on_loopback_is_refused_unless_the_deployment_allows_it(
    db: Database, certificates: Certificates
) -> None:
    with receiving(tls=certificates.server_context()) as receiver:
        [delivery_id] = await db.enqueue(f"https://localhost:{receiver.port}/hook")
        deliverer = db.deliverer(allow_private=False, ca_bundle=certificates.ca)
        assert await deliverer.deliver_due() == 1
        assert receiver.received == []
    found = await db.delivery(delivery_id)
    assert found.delivery.status == core.FAILED
    assert found.attempts[0].error is not None
    assert "is not a public address" in found.attempts[0].error


def test_the_ca_bundle_setting_reaches_every_workers_deliverer(
    sqlite_url: str, tmp_path: Path, certificates: Certificates
) -> None:
    settings = make_settings(
        sqlite_url,
        tmp_path,
        webhook_allow_private_networks=True,
        webhook_ca_bundle=certificates.ca,
        webhook_poll_seconds=0.1,
    )
    with (
        receiving(tls=certificates.server_context()) as receiver,
        TestClient(create_app(settings), raise_server_exceptions=False),
    ):
        database = Database(sqlite_url)

        async def enqueue() -> None:
            from offerengine.tenants import service as tenants
            from offerengine.tenants.schemas import TenantCreate
            from tests.integration.test_webhooks import SYSTEM

            async with write_transaction(database) as session:
                tenant = await tenants.create(
                    session,
                    data=TenantCreate(code="TL", name="TLS", kind="airline", base_currency="USD"),
                    actor=SYSTEM,
                )
            database.tenant_id = tenant.id
            await database.enqueue(f"https://localhost:{receiver.port}/hook")
            for engine in database.engines:
                await engine.dispose()

        asyncio.run(enqueue())
        # The app's own deliverer, polling, sends it with the settings' CA bundle.
        [got] = receiver.wait_for(1)
    assert receiver.handshakes_failed == 0
    assert got.headers[core.EVENT_HEADER] == "low_inventory"
