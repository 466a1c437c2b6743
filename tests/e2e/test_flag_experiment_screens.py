"""The feature flag and experiment screens (issue 34): they render for the demo's people, save
through the API as their scripts do (a new version under If-Match, errors at the fields they
name), the flag's "who gets what" preview counts exactly what the evaluation API serves, and
the sample-size calculator gives the textbook figure."""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from offerengine.auth import users
from offerengine.auth.core import Actor, ActorKind, Role
from offerengine.demo import service as demo
from offerengine.settings import Settings
from offerengine.tenants import service as tenants
from offerengine.units import run_in_transaction
from tests.conftest import fresh_sqlite, make_settings
from tests.e2e._admin import log_in
from tests.helpers import Api, create_key, error_locs, problem

PASSWORD = "a long enough password"
SYSTEM = Actor(ActorKind.SYSTEM, None, "test")
FLAGS = "/v1/admin/tenants/MKT/feature-flags"
EXPERIMENTS = "/v1/admin/tenants/MKT/experiments"

# A flag as the editor writes it: variants with percentages, a rule from the condition builder
# (segment is one of vip, premium; age at least 18), a split for everyone else, a rollout.
CHECKOUT = {
    "key": "checkout_button",
    "name": "Checkout button colour",
    "description": "Which colour sells",
    "type": "STRING",
    "value": "blue",
    "default_value": "blue",
    "is_enabled": True,
    "rollout": {"percentage": 40, "user_segments": [], "regions": []},
    "rules": [
        {
            "type": "force",
            "id": "vip-green",
            "condition": {"segment": {"$in": ["vip", "premium"]}, "age": {"$gte": 18}},
            "value": "green",
        },
        {"type": "split", "id": "everyone", "condition": {"country": "TR"}, "coverage": 1.0},
    ],
    "variants": [
        {"key": "blue", "value": "blue", "weight": 50},
        {"key": "orange", "value": "orange", "weight": 30},
        {"key": "red", "value": "red", "weight": 20},
    ],
    "tags": [],
}


