"""API keys, whether a request needs one, and the tenant it acts for.

A key is `lk_` followed by 32 random bytes in URL-safe base64. Only its SHA-256 hex digest is
stored (plus a short display prefix), so a database leak does not leak usable keys, and a
lookup is one indexed equality on the hash.

Authentication fails closed. `LECTERN_AUTH` (`AuthMode`) is `required`, `off`, or unset:

- unset: off until the first key is created, required from then on. A revoked key stays in
  the table as a row with `revoked_at`, so "a key was once created" is remembered and revoking
  the last key never turns anonymous access back on;
- `required`: every request needs a valid, unrevoked key, even before the first one exists;
- `off`: a single-user local install, every request is tenant `default`. It is refused at
  start-up once a key has been created (`check_auth_setting`): a variable left over in a unit
  file must not silently open an install whose data belongs to tenants with keys, and whoever
  can set it can as well create a key. A key created while such a server runs closes it all
  the same, as if unset.

With auth required, a request without `Authorization: Bearer <key>` of a valid, unrevoked,
unexpired key gets 401. What a request's key allows (its tenant, whether it is an admin key,
its own rate limits) travels as a `Principal`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.api_keys import ApiKey
from app.errors import ApiError
from app.settings import SettingsError
from app.settings_auth import AuthMode

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
    is_admin: bool = False
    rpm: int | None = None
    tpm: int | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: its tenant and, when it carried a key, that key's id, admin
    flag, own limits (None: the configured default) and expiry. Without auth, `key_id` is
    None."""

    tenant: str
    key_id: str | None = None
    is_admin: bool = False
    rpm: int | None = None
    tpm: int | None = None
    expires_at: datetime | None = None


_LAST_USED_STEP = timedelta(minutes=1)
"""`last_used_at` is written at most this often per key: a write per request would cost more
than knowing the minute a key was last used is worth."""


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256 hex of its UTF-8 bytes."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, tenant: str, name: str = "", *, admin: bool = False,
               rpm: int | None = None, tpm: int | None = None,
               expires_at: datetime | None = None) -> str:
    """Create and commit a key for `tenant`; return the plaintext key (shown only once).

    `admin` lets it manage keys over `/v1/keys`; `rpm`/`tpm` are its own requests and LLM
    tokens per minute (None: the configured per-key default); past `expires_at` it is 401.
    """
    return issue_key(session, tenant, name, admin=admin, rpm=rpm, tpm=tpm,
                     expires_at=expires_at)[0]


def issue_key(session: Session, tenant: str, name: str = "", *, admin: bool = False,
              rpm: int | None = None, tpm: int | None = None,
              expires_at: datetime | None = None) -> tuple[str, KeyInfo]:
    """`create_key`, also returning what may be shown of the new key (for `/v1/keys`)."""
    if not tenant.strip():
        raise ValueError("tenant must not be empty")
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValueError("expires_at must carry a time zone")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(tenant_id=tenant, name=name, prefix=key[:_DISPLAY_PREFIX_LENGTH],
                 key_hash=hash_key(key), is_admin=admin, rpm=rpm, tpm=tpm,
                 expires_at=expires_at)
    session.add(row)
    session.commit()
    return key, _info(row)


def _info(k: ApiKey) -> KeyInfo:
    return KeyInfo(str(k.id), k.tenant_id, k.name, k.prefix, k.created_at, k.revoked_at,
                   k.is_admin, k.rpm, k.tpm, k.expires_at, k.last_used_at)


def revoke(session: Session, key_or_prefix: str) -> int:
    """Revoke the key given in full or by its display prefix; return how many were revoked.

    The row stays (with `revoked_at`): it is what keeps auth required once keys were used.
    """
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


def revoke_id(session: Session, key_id: str) -> KeyInfo | None:
    """Revoke the key with this id (kept revoked if it already was); what is shown of it
    afterwards, or None when there is no such key."""
    row = session.get(ApiKey, uuid.UUID(key_id))
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.commit()
    return _info(row)


def list_keys(session: Session, tenant: str | None = None) -> list[KeyInfo]:
    """Every key (optionally of one tenant), oldest first, without secrets."""
    query = select(ApiKey).order_by(ApiKey.created_at)
    if tenant is not None:
        query = query.where(ApiKey.tenant_id == tenant)
    return [_info(k) for k in session.scalars(query)]


def keys_ever_created(session: Session) -> bool:
    """True once any key has been created, revoked ones included."""
    return session.scalar(select(ApiKey.id).limit(1)) is not None


def auth_required(session: Session, mode: AuthMode | None) -> bool:
    """Whether requests need a key under `mode` (see the module docstring): always when
    `required`, otherwise as soon as a key has ever been created."""
    return mode == "required" or keys_ever_created(session)


def check_auth_setting(sessions: sessionmaker[Session], mode: AuthMode | None) -> None:
    """Raise `SettingsError` when `LECTERN_AUTH=off` is set while keys have been created."""
    if mode != "off":
        return
    with sessions() as session:
        created = session.scalar(select(func.count()).select_from(ApiKey)) or 0
    if created:
        raise SettingsError(
            f"LECTERN_AUTH=off, but {created} API key(s) have been created in this database, "
            "so its data belongs to tenants with keys; lectern will not serve it without "
            "them. Unset LECTERN_AUTH (keys are then required) or set LECTERN_AUTH=required."
        )


def tenant_for_key(session: Session, key: str) -> str | None:
    """The tenant of an unrevoked, unexpired key, or None when the key is unknown, revoked
    or expired."""
    principal = principal_for_key(session, key)
    return principal.tenant if principal is not None else None


def principal_for_key(session: Session, key: str) -> Principal | None:
    """What an unrevoked, unexpired key allows, or None; refreshes its `last_used_at` (and
    commits) when that is more than a minute old."""
    now = datetime.now(UTC)
    row = session.scalar(select(ApiKey).where(
        ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None),
        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)))
    if row is None:
        return None
    principal = Principal(row.tenant_id, str(row.id), row.is_admin, row.rpm, row.tpm,
                          row.expires_at)
    if row.last_used_at is None or row.last_used_at < now - _LAST_USED_STEP:
        session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        session.commit()
    return principal


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticate(
    sessions: sessionmaker[Session], mode: AuthMode | None, authorization: str | None
) -> str:
    """The tenant a request with this `Authorization` header acts for; raises 401 `ApiError`
    (see `authenticate_principal`)."""
    return authenticate_principal(sessions, mode, authorization).tenant


def authenticate_principal(
    sessions: sessionmaker[Session], mode: AuthMode | None, authorization: str | None,
    *, known_required: bool = False,
) -> Principal:
    """Who a request with this `Authorization` header acts as; raises 401 `ApiError`.
    `known_required`: keys are known to be needed, so whether any exist is not asked.

    Uses a session of its own, closed before returning, so the request holds no pooled
    connection for what comes after (a streamed answer, an upload being read).
    """
    with sessions() as session:
        if not known_required and not auth_required(session, mode):
            return Principal(DEFAULT_TENANT)
        token = bearer_token(authorization)
        if token is None:
            raise ApiError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>")
        principal = principal_for_key(session, token)
        if principal is None:
            raise ApiError(401, "unauthorized", "expired API key" if _expired(session, token)
                           else "invalid or revoked API key")
    return principal


def _expired(session: Session, key: str) -> bool:
    """Whether `key` is an unrevoked key past its expiry (said so in its 401)."""
    return session.scalar(select(ApiKey.id).where(
        ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None),
        ApiKey.expires_at <= datetime.now(UTC))) is not None
