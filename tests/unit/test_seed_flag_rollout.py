"""Seed 002's flag, entered as written, over 10,000 simulated users: on for half of those in its
segments and regions (within statistical tolerance), never for anyone else, the same answer for
the same user every time."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from offerengine.experiments.core import ExperimentIndex
from offerengine.flags import core
from offerengine.flags.models import FeatureFlag
from offerengine.flags.schemas import FeatureFlagCreate
from offerengine.flags.service import compile_stored

SEED_FLAG = {
    "key": "dynamic_pricing",
    "name": "Dynamic Pricing",
    "description": "Enable dynamic pricing based on demand",
    "type": "BOOLEAN",
    "value": True,
    "is_enabled": True,
    "rollout": {"percentage": 50.0, "user_segments": ["premium", "vip"], "regions": ["Istanbul", "Ankara"]},
}  # fmt: skip
AT = datetime(2026, 12, 1, tzinfo=UTC)


def _compiled() -> core.Flag:
    data = FeatureFlagCreate.model_validate(SEED_FLAG).model_dump(mode="json")
    row = FeatureFlag(id=uuid.uuid4(), tenant_id=uuid.uuid4(), version=1, **data)
    row.created_at = row.updated_at = AT
    return compile_stored(row)


def test_the_seed_flag_rolls_out_as_written_across_10000_simulated_users() -> None:
    flag = _compiled()
    rng = random.Random(20261201)
    index = ExperimentIndex.build([])
    in_scope = on_in_scope = on_elsewhere = 0
    for i in range(10_000):
        context = {
            "user_id": f"user-{i}",
            "segment": rng.choice(["premium", "vip", "basic", "new"]),
            "region": rng.choice(["Istanbul", "Ankara", "Izmir", "Bursa"]),
        }
        found = core.evaluate(flag, context, at=AT, experiments_index=index)
        again = core.evaluate(flag, context, at=AT, experiments_index=index)
        assert (found.value, found.reason) == (again.value, again.reason)
        listed = context["segment"] in ("premium", "vip") and context["region"] in (
            "Istanbul",
            "Ankara",
        )
        if listed:
            in_scope += 1
            on_in_scope += found.value is True
            assert found.reason == "SPLIT"
        else:
            on_elsewhere += found.value is True
            assert found.reason == "DEFAULT"
    assert on_elsewhere == 0
    # About a quarter of the users are in scope (~2,500); Binomial(n, 0.5) within 4 standard deviations.
    sigma = (in_scope * 0.25) ** 0.5
    assert abs(on_in_scope - in_scope / 2) < 4 * sigma, (on_in_scope, in_scope)
