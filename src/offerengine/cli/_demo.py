"""``demo``: load the demo tenants, and keep the API keys and admin passwords it prints once in
the demo keys file (``demo-keys.env`` in the settings' ``var_dir``, private), merged with those
of earlier runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from offerengine.cli._common import cli_actor, console, database_settings

DEMO_KEYS_FILE = "demo-keys.env"


def demo() -> None:
    """Load the demo tenants; safe to run again.

    An airline (OE) and a marketplace (MKT), with API keys and admin users whose secrets are
    printed once and kept in the demo keys file (var/demo-keys.env)."""
    from rich.table import Table

    from offerengine.demo import service as demo_service
    from offerengine.units import run_in_transaction

    settings = database_settings()
    actor = cli_actor()
    result = asyncio.run(run_in_transaction(settings, lambda s: demo_service.load(s, actor=actor)))
    keys_file = settings.var_dir / DEMO_KEYS_FILE
    if result.keys:
        _write_keys(keys_file, result.keys)
        table = Table(title="Demo API keys (shown once; also saved to " + str(keys_file) + ")")
        table.add_column("variable")
        table.add_column("key")
        for name, secret in result.keys.items():
            table.add_row(name, secret)
        console().print(table)
    if result.users:
        people = Table(title="Admin UI users: log in at /admin (passwords shown once; also saved)")
        people.add_column("email")
        people.add_column("password")
        for email, password in result.users.items():
            people.add_row(email, password)
        console().print(people)
        _write_keys(keys_file, _user_lines(result.users))
    created = ", ".join(result.created_tenants) or "none (already loaded)"
    console().print(
        f"Demo tenants created: {created}; products created or updated: {result.products}"
    )
    if not result.keys:
        hint = f"`source {keys_file}`" if keys_file.exists() else "`offerengine create-key`"
        console().print(f"Keys were printed when the demo was first loaded: {hint}.")


def _user_lines(people: dict[str, str]) -> dict[str, str]:
    """Admin UI credentials as variables of the demo keys file: DEMO_USER_<email> = password."""
    return {
        "DEMO_USER_" + "".join(c if c.isalnum() else "_" for c in email).upper(): password
        for email, password in people.items()
    }


def _write_keys(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [f"# OfferEngine demo keys, created {stamp}. Secrets: keep this file private."]
    lines += [f"export {name}={secret}" for name, secret in keys.items()]
    # Keep keys from an earlier run that this run did not replace (e.g. the platform key).
    lines += [
        line
        for line in old.splitlines()
        if line.startswith("export ") and line.split("=", 1)[0].removeprefix("export ") not in keys
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
