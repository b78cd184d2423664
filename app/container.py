"""The composition root: the one place that turns `Settings` into concrete objects.

`build_container(settings)` starts (or reuses) the database (and, when it is the embedded
server, a supervisor that restarts it if it dies), loads the embedding model once,
starts the OCR process pool, and returns a `Container` that the app factory, the in-process
worker and the CLI share. Everything below `app` receives these objects as arguments and never
reads settings. Tests build their own `Container` (see `tests/e2e/conftest.py`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.auth import check_auth_setting
from app.auth_cache import KeyCache
from app.container_llm import build_llm
from app.db.embedded import EmbeddedDatabase
from app.db.engine import (
    make_engine,
    normalise_database_url,
    session_factory,
    upgrade,
)
from app.db.supervisor import DatabaseSupervisor
from app.ingest_metrics import IngestMetrics, QueueDepth
from app.search_metrics import SearchGateMetrics
from app.settings import Settings, SettingsError
from ingest.cleanup import TextCleaner
from ingest.corpus import EMBEDDING_DIMENSION
from ingest.embedding import Embedder, SentenceTransformerEmbedder, default_model_path
from ingest.embedding_space import EmbeddingSpace, reconcile
from ingest.pipeline import IngestContext
from ingest.types import Limits
from pipelines.llm import DriftMonitor
from pipelines.search import SearchGate
from retrieval.rerank import CrossEncoderReranker, HttpReranker, Reranking

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ingest.ocr_pool import OcrPool
    from pipelines.llm import AnswerCache, ChatProvider, LLMConfig, PromptRegistry, Router

log = logging.getLogger("lectern.container")


@dataclass
class Container:
    """Everything a request handler or worker needs, built once per process.

    `database` is set only when this process started the embedded PostgreSQL, and then
    `supervisor` restarts it when it dies; `close()` stops the one and releases the other.
    `ocr_pool` is None for processes that never read pages (an API-only `serve --no-worker`).
    `cleaner` is the LLM repair pass for OCR pages: None until an LLM is configured, and the
    pass is then recorded as skipped.
    """

    settings: Settings
    database_url: str
    engine: Engine
    session_factory: sessionmaker[Session]
    embedder: Embedder
    limits: Limits
    llm_config: LLMConfig
    llm_router: Router
    prompts: PromptRegistry
    answer_cache: AnswerCache  # purged on a schedule by `app.serving.ingestion_threads`
    metrics_registry: CollectorRegistry  # served at /metrics
    ingest_metrics: IngestMetrics  # the ingestion workers' observer (`IngestObserver`)
    queue_depth: QueueDepth  # the ingestion queue, counted at each /metrics scrape
    drift: DriftMonitor  # GET /v1/alerts: the ledger's drift signals (LECTERN_DRIFT_*)
    ocr_pool: OcrPool | None = None
    cleaner: TextCleaner | None = None
    search_gate: SearchGate = field(default_factory=SearchGate)
    reranking: Reranking | None = None  # off unless a cross-encoder or rerank API is set
    key_cache: KeyCache = field(default_factory=lambda: KeyCache(0))  # LECTERN_AUTH_CACHE_S
    database: EmbeddedDatabase | None = None
    supervisor: DatabaseSupervisor | None = None
    _closed: bool = field(default=False, repr=False)

    def ingest_context(self) -> IngestContext:
        """The context every ingestion job runs with: model, OCR pool, limits, cleaner."""
        return IngestContext(
            embedder=self.embedder, limits=self.limits, ocr=self.ocr_pool, cleaner=self.cleaner
        )

    def close(self) -> None:
        """Stop the OCR pool, dispose the engine, release the embedded database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        started = time.perf_counter()
        if self.ocr_pool is not None:
            self.ocr_pool.close()
        self.search_gate.close()
        getattr(self.cleaner, "close", lambda: None)()
        self.engine.dispose()
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.database is not None:
            self.database.close()
        log.info("container closed in %.1fs", time.perf_counter() - started)


def limits_from(settings: Settings) -> Limits:
    """The upload limits the settings ask for."""
    return Limits(
        max_bytes=settings.ingest.max_upload_bytes,
        max_pages=settings.ingest.max_pages,
        max_image_pixels=settings.ingest.max_image_pixels,
    )


def start_database(settings: Settings) -> tuple[str, EmbeddedDatabase | None]:
    """`LECTERN_DATABASE_URL` if set, else the embedded server (started or reused)."""
    if settings.database.url:
        return normalise_database_url(settings.database.url), None
    database = EmbeddedDatabase(settings.database.data_dir)
    return database.start(), database


def load_embedder(settings: Settings) -> Embedder:
    """Load the configured model (default: the bundled MiniLM) on the configured runtime:
    torch, or its ONNX export (made once into the export cache, reused after)."""
    model = settings.embedding.model or default_model_path()
    runtime = settings.embedding_runtime.runtime
    started = time.perf_counter()
    embedder: Embedder
    if runtime == "torch":
        embedder = SentenceTransformerEmbedder(model, batch_size=settings.embedding.batch_size,
                                               threads=settings.embedding.threads)
    else:
        from ingest.onnx_embedding import OnnxEmbedder

        cache = settings.embedding_runtime.export_cache(settings.database.data_dir)
        embedder = OnnxEmbedder(model, runtime=runtime, cache_dir=cache,
                                batch_size=settings.embedding.batch_size,
                                threads=settings.embedding.threads)
    log.info("embedding model %s (%s) loaded in %.1fs", model, runtime,
             time.perf_counter() - started)
    return embedder


