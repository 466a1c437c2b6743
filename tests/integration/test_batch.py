"""Batch decisioning end to end: `offerengine decide-batch` on a file of profiles, with the global
cap shared by the batch (highest scores win), profile caps and live counters, on SQLite,
PostgreSQL and Redis; and the same batch ranked on a Dask cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine.app import create_app
from offerengine.cli import app as cli
from offerengine.settings import Settings
from tests.conftest import make_settings
from tests.e2e.test_decisioning import Setup, make
from tests.helpers import Api, create_key, tenant_api

runner = CliRunner()
PROFILES = 300
LOUNGE_CAP = 40


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    if request.param == "redis":
        return make_settings(database_url, tmp_path, redis_url=request.getfixturevalue("redis_url"))
    return make_settings(database_url, tmp_path)


def _env(settings: Settings) -> dict[str, str]:
    env = {
        "OFFERENGINE_DATABASE_URL": settings.database_url,
        "OFFERENGINE_VAR_DIR": str(settings.var_dir),
        "OFFERENGINE_REDIS_PREFIX": settings.redis_prefix,
    }
    if settings.redis_url:
        env["OFFERENGINE_REDIS_URL"] = settings.redis_url
    return env


def _profiles(path: Path, n: int = PROFILES) -> Path:
    """Gold and silver members, some flying within a week; scores come from a formula that
    reads the profile's spend, so they differ per profile."""
    pq.write_table(
        pa.table(
            {
                "profile_id": [f"b{i}" for i in range(n)],
                "tier": ["GOLD" if i % 3 else "SILVER" for i in range(n)],
                "spend": [float((i * 37) % 1000) for i in range(n)],
                "context.days_to_departure": [i % 14 for i in range(n)],
            }
        ),
        path,
    )
    return path


def _configure(owner: Api) -> tuple[Setup, dict[str, Any]]:
    setup = Setup(owner)
    lounge = setup.offers["Lounge"]
    body = {
        key: lounge[key]
        for key in ("name", "status", "priority", "tags", "representations", "eligibility")
    }
    body["capping"] = [
        {"scope": "global", "limit": LOUNGE_CAP},
        {"scope": "profile", "limit": 1, "window": {"type": "calendar", "unit": "day"}},
    ]
    assert owner.put(f"/v1/admin/decisioning/offers/{lounge['id']}", json=body).status_code == 200
    spend = make(
        owner,
        "ranking-formulas",
        {"name": "Spend", "expression": "profile.spend + offer.priority"},
    )
    ranked = setup.activity(
        "By spend", setup.hero, ranking={"method": "formula", "formula_id": spend["id"]}
    )
    return setup, ranked


