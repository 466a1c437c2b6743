"""The OpenAPI document as clients use it: valid, every reference resolving, and good enough for a
client generator (openapi-python-client) whose client then talks to a real server.

openapi-python-client pins typer below the version OfferEngine uses, so ``make`` installs it in a
folder of its own (``.venv/tools/openapi-python-client``) that only its own process reads, as
pipx would; the generated client needs only httpx and attrs, which the test environment has.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.conftest import IN_CI, PLATFORM_KEY
from tests.helpers import SEAT
from tests.servers import serve

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / ".venv" / "tools" / "openapi-python-client"
# What the generator says when it had to leave part of the document out.
DROPPED = (
    "Unable to",
    "will not be generated",
    "Could not find reference",
    "response will be omitted",
    "duplicate",
)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref} does not resolve"
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_served_document_is_valid_openapi_and_every_reference_resolves(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    assert errors == [], [e.message[:300] for e in errors[:5]]
    refs = set(_refs(document))
    assert len(refs) > 100
    for ref in refs:
        _resolve(document, ref)
    # The operations the issue named: their bodies' schemas exist, and say what they take.
    events = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    named = {r.rsplit("/", 1)[1] for r in _refs(events)}
    assert named == {"EventIn", "EventBatch"}
    assert "occurred_at" in document["components"]["schemas"]["EventIn"]["properties"]
    # Generators name a class by its schema's title: two schemas of one title make two classes of
    # one name, and one of them (with every operation using it) is dropped.
    schemas = document["components"]["schemas"]
    titles = [s.get("title", key) for key, s in schemas.items()]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
    assert not [key for key in schemas if "__" in key]  # FastAPI's module-path names


def _generator() -> list[str]:
    if (GENERATOR / "openapi_python_client").is_dir():
        return [sys.executable, "-m", "openapi_python_client"]
    found = shutil.which("openapi-python-client")
    if found:
        return [found]
    message = f"openapi-python-client is not installed in {GENERATOR}; `make test` installs it"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _generate(document: dict[str, Any], folder: Path, package: str) -> ModuleType:
    """The client generated from ``document`` into ``folder/package``, imported."""
    command = _generator()
    source = folder / "openapi.json"
    source.write_text(json.dumps(document))
    env = {
        **os.environ,
        "PYTHONPATH": str(GENERATOR),  # its own folder, not ours (see the module's doc)
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # ruff
    }
    done = subprocess.run(
        [
            *command,
            "generate",
            "--path",
            str(source),
            "--output-path",
            str(folder / package),
            "--meta",
            "none",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-3000:]
    dropped = [line for line in said.splitlines() if any(d in line for d in DROPPED)]
    assert dropped == [], said[-3000:]
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(folder))


def _ok(response: Any, status: int) -> Any:
    assert response.status_code == status, response.content[:1000]
    return response.parsed


def test_a_generated_client_creates_a_product_records_an_event_and_decides(
    sqlite_url: str, tmp_path: Path
) -> None:
    package = f"oe_client_{uuid.uuid4().hex[:8]}"
    with serve(sqlite_url, tmp_path) as base, ExitStack() as clients:
        document = httpx.get(f"{base}/openapi.json", timeout=30).json()
        oe = _generate(document, tmp_path, package)

        def load(name: str) -> Any:
            return importlib.import_module(f"{package}.{name}")

        models = load("models")
        tenants = load("api.tenants.create_tenant")
        keys = load("api.api_keys.create_api_key")
        products = load("api.catalog")
        decisioning = load("api.decisioning")
        run_time = load("api.run_time")
        for module in ("create_product", "get_product"):
            load(f"api.catalog.{module}")
        for kind in ("placement", "offer", "fallback_offer", "collection", "activity"):
            load(f"api.decisioning.create_decisioning_{kind}")
        for module in ("decide", "record_events"):
            load(f"api.run_time.{module}")

        def connect(token: str) -> Any:
            client = oe.AuthenticatedClient(base_url=base, token=token, timeout=30.0)
            return clients.enter_context(client)  # closes its connections at the end

        platform = connect(PLATFORM_KEY)
        tenant = _ok(
            tenants.sync_detailed(
                client=platform,
                body=models.TenantCreate.from_dict(
                    {"code": "GC", "name": "Generated", "kind": "airline", "base_currency": "USD"}
                ),
            ),
            201,
        )
        assert isinstance(tenant, models.TenantRead)
        assert tenant.code == "GC"

        def key(role: str) -> Any:
            made = keys.sync_detailed(
                "GC",
                client=platform,
                body=models.ApiKeyCreate.from_dict({"name": f"generated {role}", "role": role}),
            )
            return connect(_ok(made, 201).secret)

        owner, runtime = key("owner"), key("runtime")

        # A product, created and read back through the generated models.
        product = _ok(
            products.create_product.sync_detailed(
                "GC", client=owner, body=models.ProductCreate.from_dict(SEAT)
            ),
            201,
        )
        assert isinstance(product, models.ProductRead)
        again = _ok(products.get_product.sync_detailed(product.id, client=owner), 200)
        assert (again.product_code, again.base_price) == ("SEAT-EXTRA-LEG", "30.00")

        # An activity with one offer, decided by its name.
        def create(kind: str, body: dict[str, Any], model: str) -> Any:
            module = getattr(decisioning, f"create_decisioning_{kind}")
            made = module.sync_detailed(
                "GC", client=owner, body=getattr(models, model).from_dict(body)
            )
            return _ok(made, 201)

        hero = create(
            "placement", {"name": "Hero", "channel": "web", "content_type": "json"}, "PlacementIn"
        )
        content = [{"placement_id": str(hero.id), "content": {"h": "Lounge"}}]
        offer = create(
            "offer",
            {"name": "Lounge", "status": "approved", "tags": ["t"], "representations": content},
            "OfferIn",
        )
        fallback = create(
            "fallback_offer", {"name": "Hello", "representations": content}, "FallbackOfferIn"
        )
        collection = create("collection", {"name": "All", "tags": ["t"]}, "CollectionIn")
        activity = create(
            "activity",
            {
                "name": "Home",
                "status": "approved",
                "placement_id": str(hero.id),
                "collection_id": str(collection.id),
                "fallback_offer_id": str(fallback.id),
            },
            "ActivityIn",
        )
        decision = _ok(
            run_time.decide.sync_detailed(
                client=runtime,
                body=models.DecisionRequest.from_dict(
                    {"profile": {"id": "p-1"}, "activities": ["Home"]}
                ),
            ),
            200,
        )
        assert isinstance(decision, models.DecisionResponse)
        [proposition] = decision.propositions
        assert proposition.activity_id == activity.id
        assert [item.offer_id for item in proposition.items] == [offer.id]

        # The event of its impression, as one event of a batch.
        event = {
            "type": "impression",
            "profile_id": "p-1",
            "decision_id": str(decision.decision_id),
            "activity_id": str(activity.id),
            "offer_id": str(offer.id),
        }
        accepted = _ok(
            run_time.record_events.sync_detailed(
                client=runtime, body=models.EventBatch.from_dict({"events": [event]})
            ),
            202,
        )
        assert (accepted.accepted, accepted.duplicates) == (1, 0)

        # Refusals arrive as the generated Problem, naming the field.
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        refused = _ok(
            run_time.record_events.sync_detailed(
                client=runtime,
                body=models.EventIn.from_dict(
                    {"type": "click", "profile_id": "p-1", "occurred_at": later}
                ),
            ),
            422,
        )
        assert isinstance(refused, models.Problem)
        assert [e.loc for e in refused.errors] == [["body", "occurred_at"]]
        unknown = _ok(
            run_time.decide.sync_detailed(
                client=runtime,
                body=models.DecisionRequest.from_dict(
                    {"profile": {"id": "p-1"}, "activities": ["Homepage"]}
                ),
            ),
            422,
        )
        assert [e.loc for e in unknown.errors] == [["body", "activities", 0]]
