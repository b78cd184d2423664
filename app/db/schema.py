"""The models' view of the whole schema: `core.Base.metadata` with every table registered.

Each package declares its tables on `core.Base`; importing the modules that hold them fills
the one `MetaData`. Alembic's environment receives it as `target_metadata` (so `alembic check`
and autogenerate diffs work for developers), and a test compares it with the migrated schema,
so a model can never silently drift from the hand-written migrations.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import ingest.corpus
import ingest.embedding_space
import pipelines.conversation
import pipelines.evaluation
import pipelines.feedback
import pipelines.ingestion
import pipelines.llm
from app.db import api_keys
from core import Base

TABLE_MODULES = (ingest.corpus, ingest.embedding_space, pipelines.ingestion, pipelines.llm,
                 pipelines.conversation, pipelines.evaluation, pipelines.feedback, api_keys)
"""The modules whose import registers every table (the corpus and its embedding space, jobs
and webhooks, the LLM layer, conversations, evaluation runs, answers and their feedback,
keys)."""


def schema_metadata() -> MetaData:
    """The `MetaData` of every lectern table, as the models declare them."""
    return Base.metadata
