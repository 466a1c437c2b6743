"""The time budget through the real app: a quote that cannot finish within its budget answers
503 and stores nothing (seed 002's 2-second quote timeout, here made tiny to be sure to run out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.e2e.test_quotes import SEED_REQUEST, flush, market, owner, runtime
from tests.helpers import Api, problem

__all__ = ["market", "owner", "runtime"]  # the quote tests' fixtures, used here


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return make_settings(sqlite_url, tmp_path, time_budgets={"quote": 0.000_001})


def test_a_quote_past_its_budget_is_a_503_and_nothing_is_stored(
    market: dict[str, Any], runtime: Api, owner: Api
) -> None:
    refused = runtime.post("/v1/quote", json=SEED_REQUEST)
    body = problem(refused, 503)
    assert body["type"] == "urn:offerengine:problem:time-budget-spent"
    assert refused.headers["retry-after"] == "1"
    flush(owner.client)
    assert owner.get("/v1/analytics/pricing").json()["quoted"] == []
    # Other run-time routes keep the default budget.
    assert runtime.get("/ofrep/v1/configuration").status_code == 200


def test_a_quote_has_two_seconds_by_default_and_other_operations_ten() -> None:
    defaults = Settings()
    assert defaults.time_budgets == {"quote": 2.0}
    assert defaults.time_budget_seconds == 10.0
