"""Which model names a tenant may use, and what a requested name stands for.

Three kinds: the RAG models (`lectern-rag`, and `lectern-rag/<collection>` for each collection
the tenant has documents in), the gateway's configured models, and the tier aliases
(`tier:free`, `tier:mid`, ...) of the tiers some usable model serves. Every key sees the same
gateway models: lectern has no per-key model permissions. Any collection name is accepted in
a request (an empty one answers that the sources hold nothing); the listing names the
tenant's existing collections, so a client's model picker shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.corpus import Document
from pipelines.chat.errors import UnknownModel
from pipelines.chat.gateway import TIER_PREFIX, Gateway, GatewayModel
from pipelines.chat.rag import RAG_MODEL, RagModel, resolve_rag

MAX_LISTED_COLLECTIONS = 500
"""At most this many `lectern-rag/<collection>` entries are listed (alphabetically first)."""


@dataclass(frozen=True)
class ModelCard:
    """One entry of the model list: its id, who serves it, its kind and (gateway) tier."""

    id: str
    owned_by: str
    kind: Literal["rag", "gateway", "tier"]
    tier: str | None = None


def tenant_collections(session: Session, tenant: str) -> list[str]:
    """The tenant's collections that hold a document, alphabetically (at most
    `MAX_LISTED_COLLECTIONS`)."""
    rows = session.execute(select(Document.collection).where(Document.tenant_id == tenant)
                           .distinct().order_by(Document.collection)
                           .limit(MAX_LISTED_COLLECTIONS))
    return [row[0] for row in rows]


def list_models(gateway: Gateway, collections: list[str]) -> list[ModelCard]:
    """RAG models, then the gateway's usable models, then its tier aliases."""
    cards = [ModelCard(RAG_MODEL, "lectern", "rag")]
    cards += [ModelCard(f"{RAG_MODEL}/{c}", "lectern", "rag") for c in collections]
    cards += [ModelCard(m.id, m.provider, "gateway", m.tier) for m in gateway.usable()]
    cards += [ModelCard(f"{TIER_PREFIX}{t}", "lectern", "tier", t) for t in gateway.tiers()]
    return cards


def resolve_model(name: str, gateway: Gateway) -> RagModel | GatewayModel:
    """What `name` stands for; `UnknownModel` (404) when nothing does."""
    resolved = resolve_rag(name) or gateway.resolve(name)
    if resolved is not None:
        return resolved
    known = [m.id for m in gateway.base.config.models]
    why = (" (it is configured, but for some tasks only or on a provider that was not "
           "built, so the gateway cannot route to it)" if name in known else "")
    raise UnknownModel(f"the model {name!r} does not exist{why}; GET /v1/models lists the "
                       "models this key may use", model=name)
