"""`GET /healthz`: is this process able to serve? Unauthenticated, cheap, no side effects.

Checks: the process answers, the database answers `SELECT 1`, and the embedding model is
loaded with the dimension the corpus table stores. 200 when all pass, otherwise 503 naming
the failed check. Each check says `ok` and a `status` word and nothing else of the
machine: anyone may call this, and an error's type or message names the database's socket
path or host, the driver or a model's path, so the cause of a failure goes to the log only.
The model is not run here: a health probe must not queue behind a worker that is embedding a
large batch.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.deps import ContainerDep
from core import is_database_unavailable
from ingest.corpus import EMBEDDING_DIMENSION

router = APIRouter(tags=["health"])
log = logging.getLogger("lectern.health")


def _check_database(container: ContainerDep) -> dict[str, Any]:
    """`status` "ok", "unavailable" while the database cannot be reached (see
    `core.is_database_unavailable`), or "error" when it answers but `SELECT 1` fails."""
    try:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1")).scalar_one()
    except Exception as exc:
        status = "unavailable" if is_database_unavailable(exc) else "error"
        log.warning("healthz: database %s: %s", status, type(exc).__name__)
        return {"ok": False, "status": status}
    return {"ok": True, "status": "ok"}


def _check_embedder(container: ContainerDep) -> dict[str, Any]:
    """`status` "ok", "unusable" when the model cannot say its dimension, or
    "wrong_dimension" when its vectors do not fit the corpus table."""
    try:
        dimension = container.embedder.dimension
    except Exception as exc:
        log.warning("healthz: embedding model unusable: %s: %s", type(exc).__name__, exc)
        return {"ok": False, "status": "unusable"}
    if dimension != EMBEDDING_DIMENSION:
        log.warning("healthz: the model makes %d-dimensional vectors; the corpus stores %d",
                    dimension, EMBEDDING_DIMENSION)
        return {"ok": False, "status": "wrong_dimension", "dimension": dimension}
    return {"ok": True, "status": "ok", "dimension": dimension}


@router.get("/healthz")
def healthz(container: ContainerDep) -> JSONResponse:
    """200 `{"status": "ok", "checks": {...}}`, or 503 with `failed` naming the checks."""
    checks = {
        "process": {"ok": True, "status": "ok"},
        "database": _check_database(container),
        "embedder": _check_embedder(container),
    }
    failed = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": checks}
    return JSONResponse(body, status_code=503 if failed else 200)
