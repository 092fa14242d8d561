"""The worker's Celery app, built here, at the composition root, when this module is imported.

``sluice worker``, ``sluice beat`` and ``sluice flower`` use it, and so can Celery's own
command line: ``celery -A cli.worker_app worker``. Nothing below the composition root
imports this module; task code reaches its app through ``JobContext.celery``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_ready

from cli.kinds import load_kinds, not_consumed
from libs.redaction import preload as preload_redaction
from sluice.celery_app import create_celery_app
from sluice.settings import get_settings

settings = get_settings()
kinds = load_kinds(settings)
app = create_celery_app(settings, kinds)
# Presidio takes seconds to import: in the pool's parent, never inside a job's time limit.
preload_redaction(settings)


def say_what_is_not_consumed(**_: Any) -> None:
    """A worker without an extra runs the rest; it says once which kinds it leaves."""
    line = not_consumed()
    if line:
        logging.getLogger("sluice.worker").warning(line)


worker_ready.connect(say_what_is_not_consumed)
