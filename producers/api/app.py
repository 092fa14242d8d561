"""The API application: ``create_app()`` builds it from the settings.

Run with ``sluice api``. The app takes the kind table (the kinds it accepts at the door and
routes) as an argument; without one it reads the table the composition root loaded into
this process (``cli.kinds.load_kinds``), and refuses to start when there is none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.web.body_limit import BodySizeLimit
from producers.api import (
    admin,
    ask,
    batches,
    dlq,
    documents,
    extraction_stats,
    health,
    job_events,
    jobs,
    jobs_batch,
    metrics,
    search,
    traces,
    uploads,
)
from producers.api.admin import Eraser
from producers.api.log_context import LogContext
from producers.api.responses import AUTHENTICATED, errors, install_problem_handlers
from producers.api.stream_slots import StreamSlots
from sluice._version import __version__
from sluice.celery_app import create_celery_app
from sluice.kinds import KindTable, loaded_kinds
from sluice.logs import configure_logging
from sluice.settings import Settings, get_settings
from sluice.stores import open_store


def create_app(
    settings: Settings | None = None,
    kinds: KindTable | None = None,
    *,
    erase: Eraser | None = None,
) -> FastAPI:
    """The API. ``erase`` is the erasure across every store (the composition root builds
    it, :mod:`cli.api_app`); without it ``POST /v1/admin/erasures`` answers 501."""
    settings = settings or get_settings()
    kinds = kinds if kinds is not None else loaded_kinds()
    configure_logging(settings)
    store = open_store(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        title="Sluice",
        summary="Submit LLM document jobs and poll their status.",
        version=__version__,
        lifespan=lifespan,
        # Operation ids are the handlers' names (unique; a test keeps them so): stable
        # method names for generated clients.
        generate_unique_id_function=lambda route: route.name,
    )
    install_problem_handlers(app)
    app.state.settings = settings
    app.state.store = store
    app.state.kinds = kinds
    app.state.erase = erase
    app.state.stream_slots = StreamSlots(settings.max_streams_per_key)
    app.state.celery = create_celery_app(settings, kinds)
    app.include_router(health.router)
    app.include_router(jobs.router, responses=errors(*AUTHENTICATED, 400, 404, 409, 413, 429))
    app.include_router(jobs_batch.router, responses=errors(*AUTHENTICATED, 400, 413, 429))
    app.include_router(dlq.router, responses=errors(*AUTHENTICATED, 400, 404, 409, 413))
    app.include_router(extraction_stats.router, responses=errors(*AUTHENTICATED, 400))
    app.include_router(job_events.router, responses=errors(*AUTHENTICATED, 400, 404))
    app.include_router(documents.router,
                       responses=errors(*AUTHENTICATED, 400, 404, 409, 413, 429))
    app.include_router(search.router,
                       responses=errors(*AUTHENTICATED, 400, 409, 413, 429, 502, 504))
    app.include_router(ask.router,
                       responses=errors(*AUTHENTICATED, 400, 404, 409, 413, 429, 502, 504))
    app.include_router(traces.router, responses=errors(*AUTHENTICATED, 400, 404))
    app.include_router(metrics.router)
    app.include_router(admin.router, responses=errors(*AUTHENTICATED, 400, 413))
    app.include_router(batches.router, responses=errors(*AUTHENTICATED, 400, 404))
    documents.install_openapi_bodies(app)
    # A file upload may be larger than a JSON body; the route checks the file itself.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes, uploads={
        "/v1/documents": settings.files_max_bytes + uploads.FORM_OVERHEAD_BYTES})
    app.add_middleware(LogContext)
    return app
