"""`/v1/keys`: tenant keys created, listed and revoked over HTTP by an admin key.

An admin key is made only on the machine that holds the database (`lectern keys create
--admin`), so whoever can reach the API cannot make one; with it, a provisioning script or an
operator's tool manages the keys of every tenant without shell access. Keys created here are
never admin keys. Any other key, or no key while auth is off, gets 403 here. The key itself
is in the creation's answer only; listings show its display prefix.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth import KeyInfo, Principal, issue_key, list_keys, revoke_id
from app.deps import ContainerDep, SessionDep
from app.errors import ApiError
from app.fields import Text

router = APIRouter(prefix="/v1/keys", tags=["keys"])


def require_admin(request: Request) -> Principal:
    """The request's principal when its key is an admin key; else 403 `forbidden`."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal) or not principal.is_admin:
        raise ApiError(403, "forbidden", "this API key may not manage keys; an admin key "
                       "(lectern keys create --admin) may")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


class NewKey(BaseModel):
    """A tenant key to create: its tenant, a label, its own limits and expiry (all optional
    but the tenant)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"tenant": "acme", "name": "ci", "rpm": 60, "tpm": 20000,
         "expires_at": "2027-01-01T00:00:00Z"}]})

    tenant: Annotated[Text, Field(min_length=1, max_length=200)]
    name: Annotated[Text, Field(max_length=200)] = ""
    rpm: Annotated[int | None, Field(gt=0, description="requests per minute")] = None
    tpm: Annotated[int | None, Field(gt=0, description="LLM tokens per minute")] = None
    expires_at: datetime | None = Field(default=None, description="refused (401) from then on")

    @field_validator("expires_at")
    @classmethod
    def _aware_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


class KeyOut(BaseModel):
    """What may be shown of a key: never the key, which only its creation returns."""

    id: uuid.UUID
    tenant: str
    name: str
    prefix: str
    admin: bool
    rpm: int | None
    tpm: int | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, info: KeyInfo) -> KeyOut:
        """Build from a `KeyInfo`."""
        return cls(id=uuid.UUID(info.id), tenant=info.tenant_id, name=info.name,
                   prefix=info.prefix, admin=info.is_admin, rpm=info.rpm, tpm=info.tpm,
                   created_at=info.created_at, last_used_at=info.last_used_at,
                   expires_at=info.expires_at, revoked_at=info.revoked_at)


class CreatedKey(KeyOut):
    """A new key with its secret, shown this once (only its hash is stored)."""

    key: str


class KeyList(BaseModel):
    """Keys, oldest first."""

    items: list[KeyOut]
    total: int


@router.post("", status_code=status.HTTP_201_CREATED)
def create(body: NewKey, session: SessionDep, admin: AdminDep) -> CreatedKey:
    """Create a (non-admin) key of `tenant`; the answer holds the key, shown only once."""
    key, info = issue_key(session, body.tenant, body.name, rpm=body.rpm, tpm=body.tpm,
                          expires_at=body.expires_at)
    return CreatedKey(**KeyOut.of(info).model_dump(), key=key)


@router.get("")
def listed(session: SessionDep, admin: AdminDep,
           tenant: Annotated[str | None, Query(description="only this tenant's keys")] = None,
           ) -> KeyList:
    """Every key (or one tenant's), revoked ones included, without secrets."""
    items = [KeyOut.of(info) for info in list_keys(session, tenant)]
    return KeyList(items=items, total=len(items))


@router.delete("/{key_id}")
def revoke(key_id: uuid.UUID, session: SessionDep, admin: AdminDep,
           container: ContainerDep) -> KeyOut:
    """Revoke a key: its requests get 401 from now on in this process, and in the others
    within `LECTERN_AUTH_CACHE_S` (the row stays, as revoked)."""
    info = revoke_id(session, str(key_id))
    if info is None:
        raise ApiError(404, "key_not_found", f"no key {key_id}", key_id=str(key_id))
    container.key_cache.clear()
    return KeyOut.of(info)