def test_a_batch_shares_the_global_cap_by_score_and_counts_it(
    settings: Settings, tmp_path: Path
) -> None:
    with TestClient(create_app(settings)) as client:
        owner = tenant_api(client, "ZZ")
        setup, ranked = _configure(owner)
        runtime = Api(client, create_key(client, "ZZ", "runtime"))
        # Two units of the cap are gone before the batch; the batch gets the rest.
        for i in range(2):
            taken = runtime.post(
                "/v1/decisions",
                json={
                    "profile": {"id": f"live{i}", "attributes": {"tier": "GOLD", "spend": 1}},
                    "activities": [ranked["id"]],
                },
            ).json()
            assert taken["propositions"][0]["items"][0]["name"] == "Lounge"
        profiles = _profiles(tmp_path / "profiles.parquet")
        out = tmp_path / "decisions.parquet"
        dry = runner.invoke(
            cli,
            [
                "decide-batch",
                "--tenant", "ZZ",
                "--activities", f"By spend,{setup.thanks['id']}",
                "--profiles", str(profiles),
                "--out", str(out),
                "--dry-run",
            ],
            env=_env(settings),
        )  # fmt: skip
        assert dry.exit_code == 0, dry.output
        dry_rows = pq.read_table(out).to_pylist()
        result = runner.invoke(
            cli,
            [
                "decide-batch",
                "--tenant", "ZZ",
                "--activities", f"By spend,{setup.thanks['id']}",
                "--profiles", str(profiles),
                "--out", str(out),
            ],
            env=_env(settings),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "profiles/s" in result.output
        rows = pq.read_table(out).to_pylist()
        assert rows == [
            {**r, "decision_id": rows[i]["decision_id"]} for i, r in enumerate(dry_rows)
        ]  # a dry run decides the same

        hero = [r for r in rows if r["activity"] == "By spend"]
        thanks = [r for r in rows if r["activity"] == "Thanks"]
        assert len(hero) == len(thanks) == PROFILES
        lounge = [r for r in hero if r["offer"] == "Lounge"]
        assert len(lounge) == LOUNGE_CAP - 2  # what the live decisions left
        gold = [r for r in hero if r["offer"] != "Lounge" and r["profile_id"] not in {"b0"}]
        # The highest spenders won the limited units: every gold member without a lounge
        # scored no more than the lowest lounge winner.
        lowest = min(r["score"] for r in lounge)
        spend = {f"b{i}": float((i * 37) % 1000) for i in range(PROFILES)}
        losers = [r for r in gold if int(r["profile_id"][1:]) % 3]
        assert losers
        assert all(spend[r["profile_id"]] + 50 <= lowest for r in losers)
        # De-duplication across the batch's activities: no profile gets one offer twice.
        by_profile: dict[str, list[str]] = {}
        for r in rows:
            if not r["fallback"]:
                by_profile.setdefault(r["profile_id"], []).append(r["offer_id"])
        assert all(len(set(offers)) == len(offers) for offers in by_profile.values())

        # The counts were taken: the global cap is reached for everybody now.
        after = runtime.post(
            "/v1/decisions",
            json={
                "profile": {"id": "late", "attributes": {"tier": "GOLD", "spend": 10_000}},
                "activities": [ranked["id"]],
                "explain": True,
            },
        ).json()
        assert after["propositions"][0]["items"][0]["name"] != "Lounge"
        # The decisions were recorded: feedback can name them.
        winner = lounge[0]
        event = {
            "type": "accept",
            "decision_id": winner["decision_id"],
            "offer_id": winner["offer_id"],
            "profile_id": winner["profile_id"],
        }
        assert runtime.post("/v1/events", json=event).status_code == 202
        # A second batch finds nothing left of the cap.
        again = runner.invoke(
            cli,
            [
                "decide-batch",
                "--tenant", "ZZ",
                "--activities", "By spend",
                "--profiles", str(profiles),
                "--out", str(out),
            ],
            env=_env(settings),
        )  # fmt: skip
        assert again.exit_code == 0, again.output
        assert not [r for r in pq.read_table(out).to_pylist() if r["offer"] == "Lounge"]


def test_two_caps_on_one_counter_count_once_in_a_batch_with_the_tightest_limit(
    settings: Settings, tmp_path: Path
) -> None:
    # Global caps of 100 and 6 on the same counter: one cap of 6, each unit counted once.
    with TestClient(create_app(settings)) as client:
        owner = tenant_api(client, "ZZ")
        setup, ranked = _configure(owner)
        lounge = setup.offers["Lounge"]
        body = {
            key: lounge[key]
            for key in ("name", "status", "priority", "tags", "representations", "eligibility")
        }
        body["capping"] = [{"scope": "global", "limit": 100}, {"scope": "global", "limit": 6}]
        response = owner.put(f"/v1/admin/decisioning/offers/{lounge['id']}", json=body)
        assert response.status_code == 200, response.text
        runtime = Api(client, create_key(client, "ZZ", "runtime"))
        out = tmp_path / "decisions.parquet"
        batch = runner.invoke(
            cli,
            [
                "decide-batch", "--tenant", "ZZ", "--activities", "By spend",
                "--profiles", str(_profiles(tmp_path / "profiles.parquet", 4)), "--out", str(out),
            ],
            env=_env(settings),
        )  # fmt: skip
        assert batch.exit_code == 0, batch.output
        gold = {f"b{i}" for i in range(4) if i % 3}
        won = [r["profile_id"] for r in pq.read_table(out).to_pylist() if r["offer"] == "Lounge"]
        assert sorted(won) == sorted(gold)
        # What is left of the 6 goes to live decisions, then nothing.
        live = [
            runtime.post(
                "/v1/decisions",
                json={
                    "profile": {"id": f"live{i}", "attributes": {"tier": "GOLD", "spend": 1}},
                    "activities": [ranked["id"]],
                },
            ).json()["propositions"][0]["items"][0]["name"]
            for i in range(6 - len(gold) + 1)
        ]
        assert live == ["Lounge"] * (6 - len(gold)) + [live[-1]]
        assert live[-1] != "Lounge"


def test_bad_batch_input_is_said_plainly(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path)
    with TestClient(create_app(settings)) as client:
        _configure(tenant_api(client, "ZZ"))
    profiles = _profiles(tmp_path / "profiles.parquet", 5)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("id,tier\n1,GOLD\n")

    def run(*args: str) -> Any:
        return runner.invoke(
            cli, ["decide-batch", "--tenant", "ZZ", "--out", str(tmp_path / "o.parquet"), *args],
            env=_env(settings),
        )  # fmt: skip

    unknown = run("--activities", "Nope", "--profiles", str(profiles))
    assert unknown.exit_code == 2
    assert "no approved activity 'Nope'" in unknown.output
    no_id = run("--activities", "By spend", "--profiles", str(bad_csv))
    assert no_id.exit_code == 2
    assert "no 'profile_id' column" in no_id.output
    twice = run("--activities", "By spend,By spend", "--profiles", str(profiles))
    assert twice.exit_code == 2
    assert "named twice" in twice.output


@pytest.mark.slow
def test_ranked_on_a_dask_cluster_the_batch_decides_the_same(
    sqlite_url: str, tmp_path: Path
) -> None:
    from distributed import LocalCluster

    settings = make_settings(sqlite_url, tmp_path)
    with TestClient(create_app(settings)) as client:
        _configure(tenant_api(client, "ZZ"))
    profiles = _profiles(tmp_path / "profiles.parquet", 50_000)
    args = ["decide-batch", "--tenant", "ZZ", "--activities", "By spend,Thanks",
            "--profiles", str(profiles), "--dry-run"]  # fmt: skip
    here = runner.invoke(cli, [*args, "--out", str(tmp_path / "here.parquet")], env=_env(settings))
    assert here.exit_code == 0, here.output
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        there = runner.invoke(
            cli,
            [*args, "--out", str(tmp_path / "there.parquet"), "--scheduler", cluster.scheduler_address],
            env=_env(settings),
        )  # fmt: skip
    assert there.exit_code == 0, there.output
    columns = ["profile_id", "activity", "rank", "offer", "score", "fallback"]
    assert (
        pq.read_table(tmp_path / "here.parquet", columns=columns).to_pylist()
        == pq.read_table(tmp_path / "there.parquet", columns=columns).to_pylist()
    )
