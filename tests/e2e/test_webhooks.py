"""Outgoing webhooks over HTTP: destinations refused when saved, the signing secret an owner
reads and rotates, a low-inventory notice that outlives a restart of the app, and deliveries an
admin lists, sees on the admin UI and sends again."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from offerengine.webhooks import core
from tests.conftest import make_settings
from tests.helpers import (
    FARE,
    Api,
    add_flight,
    create_key,
    error_locs,
    passengers,
    problem,
    search,
    tenant_api,
)
from tests.receiver import receiving

FARES = "/v1/admin/tenants/OE/fare-settings"
DELIVERIES = "/v1/admin/tenants/OE/webhooks/deliveries"
SECRET = "/v1/admin/tenants/OE/webhooks/secret"
PASSWORD = "a long enough password"


@contextmanager
def app(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def quick(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """A deployment whose webhooks go to this machine and are retried at once."""
    values: dict[str, Any] = {
        "webhook_allow_private_networks": True,
        "webhook_retry_seconds": 0.05,
        "webhook_poll_seconds": 0.05,
    }
    return make_settings(database_url, tmp_path, **(values | overrides))


def until(read: Any, check: Any, seconds: float = 15.0) -> Any:
    """Poll ``read()`` until ``check`` holds for what it returns, or fail at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        found = read()
        if check(found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.02)


def low_inventory_airline(owner: Api, runtime: Api, webhook: str) -> None:
    """An airline whose economy cabin goes below its threshold on the second order; its notice
    goes to ``webhook``."""
    assert owner.post("/v1/admin/tenants/OE/products", json=FARE).status_code == 201
    add_flight(owner, "OE")
    assert owner.put(FARES, json={"low_inventory_webhook": webhook}).status_code == 200
    rule = {
        "resource_type": "SEAT",
        "min_availability_threshold": 199,
        "overbooking_percentage": 0,
        "release_policy": {"notify_on_low_inventory": True},
    }
    assert owner.post("/v1/admin/tenants/OE/inventory-rules", json=rule).status_code == 201
    for n in range(2):
        offers = {o["offer_type"]: o for o in search(runtime)["offers"]}
        order = {"offer_id": offers["FLIGHT_ONLY"]["offer_id"], "passengers": passengers(1)}
        made = runtime.post("/v1/orders", json=order, headers={"Idempotency-Key": f"low{n}"})
        assert made.status_code == 201, made.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[::ffff:192.168.0.1]/hook",
        "ftp://hooks.example.com/hook",
    ],
)
def test_a_webhook_that_is_not_a_public_http_destination_is_refused_when_saved(
    client: TestClient, url: str
) -> None:
    owner = tenant_api(client, "OE")
    body = problem(owner.put(FARES, json={"low_inventory_webhook": url}), 422)
    assert error_locs(body) == [["body", "low_inventory_webhook"]]
    assert owner.get(FARES).json()["low_inventory_webhook"] is None


def test_a_public_webhook_is_saved_and_a_deployment_may_allow_private_networks(
    sqlite_url: str, tmp_path: Path, client: TestClient
) -> None:
    owner = tenant_api(client, "OE")
    public = "https://hooks.example.com/offerengine?source=oe"
    assert owner.put(FARES, json={"low_inventory_webhook": public}).status_code == 200
    with app(quick(sqlite_url, tmp_path / "private")) as private:
        other = Api(private, owner.key)  # the same database, another deployment setting
        local = {"low_inventory_webhook": "http://127.0.0.1:8080/hook"}
        assert other.put(FARES, json=local).status_code == 200
        problem(other.put(FARES, json={"low_inventory_webhook": "file:///etc/passwd"}), 422)


def test_an_owner_reads_and_rotates_the_signing_secret_and_no_one_else_does(
    client: TestClient,
) -> None:
    owner = tenant_api(client, "OE")
    secret = owner.get(SECRET).json()
    assert secret["secret"].startswith("whsec_")
    assert secret["previous_until"] is None
    assert owner.get(SECRET).json()["secret"] == secret["secret"]  # made once
    for role in ("editor", "viewer", "runtime"):
        other = Api(client, create_key(client, "OE", role))
        problem(other.get(SECRET), 403)
        problem(other.post(f"{SECRET}/rotate"), 403)
    rotated = owner.post(f"{SECRET}/rotate").json()
    assert rotated["secret"] != secret["secret"]
    assert rotated["previous_until"] is not None
    assert owner.get(SECRET).json()["secret"] == rotated["secret"]
    audit = owner.get("/v1/admin/tenants/OE/audit").text
    assert "webhook_secret.rotate" in audit
    assert secret["secret"] not in audit
    assert rotated["secret"] not in audit


