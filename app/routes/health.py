"""`GET /healthz`: is this process able to serve? Unauthenticated, cheap, no side effects.

Checks: the process answers, the database answers `SELECT 1`, and the embedding model is
loaded with the dimension the corpus table stores. 200 when all pass, otherwise 503 naming
the failed check; the database check says `"status": "unavailable"` while the database cannot
be reached. The model is not run here: a health probe must not queue behind a worker
that is embedding a large batch.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.deps import ContainerDep
from core import is_database_unavailable
from ingest.corpus import EMBEDDING_DIMENSION

router = APIRouter(tags=["health"])


def _check_database(container: ContainerDep) -> dict[str, Any]:
    """`status` "unavailable" while the database cannot be reached (see
    `core.is_database_unavailable`), "error" when it answers but `SELECT 1` fails; only the
    error's type is shown, never its message (it names the server's socket or host)."""
    try:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1")).scalar_one()
    except Exception as exc:
        status = "unavailable" if is_database_unavailable(exc) else "error"
        return {"ok": False, "status": status, "error": type(exc).__name__}
    return {"ok": True, "status": "ok"}


def _check_embedder(container: ContainerDep) -> dict[str, Any]:
    try:
        dimension = container.embedder.dimension
    except Exception as exc:
        return {"ok": False, "error": f"embedding model unusable: {type(exc).__name__}: {exc}"}
    if dimension != EMBEDDING_DIMENSION:
        return {
            "ok": False,
            "error": f"model makes {dimension}-dimensional vectors; the corpus stores "
            f"{EMBEDDING_DIMENSION}",
        }
    return {"ok": True, "dimension": dimension}


@router.get("/healthz")
def healthz(container: ContainerDep) -> JSONResponse:
    """200 `{"status": "ok", "checks": {...}}`, or 503 with `failed` naming the checks."""
    checks = {
        "process": {"ok": True},
        "database": _check_database(container),
        "embedder": _check_embedder(container),
    }
    failed = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": checks}
    return JSONResponse(body, status_code=503 if failed else 200)
