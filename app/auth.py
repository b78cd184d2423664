"""API keys and the tenant of a request.

A key is `lk_` followed by 32 random bytes in URL-safe base64. Only its SHA-256 hex digest is
stored (plus a short display prefix), so a database leak does not leak usable keys, and a
lookup is one indexed equality on the hash.

Open mode: while no unrevoked key exists at all, every request belongs to the tenant
`default` (a fresh install works with plain `curl`). As soon as one key exists, every request
must carry `Authorization: Bearer <key>` with a valid, unrevoked key, or it gets 401.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from app.db.api_keys import ApiKey
from app.errors import ApiError

KEY_PREFIX = "lk_"
DEFAULT_TENANT = "default"
_DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 8


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key after creation (never the key itself)."""

    id: str
    tenant_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256 hex of its UTF-8 bytes."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, tenant: str, name: str = "") -> str:
    """Create and commit a key for `tenant`; return the plaintext key (shown only once)."""
    if not tenant.strip():
        raise ValueError("tenant must not be empty")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            tenant_id=tenant,
            name=name,
            prefix=key[:_DISPLAY_PREFIX_LENGTH],
            key_hash=hash_key(key),
        )
    )
    session.commit()
    return key


def revoke(session: Session, key_or_prefix: str) -> int:
    """Revoke the key given in full or by its display prefix; return how many were revoked."""
    condition = (
        ApiKey.key_hash == hash_key(key_or_prefix)
        if len(key_or_prefix) > _DISPLAY_PREFIX_LENGTH
        else ApiKey.prefix == key_or_prefix
    )
    result = session.execute(
        update(ApiKey)
        .where(condition, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def list_keys(session: Session, tenant: str | None = None) -> list[KeyInfo]:
    """Every key (optionally of one tenant), oldest first, without secrets."""
    query = select(ApiKey).order_by(ApiKey.created_at)
    if tenant is not None:
        query = query.where(ApiKey.tenant_id == tenant)
    return [
        KeyInfo(str(k.id), k.tenant_id, k.name, k.prefix, k.created_at, k.revoked_at)
        for k in session.scalars(query)
    ]


def auth_enabled(session: Session) -> bool:
    """True once at least one unrevoked key exists."""
    return bool(session.scalar(select(exists().where(ApiKey.revoked_at.is_(None)))))


def tenant_for_key(session: Session, key: str) -> str | None:
    """The tenant of an unrevoked key, or None when the key is unknown or revoked."""
    return session.scalar(
        select(ApiKey.tenant_id).where(
            ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None)
        )
    )


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def resolve_tenant(request: Request, session: Session) -> str:
    """The tenant a request acts for (see the module docstring); raises 401 `ApiError`."""
    if not auth_enabled(session):
        tenant = DEFAULT_TENANT
    else:
        token = _bearer_token(request)
        if token is None:
            raise ApiError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>")
        found = tenant_for_key(session, token)
        if found is None:
            raise ApiError(401, "unauthorized", "invalid or revoked API key")
        tenant = found
    request.state.tenant = tenant
    return tenant
