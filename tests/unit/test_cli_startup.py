"""`offerengine --help` starts quickly: it imports none of what the commands themselves need.

Timing it would be a flaky test on a busy machine; what makes it slow is what it imports, so
that is what is held here, in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

from offerengine.cli import app

# What the commands need when they run, and --help must not load (each costs tens to hundreds
# of milliseconds to import). Not pydantic: Typer itself uses it to read a command's options.
HEAVY = (
    "alembic",
    "dask",
    "distributed",
    "fastapi",
    "numpy",
    "pandas",
    "pyarrow",
    "pydantic_settings",
    "redis",
    "rich",
    "scipy",
    "sklearn",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "offerengine.app",
    "offerengine.db",
    "offerengine.settings",
)

# Runs each help in one fresh interpreter, noting what each one loaded that none before it had.
PROBE = """
import json, sys
from offerengine.cli import main
loaded = {}
for argv in json.loads(sys.argv[1]):
    before = set(sys.modules)
    sys.argv = ["offerengine", *argv]
    try:
        main()
    except SystemExit:
        pass
    loaded[" ".join(argv)] = sorted(set(sys.modules) - before)
print("\\n=== modules ===")
print(json.dumps(loaded))
"""


def _helps() -> list[list[str]]:
    names = [command.name for command in app.registered_commands]
    assert {"serve", "decide-batch"} <= set(names)
    return [["--help"], *([str(name), "--help"] for name in names)]


def _run(helps: list[list[str]]) -> tuple[str, dict[str, list[str]]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(helps)],
        capture_output=True,
        text=True,
        check=True,
    )
    text, _, modules = done.stdout.partition("\n=== modules ===\n")
    return text, json.loads(modules)


def _heavy(modules: list[str]) -> list[str]:
    """The heavy packages among ``modules`` (by their top name: ``numpy``, not ``numpy.linalg``)."""
    return sorted({h for m in modules for h in HEAVY if m == h or m.startswith(h + ".")})


def test_help_and_every_commands_help_import_nothing_heavy() -> None:
    helps = _helps()
    text, loaded = _run(helps)
    assert "Usage: offerengine [OPTIONS] COMMAND" in text
    assert text.count("Usage: offerengine") == len(helps)
    assert {name: _heavy(modules) for name, modules in loaded.items() if _heavy(modules)} == {}


def test_the_probe_sees_what_a_command_imports_when_it_runs() -> None:
    argv = ["simulate-bookings", "--departures", "1", "--history", "2"]
    text, loaded = _run([argv])
    assert "1 departures, 150 seats, seed 1" in text
    assert {"numpy", "rich"} <= set(_heavy(loaded[" ".join(argv)]))


def test_help_shows_no_type_beside_flags() -> None:
    text, _ = _run(_helps())
    assert "<bool>" not in text
    assert "--dry-run / --no-dry-run" in text