def test_a_low_inventory_notice_outlives_a_restart_and_arrives_signed(
    database_url: str, tmp_path: Path
) -> None:
    with receiving() as receiver:
        writer_only = quick(database_url, tmp_path, webhook_deliverer=False)
        with app(writer_only) as client:
            owner = tenant_api(client, "OE")
            runtime = Api(client, create_key(client, "OE", "runtime"))
            low_inventory_airline(owner, runtime, receiver.url)
            [waiting] = owner.get(DELIVERIES).json()["items"]
            assert (waiting["status"], waiting["attempts"], waiting["log"]) == ("pending", 0, [])
        assert receiver.received == []  # the app stopped before delivering it
        with app(quick(database_url, tmp_path)) as client:
            owner = Api(client, owner.key)
            [got] = receiver.wait_for(1)
            secret = owner.get(SECRET).json()["secret"]
            done = until(
                lambda: owner.get(DELIVERIES).json()["items"][0],
                lambda d: d["status"] == "delivered",
            )
    assert core.verify(got.headers[core.SIGNATURE_HEADER], got.body, secret, now=int(time.time()))
    assert got.headers[core.DELIVERY_HEADER] == waiting["id"]
    assert done["payload"]["type"] == "low_inventory"
    assert (done["payload"]["resource"], done["payload"]["sellable"]) == ("ECONOMY", 198)
    assert [(a["attempt"], a["status_code"]) for a in done["log"]] == [(1, 204)]


def test_a_failed_delivery_is_listed_shown_and_sent_again(sqlite_url: str, tmp_path: Path) -> None:
    settings = quick(sqlite_url, tmp_path, webhook_max_attempts=2)
    with receiving(statuses=[500, 502]) as receiver, app(settings) as client:
        owner = tenant_api(client, "OE")
        runtime = Api(client, create_key(client, "OE", "runtime"))
        low_inventory_airline(owner, runtime, receiver.url)
        failed = until(
            lambda: owner.get(f"{DELIVERIES}?status=failed").json()["items"],
            lambda items: len(items) == 1,
        )[0]
        assert [(a["attempt"], a["status_code"]) for a in failed["log"]] == [(1, 500), (2, 502)]
        page = _admin_page(client, settings, "/admin/webhooks?show=failed")
        assert failed["id"] in page
        assert f"/webhooks/deliveries/{failed['id']}/resend" in page
        viewer = Api(client, create_key(client, "OE", "viewer"))
        problem(viewer.post(f"{DELIVERIES}/{failed['id']}/resend"), 403)
        again = owner.post(f"{DELIVERIES}/{failed['id']}/resend")
        assert again.status_code == 200, again.text
        assert again.json()["attempt_limit"] == 4
        done = until(
            lambda: owner.get(DELIVERIES).json()["items"][0],
            lambda d: d["status"] == "delivered",
        )
        assert [a["status_code"] for a in done["log"]] == [500, 502, 204]
        assert len(receiver.wait_for(3)) == 3
        problem(owner.post(f"{DELIVERIES}/00000000-0000-0000-0000-000000000000/resend"), 404)


def _admin_page(client: TestClient, settings: Settings, path: str) -> str:
    """``path`` of the admin UI, as an owner of OE logged in (the client's cookies are kept)."""

    async def add_user(session: Any) -> None:
        found = await tenants.find(session, "OE")
        assert found is not None
        await users.create_user(
            session,
            tenant_id=found.id,
            email="own@oe.example",
            role=Role.OWNER,
            password=PASSWORD,
            actor=Actor(ActorKind.SYSTEM, None, "test"),
        )

    asyncio.run(run_in_transaction(settings, add_user))
    login = client.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token
    done = client.post(
        "/admin/login",
        data={"email": "own@oe.example", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get(path)
    assert page.status_code == 200, page.text[:500]
    return page.text