@pytest.fixture(scope="module")
def demo_settings(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("screens")
    settings = make_settings(fresh_sqlite(sqlite_template, folder), folder)

    async def load(session) -> None:  # type: ignore[no-untyped-def]
        await demo.load(session, actor=SYSTEM)
        for code, email, role in (
            ("MKT", "own@mkt.example", "owner"),
            ("MKT", "see@mkt.example", "viewer"),
        ):
            found = await tenants.find(session, code)
            assert found is not None
            await users.create_user(
                session,
                tenant_id=found.id,
                email=email,
                role=Role(role),
                password=PASSWORD,
                actor=SYSTEM,
            )

    asyncio.run(run_in_transaction(settings, load))
    return settings


class Visit:
    """A logged-in browser's requests: the session cookie, and its CSRF token on writes."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"X-CSRF-Token": token}

    def page(self, path: str) -> str:
        found = self.client.get(path)
        assert found.status_code == 200, (path, found.text[:500])
        return found.text

    def send(self, method: str, path: str, body: Any, **headers: str) -> Any:
        return self.client.request(method, path, json=body, headers={**self.headers, **headers})


@pytest.fixture(scope="module")
def app_client(demo_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(demo_settings), raise_server_exceptions=False) as client:
        yield client


def _visit(client: TestClient, email: str) -> Visit:
    client.cookies.clear()
    return Visit(client, log_in(client, email))


@pytest.fixture
def owner(app_client: TestClient) -> Visit:
    return _visit(app_client, "own@mkt.example")


def _data(page: str, element_id: str) -> Any:
    found = re.search(rf'id="{element_id}">(.*?)</script>', page, re.S)
    assert found, element_id
    return json.loads(html.unescape(found.group(1)))


def _made(owner: Visit, body: dict[str, Any], path: str = FLAGS) -> dict[str, Any]:
    created = owner.send("POST", path, body)
    assert created.status_code == 201, created.text
    return dict(created.json())


# --- flags ---------------------------------------------------------------------------------


def test_the_menu_leads_to_the_flag_screen_and_a_new_flag_starts_empty(owner: Visit) -> None:
    listing = owner.page("/admin/feature-flags")
    assert re.search(
        r'<a href="/admin/feature-flags" aria-current="page">Feature flags</a>', listing
    )
    assert re.search(r'<a href="/admin/feature-flags/[0-9a-f-]{36}">dynamic_pricing</a>', listing)
    page = owner.page("/admin/feature-flags/new")
    assert "<h1>New feature flag" in page
    assert re.search(r'<input id="f-key" name="key" type="text" value=""', page)
    assert re.search(r'id="f-is_enabled" name="is_enabled" type="checkbox">', page)  # unticked
    for leaked in ("FeatureFlagIn", "RolloutIn", "VariantIn", "new-flag"):
        assert leaked not in page
    assert _data(page, "flag-document")["key"] == ""
    operators = {o["op"]: o["label"] for o in _data(page, "flag-operators")}
    assert operators["$in"] == "is one of"
    assert operators["$gte"] == "is at least"
    # Saved untouched (as the script sends it) it is refused at the key and the name.
    refused = problem(owner.send("POST", FLAGS, _data(page, "flag-document")), 422)
    assert {tuple(loc) for loc in error_locs(refused)} >= {("body", "key"), ("body", "name")}
    for field in ("key", "name"):  # the page has the slot those errors go to
        assert f'data-error-for="{field}"' in page
    assert "dynamic_pricing" in owner.page("/admin/feature-flags")


def test_a_flag_is_made_then_edited_under_if_match(owner: Visit) -> None:
    flag = _made(owner, {**CHECKOUT, "key": "edited_flag"})
    page = owner.page(f"/admin/feature-flags/{flag['id']}")
    assert "version 1" in page
    assert _data(page, "flag-document")["variants"][1] == {
        "key": "orange",
        "value": "orange",
        "weight": 30.0,
    }
    # The builder shows the rule's condition as rows; the split's as one row too.
    assert _data(page, "flag-rule-rows") == [
        [
            {"attribute": "segment", "operator": "$in", "value": "vip, premium"},
            {"attribute": "age", "operator": "$gte", "value": "18"},
        ],
        [{"attribute": "country", "operator": "$eq", "value": "TR"}],
    ]
    item = f"/v1/admin/feature-flags/{flag['id']}"
    changed = {**CHECKOUT, "key": "edited_flag", "rollout": {"percentage": 75}}
    saved = owner.send("PUT", item, changed, **{"If-Match": '"1"'})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["version"], saved.json()["rollout"]["percentage"]) == (2, 75.0)
    stale = owner.send("PUT", item, changed, **{"If-Match": '"1"'})
    assert stale.status_code in (409, 412), stale.text
    again = owner.page(f"/admin/feature-flags/{flag['id']}")
    assert "version 2" in again
    assert 'value="75"' in again  # the rollout's number field (its slider beside it)


def test_a_bad_value_is_refused_at_the_field_it_names(owner: Visit) -> None:
    flag = _made(owner, {**CHECKOUT, "key": "typed_flag"})
    wrong = {**CHECKOUT, "key": "typed_flag", "variants": [{"key": "a", "value": 3}], "version": 1}
    refused = problem(owner.send("PUT", f"/v1/admin/feature-flags/{flag['id']}", wrong), 422)
    assert ["body", "variants", 0, "value"] in error_locs(refused)
    typo = {**CHECKOUT, "key": "typo_flag"}
    typo["rules"] = [{**CHECKOUT["rules"][0], "condition": {"segment": {"$inn": ["vip"]}}}]
    refused = problem(owner.send("POST", FLAGS, typo), 422)
    assert ["body", "rules", 0, "condition", "segment", "$inn"] in error_locs(refused)


def test_the_preview_counts_what_the_evaluation_api_serves(
    owner: Visit, app_client: TestClient
) -> None:
    _made(owner, {**CHECKOUT, "key": "previewed"})
    draft = {**CHECKOUT, "key": "previewed"}
    size = 300
    for attributes in ({"segment": "vip", "age": 30}, {"country": "TR"}, {"country": "US"}):
        answer = owner.send(
            "POST",
            "/admin/feature-flags/preview",
            {"flag": draft, "sample": {"size": size, "attributes": attributes}},
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found["total"] == size
        assert sum(s["count"] for s in found["served"]) == size
        preview = {json.dumps(s["value"]): s["count"] for s in found["served"]}
        runtime = Api(app_client, create_key(app_client, "MKT", "runtime"))
        served: Counter[str] = Counter()
        for i in range(1, size + 1):
            one = runtime.post(
                "/v1/feature-flags/previewed/evaluate",
                json={"context": {"user_id": f"u{i}", **attributes}},
            )
            assert one.status_code == 200, one.text
            served[json.dumps(one.json()["value"])] += 1
        assert preview == dict(served), attributes
    # VIPs all get green; Turkey splits about 50/30/20; elsewhere 40 % get the on value.
    labels = {s["label"]: s for s in found["served"]}
    assert set(labels) == {"blue"}  # the US: on (blue) or default (blue), one value
    vip = owner.send(
        "POST",
        "/admin/feature-flags/preview",
        {"flag": draft, "sample": {"size": 100, "attributes": {"segment": "vip", "age": 30}}},
    ).json()
    assert [(s["value"], s["count"]) for s in vip["served"]] == [("green", 100)]
    assert vip["served"][0]["reasons"] == {"TARGETING_MATCH via rule 'vip-green'": 100}


def test_entered_contexts_are_previewed_and_bad_input_named(owner: Visit) -> None:
    draft = {**CHECKOUT, "key": "entered"}
    contexts = [{"user_id": "a", "segment": "vip", "age": 40}, {"user_id": "b", "country": "TR"}]
    found = owner.send(
        "POST", "/admin/feature-flags/preview", {"flag": draft, "sample": {"contexts": contexts}}
    ).json()
    assert found["total"] == 2
    bad = {**draft, "rules": [{**CHECKOUT["rules"][0], "condition": {"age": {"$gtr": 1}}}]}
    refused = problem(
        owner.send("POST", "/admin/feature-flags/preview", {"flag": bad, "sample": {"size": 0}}),
        422,
    )
    assert ["body", "sample", "size"] in error_locs(refused)
    refused = problem(owner.send("POST", "/admin/feature-flags/preview", {"flag": bad}), 422)
    assert ["body", "flag", "rules", 0, "condition", "age", "$gtr"] in error_locs(refused)
    no_token = owner.client.post("/admin/feature-flags/preview", json={"flag": draft})
    assert problem(no_token, 403)["errors"][0]["loc"] == ["header", "X-CSRF-Token"]


# --- experiments ---------------------------------------------------------------------------


def test_the_sample_size_calculator_gives_the_textbook_figure(owner: Visit) -> None:
    asked = {"baseline": 10, "effect": 2, "effect_kind": "absolute", "alpha": 5, "power": 80}
    found = owner.client.get("/admin/ab-tests/sample-size", params={**asked, "daily": 1000})
    assert found.status_code == 200, found.text
    plan = found.json()
    assert plan["per_variant"] == 3841
    assert plan["total"] == 7682
    assert plan["days"] == 8  # 7,682 units at 1,000 a day
    relative = owner.client.get(
        "/admin/ab-tests/sample-size", params={**asked, "effect": 20, "effect_kind": "relative"}
    ).json()
    assert relative["per_variant"] == 3841  # 20 % of 10 % is 2 points
    three = owner.client.get("/admin/ab-tests/sample-size", params={**asked, "variants": 3}).json()
    assert three["alpha_per_comparison"] == 2.5
    assert three["per_variant"] > 3841
    too_far = owner.client.get(
        "/admin/ab-tests/sample-size", params={**asked, "baseline": 95, "effect": 10}
    )
    assert error_locs(problem(too_far, 422)) == [["query", "effect"]]
    nothing = owner.client.get("/admin/ab-tests/sample-size", params={**asked, "baseline": 0})
    assert ["query", "baseline"] in error_locs(problem(nothing, 422))
    page = owner.page("/admin/ab-tests/new")
    assert 'data-value="' in page
    assert "Sample size" in page
    # The page opens on a 10 % baseline and the design's 5 % minimum effect: 10 % → 10.5 %.
    assert re.search(r'id="plan-per-variant" data-value="57\d\d\d"', page), page


def _wait_for(fetch: Any, ready: Any, seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = fetch()
        if ready(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_an_experiment_is_designed_and_its_results_show_every_metric(
    owner: Visit, app_client: TestClient
) -> None:
    design = {
        "key": "bundle_price",
        "name": "Bundle price",
        "hypothesis": "A cheaper bundle sells more",
        "unit": "customer_id",
        "variants": [{"key": "control", "weight": 50}, {"key": "cheaper", "weight": 50}],
        "coverage": 1.0,
        "targeting": {"country": {"$in": ["TR", "DE"]}},
        "primary_metric": {"kind": "conversion", "event": "purchase"},
        "secondary_metrics": [
            {"kind": "revenue", "event": "purchase"},
            {"key": "clicks", "kind": "count", "event": "click"},
        ],
        "minimum_effect": 0.1,
    }
    made = _made(owner, design, EXPERIMENTS)
    page = owner.page(f"/admin/ab-tests/{made['id']}")
    assert _data(page, "experiment-audience-rows") == [
        {"attribute": "country", "operator": "$in", "value": "TR, DE"}
    ]
    assert "No results yet" in page or "Results" in page
    item = f"/v1/admin/experiments/{made['id']}"
    renamed = owner.send(
        "PUT", item, {**design, "name": "Bundle price test"}, **{"If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text
    started = owner.send("POST", f"{item}/start", None)
    assert started.status_code == 200, started.text
    runtime = Api(app_client, create_key(app_client, "MKT", "runtime"))
    rng = random.Random(3)
    events = []
    for i in range(400):
        unit = f"c{i}"
        assigned = runtime.post(
            "/v1/experiments/bundle_price/assign",
            json={"unit_id": unit, "attributes": {"country": "TR"}},
        )
        assert assigned.status_code == 200, assigned.text
        if rng.random() < (0.4 if assigned.json()["variant"] == "cheaper" else 0.2):
            events.append(
                {"type": "purchase", "customer_id": unit, "value": "50.00", "currency": "TRY"}
            )
        if rng.random() < 0.5:
            events.append({"type": "click", "customer_id": unit})
    sent = runtime.post("/v1/events", json={"events": events})
    assert sent.status_code == 202, sent.text
    _wait_for(
        lambda: owner.client.get(f"/v1/experiments/{made['id']}/results").json(),
        lambda r: (
            sum(a["units"] for a in r["primary"]["variants"]) == 400
            and sum(a["conversions"] for a in r["primary"]["variants"]) > 0
        ),
    )
    page = owner.page(f"/admin/ab-tests/{made['id']}")
    results = page[page.index('id="results"') :]
    for metric in ("conversion_purchase", "revenue_purchase", "clicks"):
        assert f'id="metric-{metric}"' in results, metric
    assert results.count("<svg") == 3  # each metric's intervals, drawn on the server
    assert results.count('class="interval') >= 9  # a bar and two ends per treatment
    assert "Sample ratio check" in results
    assert "chi-square p =" in results
    verdict = re.search(
        r'<div class="verdict verdict-(\w+)" id="verdict">\s*<p><strong>([^<]+)', results
    )
    assert verdict, results[:2000]
    assert verdict.group(2) in ("Ship", "Keep running", "No difference", "Sample ratio mismatch")
    assert "Bundle price test" in page
