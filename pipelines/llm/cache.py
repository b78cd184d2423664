"""Answer cache in PostgreSQL, shared by all replicas and scoped by tenant.

The key binds an answer to everything that shaped it: the normalised question, the exact
retrieved chunks (ids and content hashes, order-insensitive), the prompt version and the model.
Re-ingesting a document changes the content hashes, so stale answers are never replayed; a new
prompt version or model starts a fresh key space. Entries expire after a TTL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from pipelines.llm.storage import LLMAnswerCache, LLMSemanticCache

_WS = re.compile(r"\s+")
_GET = select(*LLMAnswerCache.__table__.c).where(  # built once; bound per lookup
    LLMAnswerCache.tenant_id == bindparam("tenant"),
    LLMAnswerCache.key.in_(bindparam("keys", expanding=True)),
    LLMAnswerCache.expires_at > func.now(),
)


def normalise_question(question: str) -> str:
    """Casefold and fold runs of whitespace, so trivially different spellings share a key."""
    return _WS.sub(" ", question.casefold()).strip()


def cache_key(
    *,
    question: str,
    chunks: Iterable[tuple[str, str]],
    prompt_version: str,
    model: str,
) -> str:
    """sha256 hex of question + sorted (chunk id, content hash) pairs + prompt version + model."""
    material = {
        "q": normalise_question(question),
        "chunks": sorted([str(cid), str(h)] for cid, h in chunks),
        "prompt": prompt_version,
        "model": model,
    }
    blob = json.dumps(material, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    key: str
    model: str
    prompt_version: str
    payload: dict[str, Any]
    created_at: datetime


class AnswerCache:
    """get/put cached answers; the router records the ledger row for a hit."""

    def __init__(self, engine: Engine, *, default_ttl_s: float = 86_400.0) -> None:
        self.engine = engine
        self.default_ttl_s = default_ttl_s

    def get_many_sync(self, tenant: str, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        if not keys:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(_GET, {"tenant": tenant, "keys": list(keys)}).mappings().all()
        return {
            r["key"]: CachedAnswer(r["key"], r["model"], r["prompt_version"], r["payload"],
                                   r["created_at"])
            for r in rows
        }

    async def get_many(self, tenant: str, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        """Live entries among `keys` for this tenant (one query)."""
        return await asyncio.to_thread(self.get_many_sync, tenant, keys)

    async def get(self, tenant: str, key: str) -> CachedAnswer | None:
        """The live entry for `key` in this tenant's cache, if any."""
        return (await self.get_many(tenant, [key])).get(key)

    def put_sync(self, tenant: str, key: str, payload: dict[str, Any], *, model: str,
                 prompt_version: str, ttl_s: float | None = None) -> None:
        ttl = timedelta(seconds=self.default_ttl_s if ttl_s is None else ttl_s)
        values = {"tenant_id": tenant, "key": key, "model": model, "prompt_version": prompt_version,
                  "payload": payload, "expires_at": func.now() + ttl}
        stmt = pg_insert(LLMAnswerCache).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[LLMAnswerCache.tenant_id, LLMAnswerCache.key],
            set_={"payload": stmt.excluded.payload, "model": stmt.excluded.model,
                  "prompt_version": stmt.excluded.prompt_version,
                  "created_at": func.now(), "expires_at": stmt.excluded.expires_at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    async def put(self, tenant: str, key: str, payload: dict[str, Any], *, model: str,
                  prompt_version: str, ttl_s: float | None = None) -> None:
        """Store (or replace) an answer for `ttl_s` seconds (default: the configured TTL)."""
        await asyncio.to_thread(self.put_sync, tenant, key, payload, model=model,
                                prompt_version=prompt_version, ttl_s=ttl_s)

    def purge_expired(self) -> int:
        """Delete expired entries of every tenant, exact and semantic (`semantic_cache`);
        returns how many went.

        Lookups already skip expired rows, so this only keeps the tables from growing. It
        blocks on the database: call it off the event loop (the server runs it on a
        schedule, on a thread beside its ingestion workers).
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(LLMAnswerCache).where(LLMAnswerCache.expires_at <= func.now())
            )
            semantic = conn.execute(
                delete(LLMSemanticCache).where(LLMSemanticCache.expires_at <= func.now())
            )
        return int(result.rowcount) + int(semantic.rowcount)
