"""structlog set-up shared by every process: console text or JSON lines.

Context bound with ``structlog.contextvars`` (job_id, kind, ...) appears in every line
logged while it is bound, from Sluice's own loggers and the standard library's alike.
"""

from __future__ import annotations

import logging
import sys

import structlog

from sluice.settings import Settings

ACCESS_LOGGER = "uvicorn.access"
SLUICE_HANDLER_MARK = "_sluice_access_file"


def configure_logging(settings: Settings) -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Below the level, a line is dropped before any processor runs (a job's info
        # lines cost its worker a timestamp and a context merge each, otherwise).
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    _route_access_lines(settings, formatter)


def _route_access_lines(settings: Settings, formatter: logging.Formatter) -> None:
    """Send uvicorn's access lines to ``access_log_file`` when set: one line per request
    buries everything else on a console."""
    access = logging.getLogger(ACCESS_LOGGER)
    for handler in access.handlers[:]:
        if getattr(handler, SLUICE_HANDLER_MARK, False):
            access.removeHandler(handler)
            handler.close()
    if settings.access_log_file is None:
        access.propagate = True
        access.setLevel(logging.NOTSET)
        return
    settings.access_log_file.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(settings.access_log_file, encoding="utf-8")
    to_file.setFormatter(formatter)
    setattr(to_file, SLUICE_HANDLER_MARK, True)
    access.addHandler(to_file)
    access.propagate = False
    # The file holds every request whatever the level of the rest of the log.
    access.setLevel(logging.INFO)