def check_embedding_space(embedder: Embedder, sessions: sessionmaker[Session]) -> None:
    """Raise `SettingsError` if the corpus holds vectors the embedder's are not comparable
    with (another model, or an incompatible runtime); else record its space if the corpus is
    empty. An embedder without a `space` (a test double) is not checked."""
    space: EmbeddingSpace | None = getattr(embedder, "space", None)
    if space is None:
        return
    with sessions() as session:
        recorded = reconcile(session, space)
    if recorded is None:
        return
    raise SettingsError(
        f"LECTERN_EMBEDDING_RUNTIME={space.runtime!r}: the corpus's vectors were made by "
        f"{recorded.describe()}, and this process would make them with {space.describe()}; "
        "the two do not mix in one index. Set LECTERN_EMBEDDING_RUNTIME="
        f"{recorded.runtime} (and the model it names) to use this corpus, or re-embed it: "
        "delete its documents and upload them again with the new setting (or start on an "
        "empty LECTERN_DATA_DIR)"
    )


def check_embedding_dimension(embedder: Embedder, settings: Settings) -> None:
    """Raise `SettingsError` unless the model's vectors fit the corpus column.

    Why: the schema stores `vector(EMBEDDING_DIMENSION)`, so a model of another dimension
    would start fine and then fail every ingestion job and every search.
    """
    if embedder.dimension == EMBEDDING_DIMENSION:
        return
    model = settings.embedding.model or "(unset: the bundled all-MiniLM-L6-v2)"
    raise SettingsError(
        f"LECTERN_EMBEDDING_MODEL={model!r}: the model makes {embedder.dimension}-dimensional "
        f"vectors, but the corpus schema stores {EMBEDDING_DIMENSION} dimensions; choose a "
        f"model with {EMBEDDING_DIMENSION} dimensions (or unset it for the bundled one)"
    )


def reranking_from(settings: Settings) -> Reranking | None:
    """The reranker the settings name: a local cross-encoder, a rerank API, or none."""
    search = settings.search
    if search.rerank_model_path is not None:
        return Reranking(CrossEncoderReranker(str(search.rerank_model_path)), search.rerank_depth)
    if search.rerank_url:
        return Reranking(HttpReranker(search.rerank_url, api=search.rerank_api,
                                      model=search.rerank_model, api_key=search.rerank_api_key),
                         search.rerank_depth)
    return None


def build_container(
    settings: Settings,
    *,
    database_url: str | None = None,
    migrate: bool = False,
    with_ocr: bool = True,
    embedder: Embedder | None = None,
    llm_config: LLMConfig | None = None,
    llm_providers: Mapping[str, ChatProvider] | None = None,
) -> Container:
    """Build every long-lived object once. Expensive parts (model load, pool) happen here.

    `database_url` overrides the settings (tests point it at their database); `migrate`
    applies the migrations before anything else touches the schema; `embedder` lets a caller
    share one already-loaded model; `with_ocr=False` skips the OCR process pool; `llm_config`
    and `llm_providers` replace the LLM configuration and providers (tests). Raises
    `SettingsError` when the embedding model's dimension does not match the schema's, when the
    corpus holds vectors of an incompatible model or runtime, or when
    `LECTERN_AUTH=off` is set while API keys exist (`app.auth.check_auth_setting`).
    """
    database: EmbeddedDatabase | None = None
    supervisor: DatabaseSupervisor | None = None
    if database_url is None:
        database_url, database = start_database(settings)
    engine: Engine | None = None
    try:
        if database is not None:
            supervisor = DatabaseSupervisor(database).start()
        if migrate:
            upgrade(database_url)
        engine = make_engine(database_url)
        sessions = session_factory(engine)
        check_auth_setting(sessions, settings.auth.mode)
        loaded = embedder or load_embedder(settings)
        check_embedding_dimension(loaded, settings)
        check_embedding_space(loaded, sessions)
        llm = build_llm(engine, os.environ, config_file=settings.llm.config_file, config=llm_config,
                        providers=llm_providers, embedder=loaded,
                        cleanup_wait=settings.queued_llm.cleanup_wait())
        queue_depth = QueueDepth(sessions)
        llm.registry.register(queue_depth)
        return Container(
            settings=settings,
            database_url=database_url,
            engine=engine,
            session_factory=sessions,
            embedder=loaded,
            limits=limits_from(settings),
            llm_config=llm.config,
            llm_router=llm.router,
            prompts=llm.prompts,
            answer_cache=llm.cache,
            metrics_registry=llm.registry,
            ingest_metrics=IngestMetrics(llm.registry),
            queue_depth=queue_depth,
            drift=DriftMonitor(engine, settings.drift.bounds()),
            cleaner=llm.cleaner,
            ocr_pool=_start_ocr_pool(settings) if with_ocr else None,
            search_gate=SearchGate(settings.search.concurrency,
                                   observer=SearchGateMetrics(llm.registry)),
            reranking=reranking_from(settings),
            key_cache=KeyCache(settings.auth.cache_s),
            database=database,
            supervisor=supervisor,
        )
    except BaseException:
        if engine is not None:
            engine.dispose()
        if supervisor is not None:
            supervisor.stop()
        if database is not None:
            database.close()
        raise


def _start_ocr_pool(settings: Settings) -> OcrPool:
    from ingest.ocr_pool import OcrPool

    return OcrPool(settings.ingest.ocr_workers)
