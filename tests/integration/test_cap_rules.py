"""How an offer's caps read where docs/decisioning.md once left it open, on every counter store
(SQLite, PostgreSQL, Redis): two caps on one counter hold with the tightest limit, counted once;
a dry run counts within its request as a real decision does, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.e2e.test_decisioning import Setup, decide, names
from tests.helpers import Api, create_key, tenant_api


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    if request.param == "redis":
        return make_settings(database_url, tmp_path, redis_url=request.getfixturevalue("redis_url"))
    return make_settings(database_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _capped(client: TestClient, capping: list[dict[str, Any]]) -> tuple[Setup, Api]:
    """The decisioning of tests/e2e/test_decisioning.py, its Lounge capped as given."""
    owner = tenant_api(client, "ZZ")
    setup = Setup(owner)
    lounge = setup.offers["Lounge"]
    body = {
        key: lounge[key]
        for key in ("name", "status", "priority", "tags", "representations", "eligibility")
    }
    response = owner.put(
        f"/v1/admin/decisioning/offers/{lounge['id']}", json={**body, "capping": capping}
    )
    assert response.status_code == 200, response.text
    return setup, Api(client, create_key(client, "ZZ", "runtime"))


@pytest.mark.parametrize("limits", [(5, 2), (2, 5)], ids=["tight last", "tight first"])
def test_two_caps_on_one_counter_hold_with_the_tightest_limit_counted_once(
    client: TestClient, limits: tuple[int, int]
) -> None:
    # Same scope, event and window: one counter. It was counted once per cap, so [5, 2] let one
    # proposal through (2 counted), and [3, 1] none at all.
    setup, runtime = _capped(client, [{"scope": "profile", "limit": n} for n in limits])
    proposed = [names(decide(runtime, [setup.home]))[0][0] for _ in range(4)]
    assert proposed == ["Lounge", "Lounge", "Upgrade", "Upgrade"]


def test_a_dry_run_counts_the_caps_taken_earlier_in_its_request_and_writes_nothing(
    client: TestClient,
) -> None:
    setup, runtime = _capped(client, [{"scope": "global", "limit": 1}])
    both = [setup.home, setup.thanks]
    dry = decide(runtime, both, dry_run=True, allow_duplicates=True, explain=True)
    # The Lounge's one unit went to the first activity; the second is told it is capped.
    assert names(dry) == [["Lounge"], ["Upgrade"]]
    explained = dry["explain"]["activities"][setup.thanks["id"]]
    fates = [f for f in explained["fates"] if f["stage"] == "capping"]
    assert [(f["name"], f["count"], f["limit"]) for f in fates] == [("Lounge", 1, 1)]
    # Nothing was counted: the real decision sees the unit, and decides as its preview did.
    assert names(decide(runtime, both, allow_duplicates=True)) == names(dry)
    assert names(decide(runtime, both, dry_run=True, allow_duplicates=True)) == [
        ["Upgrade"],
        ["Upgrade"],
    ]
