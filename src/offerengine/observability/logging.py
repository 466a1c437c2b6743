"""Structured JSON logs (structlog), with the stdlib's loggers (uvicorn, alembic) routed through them.

Every line, ours or a library's, passes :mod:`offerengine.observability.redaction`: exceptions are
rendered to text and scrubbed of SQL statements, parameters and the values a database quotes
(docs/operations.md, "Logs and personal data")."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from offerengine.observability import redaction
from offerengine.settings import LoggingSettings


def configure_logging(settings: LoggingSettings) -> None:
    """Configure structlog and the stdlib root logger; safe to call more than once."""
    _configure_identifiers(settings)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer()
    )
    level = logging.getLevelNamesMapping()[settings.log_level]
    structlog.configure(
        processors=[*shared, *_SCRUBBED, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # The stdout of the moment each line is written, not the one at configuration: logging
        # configured while stdout was redirected (a command run by a test's CLI runner) must not
        # keep writing to that stream once it has closed.
        logger_factory=structlog.WriteLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_SCRUBBED,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(_SCRUB_FILTER)
    # SQLAlchemy's echo adds a handler of its own to its engine logger, which ours does not see.
    _ensure_filter(logging.getLogger("sqlalchemy.engine.Engine"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # Chatter that says nothing to an operator: alembic's per-connection notes (readiness checks
    # ask for the revision), HTTP clients' request lines.
    for name in ("alembic.runtime.migration", "httpx", "httpx2", "httpcore"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # Uvicorn's own access log would duplicate ours; its error log stays.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


# Exceptions rendered to text first, so the scrub sees the traceback (a library's too: without it
# the JSON renderer wrote the exception's repr, parameters included, and no traceback at all).
_SCRUBBED: list[Any] = [structlog.processors.format_exc_info, redaction.scrub_event]
_SCRUB_FILTER = redaction.ScrubFilter()


def _ensure_filter(logger: logging.Logger) -> None:
    if _SCRUB_FILTER not in logger.filters:
        logger.addFilter(_SCRUB_FILTER)


def _configure_identifiers(settings: LoggingSettings) -> None:
    """How identifiers show in logs; the hash key falls back on the admin UI's secret (a field
    of the full settings, not of the logging group)."""
    secret = getattr(settings, "secret_key", None)
    redaction.configure(
        settings.log_identifiers,
        key=settings.log_key.get_secret_value() if settings.log_key else None,
        derive_from=secret.get_secret_value() if secret else None,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
