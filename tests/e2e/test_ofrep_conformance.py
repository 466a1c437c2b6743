"""OpenFeature's own OFREP OpenAPI (tests/data/ofrep/openapi.yaml), fuzzed against our server.

schemathesis generates requests from the protocol's document, not ours, and checks each answer
against it: status codes the protocol lists, its response schemas (the `reason` enum, the
metadata's value types, the error shapes), its headers. The tenant holds a flag of every type and
in every state (on, off, rolled out, a list value), one of them under the key the protocol's own
example asks for, so the example phase reaches a real flag as well as missing ones; the bulk
evaluation evaluates them all for every generated context.

Same shape as tests/e2e/test_schemathesis.py: the app is made at import, seeded by a fixture, and
examples are bounded (SCHEMATHESIS_EXAMPLES) and fixed unless SCHEMATHESIS_RANDOM=1.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection

from offerengine.app import create_app
from offerengine.db import migrate
from tests.conftest import make_settings
from tests.helpers import create_key, tenant_api

SPEC = Path(__file__).parents[1] / "data" / "ofrep" / "openapi.yaml"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
FOLDER = Path(tempfile.mkdtemp(prefix="offerengine-ofrep-"))
atexit.register(shutil.rmtree, FOLDER, ignore_errors=True)
SETTINGS = make_settings(f"sqlite:///{FOLDER / 'offerengine.db'}", FOLDER)
APP = create_app(SETTINGS)
# No NUL characters: the engine refuses text it cannot store anywhere (OFREP's 400 for a body, a
# 422 before any route for a path or query, see docs/flags.md), a rule JSON Schema cannot say;
# tests/e2e/test_flags.py checks that refusal.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"allow-x00": False},
        "phases": {
            "coverage": {"enabled": os.environ.get("SCHEMATHESIS_COVERAGE") == "1"},
            "fuzzing": {"extra-data-sources": {"responses": False}},
            "examples": {"extra-data-sources": {"responses": False}},
        },
    }
)


def _protocol() -> dict[str, Any]:
    """The protocol's document, with one correction: a success's value is "one of" six shapes
    that overlap (an integer is also a float, and `codeDefaultFlag`, which only says "no value" in
    words, matches any value), so no answer can match exactly one; "any of" is what it means."""
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text("utf-8"))
    success = document["components"]["schemas"]["evaluationSuccess"]
    success["allOf"][1] = {"anyOf": success["allOf"][1].pop("oneOf")}
    return document


schema = schemathesis.openapi.from_dict(_protocol(), config=CONFIG)
schema.app = APP
RUNTIME_KEY: dict[str, str] = {}

FLAGS: list[dict[str, Any]] = [
    # The protocol's example key: a boolean rolled out to half of two segments.
    {
        "key": "discount-banner",
        "type": "BOOLEAN",
        "value": True,
        "rollout": {"percentage": 50.0, "user_segments": ["premium", "vip"]},
    },
    {"key": "theme-color", "type": "STRING", "value": "blue"},
    {"key": "max-items", "type": "NUMBER", "value": 12},
    {"key": "multiplier", "type": "NUMBER", "value": 1.5},
    {"key": "layout", "type": "JSON", "value": {"columns": 3}},
    {"key": "menu", "type": "JSON", "value": ["home", "offers"]},
    {"key": "dark-mode", "type": "BOOLEAN", "value": True, "is_enabled": False},
]


@pytest.fixture(scope="module", autouse=True)
def seeded_tenant() -> None:
    migrate.upgrade(SETTINGS.database_url)
    with TestClient(APP) as client:
        owner = tenant_api(client, "MK", kind="marketplace", base_currency="TRY")
        for flag in FLAGS:
            body = {"name": flag["key"], "is_enabled": True} | flag
            response = owner.post("/v1/admin/tenants/MK/feature-flags", json=body)
            assert response.status_code == 201, response.text
        RUNTIME_KEY["MK"] = create_key(client, "MK", "runtime")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not os.environ.get("SCHEMATHESIS_RANDOM"),
)
def test_every_answer_conforms_to_the_ofrep_specification(case: schemathesis.Case) -> None:
    # The runtime key both ways OFREP names, so that schemathesis generates no credential of its
    # own, and its probes (without one, with a wrong one) reach each scheme.
    # Every check but "schema-violating data is refused": the protocol's schema requires a
    # `context` and its `targetingKey`, while OpenFeature's evaluation context makes the targeting
    # key optional; the engine evaluates a request without either for an empty context (a flag
    # that needs no unit serves everyone; a percentage rollout without one is off, and says so).
    key = RUNTIME_KEY["MK"]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {key}", "X-API-Key": key},
        excluded_checks=[negative_data_rejection],
    )
