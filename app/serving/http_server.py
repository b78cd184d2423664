"""The uvicorn configuration every `lectern serve` runs with, one process or several workers.

Written once so that both paths (`app.cli.main.serve`, `app.serving.http_workers`) serve the
same way: no `server: uvicorn` banner (naming the server and its version helps nobody but a
scanner), no uvicorn access log (`lectern.access` logs each request once), lectern's own
logging configuration, and 10 s for open requests to finish at shutdown. The security headers
of every response are the app's own (`app.middleware.SecurityHeadersMiddleware`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.settings import WebSettings

GRACEFUL_SHUTDOWN_S = 10


def uvicorn_config(app: FastAPI | str, web: WebSettings, **options: Any) -> uvicorn.Config:
    """A uvicorn `Config` serving `app` (the app, or the import string of its factory) where
    `web` says, with the choices above; `options` adds uvicorn's own (workers, lifespan...)."""
    return uvicorn.Config(app, host=web.host, port=web.port, server_header=False,
                          log_config=None, access_log=False,
                          timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, **options)
