"""The dashboard application: ``create_app(settings)``; ``sluice dashboard`` serves it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from dlq_dashboard import actions, ask, console, console_actions, views
from dlq_dashboard.auth import Forbidden, NotSignedIn
from dlq_dashboard.erasure import sweep_audit_hourly
from dlq_dashboard.security_headers import SecurityHeaders
from dlq_dashboard.services import Services, open_services
from libs.web.body_limit import BodySizeLimit
from sluice.logs import configure_logging
from sluice.settings import Settings, get_settings
from sluice.stores import JobStore

STATIC_DIR = Path(__file__).parent / "static"
# Every dashboard form (a sign-in, a corrected record, a bulk action over a filter) is small:
# a larger body is refused with 413 before a form parser buffers it.
MAX_FORM_BYTES = 256 * 1024


def create_app(settings: Settings | None = None, *, store: JobStore | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    services: Services = open_services(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_audit_hourly(services))
        yield
        sweeper.cancel()
        services.close()

    app = FastAPI(
        title="Sluice DLQ dashboard",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = services
    app.include_router(views.router)
    app.include_router(actions.router)
    app.include_router(console.router)
    app.include_router(console_actions.router)
    app.include_router(ask.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(NotSignedIn)
    async def to_sign_in(request: Request, exc: NotSignedIn) -> Response:
        if request.headers.get("HX-Request") or request.method != "GET":
            return JSONResponse({"detail": "sign in first"}, status_code=401,
                                headers={"HX-Redirect": "/login"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return views.render(request, "error.html", {"message": exc.message}, status_code=403)

    app.add_middleware(SecurityHeaders)
    # The Ask page's file upload is the one form that may be larger.
    app.add_middleware(BodySizeLimit, max_bytes=MAX_FORM_BYTES,
                       uploads={"/ask/upload": settings.files_max_bytes + MAX_FORM_BYTES})
    return app


def serve(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.dashboard_host,
        port=settings.dashboard_port,
        log_config=None,
        proxy_headers=False,
    )
