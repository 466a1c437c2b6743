from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from offerengine import __version__
from offerengine.app import create_app
from offerengine.cli import app as cli
from tests.conftest import make_settings
from tests.helpers import Api, platform

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "OFFERENGINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OFFERENGINE_VAR_DIR": str(tmp_path / "var"),
    }


def test_the_installed_command_prints_its_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "offerengine", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"offerengine {__version__}"


def test_migrate_then_demo_loads_both_tenants_and_prints_keys_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert runner.invoke(cli, ["migrate"], env=env).exit_code == 0
    first = runner.invoke(cli, ["demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "DEMO_OE_RUNTIME_KEY" in first.output
    keys_file = tmp_path / "var" / "demo-keys.env"
    keys = dict(
        line.removeprefix("export ").split("=", 1)
        for line in keys_file.read_text().splitlines()
        if line.startswith("export ")
    )
    users = {
        "DEMO_USER_DEMO_OE_EXAMPLE",
        "DEMO_USER_DEMO_MKT_EXAMPLE",
        "DEMO_USER_PLATFORM_OFFERENGINE_EXAMPLE",
    }
    assert set(keys) == {"DEMO_PLATFORM_KEY"} | users | {
        f"DEMO_{t}_{r}_KEY" for t in ("OE", "MKT") for r in ("OWNER", "EDITOR", "VIEWER", "RUNTIME")
    }
    assert keys["DEMO_USER_DEMO_OE_EXAMPLE"] in first.output  # printed, once
    assert oct(keys_file.stat().st_mode & 0o777) == "0o600"

    again = runner.invoke(cli, ["demo"], env=env)
    assert again.exit_code == 0
    assert "already loaded" in again.output
    assert "oek_" not in again.output  # secrets are shown once
    assert keys["DEMO_USER_DEMO_OE_EXAMPLE"] not in again.output

    settings = make_settings(env["OFFERENGINE_DATABASE_URL"], tmp_path, platform_key=None)
    with TestClient(create_app(settings)) as client:
        runtime = Api(client, keys["DEMO_OE_RUNTIME_KEY"])
        codes = {p["product_code"] for p in runtime.get("/v1/catalog/products").json()["items"]}
        assert {
            "SEAT-STD",
            "SEAT-EXTRA-LEG",
            "SEAT-PREMIUM",
            "BAG-23KG",
            "MEAL-HOT",
            "MEAL-COLD",
            "LOUNGE-ACCESS",
            "FAST-TRACK",
            "INS-TRAVEL",
            "WIFI-FLIGHT",
            "PRIORITY-BOARDING",
        } <= codes
        admin = Api(client, keys["DEMO_PLATFORM_KEY"])
        assert {t["code"]: t["base_currency"] for t in admin.get("/v1/admin/tenants").json()} == {
            "OE": "USD",
            "MKT": "TRY",
        }
        airports = admin.get("/v1/admin/tenants/OE/airports").json()["items"]
        assert len(airports) == 51  # the long-haul network and the hubs' spokes
        assert next(a for a in airports if a["iata"] == "IST")["timezone"] == "Europe/Istanbul"
        market = (
            Api(client, keys["DEMO_MKT_RUNTIME_KEY"]).get("/v1/catalog/products").json()["items"]
        )
        assert {p["currency"] for p in market} == {"TRY"}


def test_create_key_makes_a_working_tenant_key_and_a_platform_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    runner.invoke(cli, ["migrate"], env=env)
    settings = make_settings(env["OFFERENGINE_DATABASE_URL"], tmp_path)
    with TestClient(create_app(settings)) as client:
        platform(client).post(
            "/v1/admin/tenants",
            json={"code": "ZZ", "name": "Z", "kind": "retail", "base_currency": "EUR"},
        )
    made = runner.invoke(
        cli, ["create-key", "--tenant", "ZZ", "--role", "viewer", "--name", "ops"], env=env
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[0]
    platform_made = runner.invoke(cli, ["create-key", "--platform"], env=env)
    platform_secret = platform_made.stdout.strip().splitlines()[0]
    with TestClient(
        create_app(make_settings(env["OFFERENGINE_DATABASE_URL"], tmp_path, platform_key=None))
    ) as client:
        assert Api(client, secret).get("/v1/admin/tenants/ZZ/products").status_code == 200
        assert Api(client, secret).post("/v1/admin/tenants/ZZ/products", json={}).status_code == 403
        assert Api(client, platform_secret).get("/v1/admin/tenants").status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ["create-key"],
        ["create-key", "--tenant", "ZZ"],
        ["create-key", "--platform", "--tenant", "ZZ", "--role", "owner"],
    ],
)
def test_create_key_refuses_unclear_arguments(env: dict[str, str], args: list[str]) -> None:
    assert runner.invoke(cli, args, env=env).exit_code == 2


def test_create_key_for_an_unknown_tenant_fails_clearly(env: dict[str, str]) -> None:
    runner.invoke(cli, ["migrate"], env=env)
    result = runner.invoke(cli, ["create-key", "--tenant", "NOPE", "--role", "owner"], env=env)
    assert result.exit_code == 1
    assert "No tenant 'NOPE'" in result.output


def test_create_user_makes_a_person_who_logs_in(env: dict[str, str], tmp_path: Path) -> None:
    assert runner.invoke(cli, ["migrate"], env=env).exit_code == 0
    assert runner.invoke(cli, ["demo"], env=env).exit_code == 0
    made = runner.invoke(
        cli,
        ["create-user", "--tenant", "OE", "--email", "Eve@Example.com", "--role", "editor"],
        env=env,
    )
    assert made.exit_code == 0, made.output
    password = made.stdout.strip().splitlines()[0]  # generated, printed once
    assert len(password) >= 10
    again = runner.invoke(
        cli,
        ["create-user", "--tenant", "OE", "--email", "eve@example.com", "--role", "viewer"],
        env={**env, "OFFERENGINE_NEW_USER_PASSWORD": "another long one"},
    )
    assert again.exit_code == 1
    assert "exists" in again.output
    short = runner.invoke(
        cli,
        ["create-user", "--tenant", "OE", "--email", "sam@example.com", "--role", "viewer"],
        env={**env, "OFFERENGINE_NEW_USER_PASSWORD": "short"},
    )
    assert short.exit_code == 1
    assert "password: use at least 10 characters" in short.output
    unclear = runner.invoke(
        cli,
        ["create-user", "--tenant", "OE", "--email", "p@example.com", "--role", "platform"],
        env=env,
    )
    assert unclear.exit_code == 2

    settings = make_settings(env["OFFERENGINE_DATABASE_URL"], tmp_path)
    with TestClient(create_app(settings)) as client:
        page = client.get("/admin/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        done = client.post(
            "/admin/login",
            data={"email": "eve@example.com", "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        assert "eve@example.com (editor)" in client.get("/admin/products").text.replace(
            " <small>(", " ("
        ).replace(")</small>", ")")


# --- Run from another folder than the repository's --------------------------------------------

# Every command that uses the database, with arguments it accepts (files it reads exist).
DATABASE_COMMANDS = [
    ["demo"],
    ["create-key", "--platform"],
    ["create-user", "--email", "a@example.com", "--role", "platform"],
    ["train", "--tenant", "OE"],
    ["export-logs", "--tenant", "OE", "--activity", "A", "--out", "logs.jsonl"],
    ["evaluate-policy", "--tenant", "OE", "--activity", "A", "--policy", "priority"],
    [
        "decide-batch",
        "--tenant",
        "OE",
        "--activities",
        "A",
        "--profiles",
        "p.csv",
        "--out",
        "o.csv",
    ],
    ["train-uplift", "--tenant", "OE", "--promotion", "P", "--synthetic", "10"],
    ["recommend-promotions", "--tenant", "OE", "--customers", "c.csv", "--out", "g.csv"],
    ["replay"],
    ["profiles", "rebuild-features"],
    ["consume"],
    ["import", "products", "p.csv", "--tenant", "OE"],
    ["export", "products", "--tenant", "OE", "--output", "out.jsonl"],
]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no ``var/`` and no OFFERENGINE_* database settings: a user's home."""
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "p.csv").write_text("profile_id\nu1\n")
    (folder / "c.csv").write_text("customer_id\nc1\n")
    monkeypatch.chdir(folder)
    for name in ("OFFERENGINE_DATABASE_URL", "OFFERENGINE_VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=lambda args: args[0])
def test_a_command_run_elsewhere_says_which_database_it_looked_for_and_creates_none(
    elsewhere: Path, args: list[str]
) -> None:
    before = sorted(p.name for p in elsewhere.iterdir())
    result = runner.invoke(cli, args, env={"OFFERENGINE_DATABASE_URL": None})
    assert result.exit_code == 1, result.output
    message = result.stderr
    assert f"No OfferEngine database at {elsewhere / 'var' / 'offerengine.db'}" in message
    assert "OFFERENGINE_DATABASE_URL is not set" in message
    assert f"relative to the current folder {elsewhere}" in message
    assert "offerengine migrate" in message
    assert len(message.splitlines()) <= 4
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p.name for p in elsewhere.iterdir()) == before  # no var/, no empty file


def test_the_installed_command_run_elsewhere_exits_with_a_short_message(elsewhere: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERENGINE_")}
    result = subprocess.run(
        [sys.executable, "-m", "offerengine", "train", "--tenant", "OE"],
        capture_output=True,
        text=True,
        env=env,
        cwd=elsewhere,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(elsewhere / "var" / "offerengine.db") in result.stderr
    assert not (elsewhere / "var").exists()


def test_a_database_that_is_not_migrated_is_named_with_what_to_run(elsewhere: Path) -> None:
    import sqlite3

    sqlite3.connect(elsewhere / "empty.db").close()
    url = f"sqlite:///{elsewhere / 'empty.db'}"
    result = runner.invoke(cli, ["train", "--tenant", "OE"], env={"OFFERENGINE_DATABASE_URL": url})
    assert result.exit_code == 1
    assert f"The database at {elsewhere / 'empty.db'} has no OfferEngine tables" in result.stderr
    assert f"OFFERENGINE_DATABASE_URL={url}." in result.stderr
    assert "Run `offerengine migrate`" in result.stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://nobody:secret@127.0.0.1:1/x", "Connection refused"),
        ("mysql://127.0.0.1/x", "is not a database URL we can use"),
    ],
)
def test_a_database_that_does_not_answer_is_named_without_its_password(
    elsewhere: Path, url: str, reason: str
) -> None:
    result = runner.invoke(cli, ["replay"], env={"OFFERENGINE_DATABASE_URL": url})
    assert result.exit_code == 1
    assert reason in result.stderr
    assert "secret" not in result.stderr


def test_serve_refuses_a_sqlite_file_that_is_not_there_rather_than_making_it(
    elsewhere: Path,
) -> None:
    result = runner.invoke(cli, ["serve", "--port", "1"], env={"OFFERENGINE_DATABASE_URL": None})
    assert result.exit_code == 1
    assert str(elsewhere / "var" / "offerengine.db") in result.stderr
    assert not (elsewhere / "var").exists()


def test_migrate_run_elsewhere_makes_the_database_the_other_commands_then_use(
    elsewhere: Path,
) -> None:
    env = {"OFFERENGINE_DATABASE_URL": None}
    made = runner.invoke(cli, ["migrate"], env=env)
    assert made.exit_code == 0, made.output
    assert str(elsewhere / "var" / "offerengine.db") in made.stdout
    key = runner.invoke(cli, ["create-key", "--platform"], env=env)
    assert key.exit_code == 0, key.output
    assert key.stdout.startswith("oek_")
