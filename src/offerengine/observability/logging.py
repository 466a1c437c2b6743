"""Structured JSON logs (structlog), with the stdlib's loggers (uvicorn, alembic) routed through them."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from offerengine.settings import LoggingSettings


def configure_logging(settings: LoggingSettings) -> None:
    """Configure structlog and the stdlib root logger; safe to call more than once."""
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
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
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


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
