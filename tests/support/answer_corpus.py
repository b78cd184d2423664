"""A small corpus for the answer tests, written through the real ingest write path.

Each passage is its own one-chunk document, so context assembly keeps them as separate
numbered sources (neighbouring chunks of one document would merge into one). Questions that
the corpus answers, and one it has nothing on, are named here so the tests agree.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tests.support.retrieval_corpus import Embed, add_document

WARRANTY_QUESTION = "How long is the warranty on the Lectern 3000 projector?"
REVENUE_QUESTION = "What was the revenue in 2023?"
UNRELATED_QUESTION = "At what temperature in kelvin does liquid nitrogen boil?"


@dataclass(frozen=True)
class Passage:
    key: str
    text: str
    collection: str = "handbook"
    section: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


ALPHA: tuple[Passage, ...] = (
    Passage("warranty", "The Lectern 3000 projector carries a warranty of two years from the "
            "date of purchase. Repairs under warranty are free of charge.",
            section="Support > Warranty", metadata={"year": 2023, "kind": "manual"}),
    Passage("warranty-extended", "An extended warranty adds a third year of cover to the "
            "Lectern 3000 projector for 49 euros.", section="Support > Extended warranty",
            metadata={"year": 2024, "kind": "manual"}),
    Passage("warranty-claims", "Warranty claims for the projector are made through the "
            "support portal with the original receipt.", section="Support > Claims",
            metadata={"year": 2023, "kind": "manual"}),
    Passage("warranty-exclusions", "The projector warranty does not cover lamps, which wear "
            "out, or damage from dropping the device.", section="Support > Exclusions",
            metadata={"year": 2023, "kind": "manual"}),
    Passage("warranty-refurbished", "Refurbished Lectern 3000 projectors come with a "
            "warranty of one year.", section="Support > Refurbished",
            metadata={"year": 2023, "kind": "manual"}),
    Passage("warranty-transfer", "The projector warranty transfers to a new owner when the "
            "device is sold.", section="Support > Transfer",
            metadata={"year": 2023, "kind": "manual"}),
    Passage("revenue-2023", "Revenue grew to 4.2 million euros in 2023, up 12 percent on the "
            "year before, driven by subscriptions.", collection="finance",
            section="Results > Revenue", metadata={"year": 2023, "kind": "report"}),
    Passage("revenue-2022", "Revenue in 2022 was 3.75 million euros, mostly from hardware "
            "sales.", collection="finance", section="Results > Revenue",
            metadata={"year": 2022, "kind": "report"}),
)
BETA: tuple[Passage, ...] = (
    Passage("bluebird", "The secret launch code name of the beta team is Operation Bluebird, "
            "scheduled for the spring.", collection="handbook", section="Plans"),
)


def seed(session: Session, *, tenant: str, embed: Embed,
         passages: Sequence[Passage]) -> dict[str, uuid.UUID]:
    """Write each passage as a ready one-chunk document; returns document ids by key."""
    ids: dict[str, uuid.UUID] = {}
    for p in passages:
        document = add_document(session, tenant=tenant, texts=[p.text], embed=embed,
                                collection=p.collection, filename=f"{p.key}.md",
                                section=p.section, metadata=p.metadata)
        ids[p.key] = document.id
    return ids
