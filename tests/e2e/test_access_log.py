"""The access log names each request by its route's template, never by its path or query
string, which carry customers' ids: on the run-time app and on the admin app alike."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from offerengine.app import create_app
from tests.conftest import make_settings
from tests.helpers import Api, create_key, platform, tenant_api


def test_access_lines_carry_route_templates_and_no_identifier(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = f"planted-{uuid.uuid4().hex[:10]}"
    product = str(uuid.uuid4())
    settings = make_settings(sqlite_url, tmp_path, access_log=True, log_level="INFO")
    with TestClient(create_app(settings)) as client:
        tenant_api(client, "AL")
        runtime = Api(client, create_key(client, "AL", "runtime"))
        capsys.readouterr()
        assert runtime.get(f"/v1/profiles/{planted}").status_code == 404
        assert runtime.get(f"/v1/profiles/{planted}", params={"email": planted}).status_code == 422
        assert platform(client).get(f"/v1/admin/products/{product}").status_code == 404
        assert runtime.get(f"/v1/no-such-route/{planted}").status_code == 404
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    routes = [line["route"] for line in lines if line.get("event") == "request"]
    assert routes == [
        "/v1/profiles/{profile_id}",
        "/v1/profiles/{profile_id}",
        "/v1/admin/products/{id}",
        "<unmatched>",
    ]
    assert planted not in out
    assert product not in out
