"""Keeping customers' data out of the logs: SQL parameters and database details scrubbed from
error text, and the identifiers a log line must name (a profile id, an email) keyed-hashed or
redacted, through one helper.

Why both a structlog processor and a stdlib filter: our own lines go through structlog, but
uvicorn's and SQLAlchemy's go through the stdlib's ``logging``, and either may carry an
exception whose text holds a statement's bound values. The engines are made with
``hide_parameters=True`` (:mod:`offerengine.db.engine`), so SQLAlchemy itself no longer prints
them; :func:`scrub` is the second line, for what a database says in its own message
(PostgreSQL's ``DETAIL:  Key (email)=(…)``, ``invalid input syntax for type uuid: "…"``).

What an identifier becomes (``log_identifiers``): ``hash``, the first 16 hex digits of an
HMAC-SHA256 under a per-deployment key, so that an operator can still tell that two lines
name the same customer, and can find a known customer's lines by hashing her id with the
key, yet the logs alone name nobody; ``redact``, a fixed mark. The key is ``log_key``, else
derived from ``secret_key``, else random per process (hashes then match within one worker's
lines only)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

REDACTED = "[redacted]"
_HASH_DIGITS = 16
_KEY_LABEL = b"offerengine log identifiers"

_ECHOED = r"\[(?:generated in|cached since|raw sql|insertmanyvalues|dialect )[^\]\n]*\]"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # SQLAlchemy's statement, parameters and "Background on this error" paragraph, to the end of
    # the exception's text (a traceback's next part starts on a line of its own).
    (re.compile(r"\s*\[SQL: .*?(?=\n\n|\n\S[^\n]*Error|\Z)", re.S), " [SQL statement hidden]"),
    (re.compile(r"\s*\[parameters: .*?(?=\n\n|\Z)", re.S), ""),
    # PostgreSQL's detail, context, hint and statement-position lines quote the row's values.
    (re.compile(r"\n\s*(?:DETAIL|CONTEXT|HINT):[^\n]*(?:\n(?!\S)[^\n]*)*"), ""),
    (re.compile(r"\nLINE \d+:[^\n]*(?:\n\s*\^)?"), ""),
    # SQLAlchemy's echo (``database_echo``) logs each statement's parameters after its timing.
    (re.compile("(" + _ECHOED + ") [^\n]+"), r"\1 [parameters hidden]"),
    # A value quoted at the end of a message: 'invalid input syntax for type uuid: "…"'.
    (re.compile(r': "(?:[^"\n]|"")*"'), ': "' + REDACTED + '"'),
)


def _suspect(text: str) -> bool:
    """Whether ``text`` may hold what :func:`scrub` takes out: every rule needs a bracket, a
    line break or a quoted value. Substring tests, not a regex: every text field of every log
    line (an access line's too) is tested, and a regex search cost several times more."""
    return "[" in text or "\n" in text or ': "' in text


def scrub(text: str) -> str:
    """``text`` without SQL statements, bound parameters and the values a database quotes."""
    if not _suspect(text):
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


@dataclass
class _Identifiers:
    mode: Literal["hash", "redact"] = "hash"
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))


_identifiers = _Identifiers()


def configure(
    mode: Literal["hash", "redact"], *, key: str | None, derive_from: str | None = None
) -> None:
    """Set how :func:`identifier` renders values: ``key`` as given, else one derived (one-way)
    from ``derive_from``, else a random one for this process."""
    if key:
        raw = key.encode()
    elif derive_from:
        raw = hmac.new(derive_from.encode(), _KEY_LABEL, hashlib.sha256).digest()
    else:
        raw = secrets.token_bytes(32)
    _identifiers.mode = mode
    _identifiers.key = raw


def identifier(value: object) -> str:
    """What a log line shows for a customer's identifier (a profile id, an email, an order
    id): its keyed hash (``h:`` and 16 hex digits) or ``[redacted]``. Emails are hashed in
    lower case, so that one person's lines match however she typed it."""
    if value is None:
        return REDACTED
    if _identifiers.mode == "redact":
        return REDACTED
    text = str(value)
    if "@" in text:
        text = text.strip().lower()
    digest = hmac.new(_identifiers.key, text.encode(), hashlib.sha256).hexdigest()
    return "h:" + digest[:_HASH_DIGITS]


def scrub_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: every text value scrubbed (run after ``format_exc_info``, so the
    rendered traceback is one of them)."""
    for name, value in event_dict.items():
        # _suspect's tests, inline: this runs for every field of every line.
        if type(value) is str and ("[" in value or "\n" in value or ': "' in value):
            event_dict[name] = scrub(value)
    return event_dict


class ScrubFilter(logging.Filter):
    """A stdlib filter that scrubs a record's message and exception text, for the lines of
    libraries (uvicorn, SQLAlchemy) whatever formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: the handler reports it, not the caller
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True
