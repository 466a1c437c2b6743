"""Configuration times are ISO 8601 with a zone, never a number pydantic would read as a Unix
timestamp (schemathesis' coverage phase found `"start": 0` accepted as 1970-01-01)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from offerengine.decisioning.schemas import OfferIn
from offerengine.experiments.schemas import ExperimentIn
from offerengine.flags.schemas import RolloutIn
from offerengine.pricing.schemas import SimulateRequest

CASES: list[tuple[type[BaseModel], dict[str, object], str]] = [
    (OfferIn, {"name": "x"}, "start"),
    (
        ExperimentIn,
        {
            "key": "k",
            "name": "x",
            "variants": [{"key": "a"}, {"key": "b"}],
            "primary_metric": {"key": "m", "kind": "conversion", "event": "purchase"},
        },
        "end",
    ),
    (RolloutIn, {"percentage": 50}, "start"),
    (SimulateRequest, {"product_id": "0b7b5d4e-8c1a-4f43-9a40-6a2b1a7f0c11"}, "at"),
]


@pytest.mark.parametrize(("model", "body", "field"), CASES)
@pytest.mark.parametrize("value", [0, 1.5, True, "0", "2026-13-01T00:00:00Z"])
def test_a_number_is_not_a_time(
    model: type[BaseModel], body: dict[str, object], field: str, value: object
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**body, field: value})
    assert caught.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize(("model", "body", "field"), CASES)
def test_an_iso_time_with_a_zone_is(
    model: type[BaseModel], body: dict[str, object], field: str
) -> None:
    found = model.model_validate({**body, field: "2026-12-24T08:00:00+03:00"})
    assert getattr(found, field).utcoffset() is not None
