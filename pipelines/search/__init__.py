"""Search: a question and its filters → the tenant's best chunks, with scores and pages.

Public API:

- `Question`, `retrieve`, `DEFAULT_TOP_K`: the use case (`service`);
- `SearchGate`, `GateObserver`, `default_limit`: admission control for searches (`gate`);
- `QueryEmbedder`, `query_embedder`: question embeddings in shared batches (`query_embedding`).
"""

from pipelines.search.gate import GateObserver, SearchGate, default_limit
from pipelines.search.query_embedding import QueryEmbedder, query_embedder
from pipelines.search.service import Question, retrieve
from retrieval.search import DEFAULT_TOP_K

__all__ = [
    "DEFAULT_TOP_K",
    "GateObserver",
    "QueryEmbedder",
    "Question",
    "SearchGate",
    "default_limit",
    "query_embedder",
    "retrieve",
]
