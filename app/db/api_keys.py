"""API keys (stored as SHA-256 hashes, each bound to one tenant) and the rate-limit windows.

Both tables belong to the HTTP layer: keys are how a request finds its tenant, and the window
counters are how every API process shares one view of how much a key, a tenant or a client
address used this minute (`app.rate_limits`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, Text, false, func
from sqlalchemy.orm import Mapped, mapped_column

from core import Base


class ApiKey(Base):
    """One key of one tenant. Revoking sets `revoked_at` and keeps the row: that any row
    exists is how lectern knows keys were once in use, so auth stays required (`app.auth`).

    `is_admin` keys may manage other keys over `/v1/keys`; `rpm`/`tpm` replace the configured
    per-key limits for this key (None: the configured default); past `expires_at` the key is
    refused like a revoked one; `last_used_at` is refreshed at most once a minute.
    """

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, default="")
    prefix: Mapped[str] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rpm: Mapped[int | None] = mapped_column(Integer)
    tpm: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateLimitWindow(Base):
    """How much of one bucket (`key:<id>:rpm`, `tenant:<t>:tpm`, `addr:<ip>:auth`, ...) was
    used in the minute starting at `window_start`; rows of past minutes are deleted."""

    __tablename__ = "rate_limit_windows"
    __table_args__ = (Index("ix_rate_limit_windows_window_start", "window_start"),)

    bucket: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
