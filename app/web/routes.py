"""The routes of the web page: `/` (the page), `/web/{file}` (its static files) and
`/web/config.json` (whether the API needs a key, so the page asks for one before it calls it).

Only the files found under `static/` when the module is imported are served, looked up by
name in a table, so no request path ever reaches the file system. They are public like the
page; the security headers of every response apply (`no-store` included: a new version of the
page is picked up at once, and the files are small).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from app.auth import auth_required
from app.deps import ContainerDep
from app.errors import ApiError

STATIC = Path(__file__).parent / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}

router = APIRouter(include_in_schema=False)


def _assets(root: Path) -> dict[str, Path]:
    """Every file under `root` by its relative POSIX path."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


ASSETS = _assets(STATIC)
"""The files the page may load, fixed at import."""


def _media_type(path: Path) -> str:
    return _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"


@router.api_route("/", methods=["GET", "HEAD"])
def index() -> FileResponse:
    """The page itself."""
    return FileResponse(STATIC / "index.html", media_type=_TYPES[".html"])


@router.get("/web/config.json")
async def config(container: ContainerDep) -> dict[str, bool]:
    """`{"auth_required": true|false}`: whether API requests need a key right now (the same
    rule the auth gate applies; a request with a wrong key still gets its 401)."""
    def required() -> bool:
        with container.session_factory() as session:
            return auth_required(session, container.settings.auth.mode)

    return {"auth_required": await run_in_threadpool(required)}


@router.api_route("/web/{name:path}", methods=["GET", "HEAD"])
def asset(name: str) -> FileResponse:
    """One static file of the page, by name; 404 for anything else."""
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(404, "not_found", f"no such file of the web page: {name}")
    return FileResponse(path, media_type=_media_type(path))
