"""Log lines lose SQL statements, bound parameters and the values a database quotes in its
messages, whether they come through structlog or a library's stdlib logger; identifiers a line
must name become keyed hashes (or a mark), never the value."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from offerengine.observability import redaction
from offerengine.observability.logging import configure_logging, get_logger
from offerengine.settings import LoggingSettings

EMAIL = "ann.planted@example.com"
PROFILE = "profile-planted-42"
PG_UNIQUE = (
    'duplicate key value violates unique constraint "uq_users_email"\n'
    f"DETAIL:  Key (tenant_id, email)=(7f1c, {EMAIL}) already exists."
)
PG_CAST = (
    f'invalid input syntax for type uuid: "{PROFILE}"\n'
    'CONTEXT:  SQL statement "SELECT NEW.profile_id::uuid"\n'
    "PL/pgSQL function oe_poison() line 1 at PERFORM"
)
PG_SYNTAX = (
    'syntax error at or near "WHERE"\n'
    f"LINE 1: SELECT * FROM profiles WHERE WHERE profile_id = '{PROFILE}'\n"
    "                                      ^"
)


def _statement_error(orig: Exception) -> sa_exc.DBAPIError:
    """What SQLAlchemy raises when the database refuses a statement: its text names the
    statement and its parameters (unless the engine hides them)."""
    return sa_exc.OperationalError(
        "INSERT INTO profiles (tenant_id, profile_id, email) VALUES (?, ?, ?)",
        ("7f1c", PROFILE, EMAIL),
        orig,
    )


def _raised(error: BaseException) -> BaseException:
    try:
        try:
            raise error.orig if isinstance(error, sa_exc.DBAPIError) else error  # type: ignore[misc]
        except BaseException as cause:
            raise error from cause
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    "text",
    [
        str(_statement_error(sqlite3.OperationalError("no such table: main.oe_gone"))),
        repr(_statement_error(sqlite3.OperationalError("no such table: main.oe_gone"))),
        str(_statement_error(sqlite3.IntegrityError(PG_UNIQUE))),
        PG_UNIQUE,
        PG_CAST,
        PG_SYNTAX,
        f"[generated in 0.00012s] ('7f1c', '{PROFILE}', '{EMAIL}')",
        f"[cached since 3.2s ago] ('{PROFILE}',)",
    ],
)
def test_scrubbed_error_text_keeps_the_error_but_not_the_values(text: str) -> None:
    scrubbed = redaction.scrub(text)
    assert PROFILE not in scrubbed
    assert EMAIL not in scrubbed
    assert scrubbed.strip()


def test_a_scrubbed_sqlalchemy_error_still_says_what_went_wrong() -> None:
    text = str(_statement_error(sqlite3.OperationalError("no such table: main.oe_gone")))
    scrubbed = redaction.scrub(text)
    assert scrubbed.startswith("(sqlite3.OperationalError) no such table: main.oe_gone")
    assert "[parameters" not in scrubbed
    assert "INSERT" not in scrubbed
    cast = redaction.scrub(PG_CAST)
    assert cast.startswith('invalid input syntax for type uuid: "[redacted]"')
    assert redaction.scrub(PG_UNIQUE).startswith(
        'duplicate key value violates unique constraint "uq'
    )


def test_text_that_is_no_database_error_is_left_as_it_is() -> None:
    for text in ("records_flush_failed", "No tenant 'ZZ'.", "a: b", 'quoted "x" here'):
        assert redaction.scrub(text) == text


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_structlog_and_stdlib_lines_lose_the_parameters_of_an_exception(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LoggingSettings(log_level="INFO"))
    error = _raised(_statement_error(sqlite3.OperationalError("no such table: main.oe_gone")))
    get_logger("offerengine.test").error("unhandled_error", exc_info=error, error=str(error))
    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=error)
    logging.getLogger("sqlalchemy.engine.Engine").warning(
        "[generated in %s] %r", "0.0001s", (PROFILE, EMAIL)
    )
    out = capsys.readouterr().out
    assert PROFILE not in out
    assert EMAIL not in out
    ours, theirs, echoed = _lines(out)
    assert "sqlite3.OperationalError: no such table" in str(ours["exception"])
    assert "Traceback" in str(theirs["exception"])  # a library's traceback is rendered, scrubbed
    assert str(echoed["event"]).startswith("[generated in 0.0001s]")


def test_the_stdlib_filter_scrubs_a_record_for_any_formatter() -> None:
    error = _raised(_statement_error(sqlite3.OperationalError("no such table: main.oe_gone")))
    record = logging.LogRecord(
        "sqlalchemy.pool", logging.ERROR, __file__, 1, "failed: %s", (str(error),), None
    )
    record.exc_info = (type(error), error, error.__traceback__)
    assert redaction.ScrubFilter().filter(record)
    rendered = logging.Formatter().format(record)
    assert "no such table" in rendered
    assert PROFILE not in rendered
    assert EMAIL not in rendered


def test_identifiers_are_keyed_hashes_that_match_across_lines_and_name_nobody() -> None:
    redaction.configure("hash", key="deployment key one")
    first = redaction.identifier(EMAIL)
    assert first == redaction.identifier(EMAIL.upper())  # one person, however she typed it
    assert first.startswith("h:")
    assert len(first) == 2 + 16
    assert EMAIL not in first
    assert redaction.identifier(PROFILE) != first
    redaction.configure("hash", key="deployment key two")
    assert redaction.identifier(EMAIL) != first  # another deployment, another hash
    redaction.configure("hash", key=None, derive_from="the admin ui secret")
    derived = redaction.identifier(EMAIL)
    redaction.configure("hash", key=None, derive_from="the admin ui secret")
    assert redaction.identifier(EMAIL) == derived  # the same secret, the same hashes
    redaction.configure("redact", key="deployment key one")
    assert redaction.identifier(EMAIL) == "[redacted]"
    redaction.configure("hash", key=None)


def test_logging_settings_choose_how_identifiers_are_shown() -> None:
    configure_logging(LoggingSettings(log_identifiers="redact"))
    assert redaction.identifier(PROFILE) == "[redacted]"
    configure_logging(LoggingSettings(log_key="k"))
    hashed = redaction.identifier(PROFILE)
    configure_logging(LoggingSettings(log_key="k"))
    assert redaction.identifier(PROFILE) == hashed != PROFILE
