"""The LLM part of the composition root: config → providers → router, metrics, OCR cleaner.

`build_llm` is called by `app.container.build_container`. It is the only place that reads
the LLM configuration (`LECTERN_CONFIG` or the environment, see docs/llm-config.md); the
router, prompt registry, answer cache and Prometheus registry it returns are shared by every
request of the process, and so is the semantic answer cache, which embeds questions with the
corpus embedder (batched with retrieval's query embeddings). It also loads the token
counter's tables, so that the first request does not pay for them on the event loop. The OCR
cleaner is built only when a model other than the extractive answerer can serve the `cleanup`
task; it runs on a router of its own (see `pipelines.ingestion.ocr_cleanup`). The prompt
registry serves the config's prompt variants, re-read when the config file changes (not when
a `config` object is given: tests).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from ingest.embedding import Embedder
from pipelines.ingestion import ProviderWait, RouterTextCleaner, own_providers
from pipelines.llm import (
    AnswerCache,
    Budget,
    ChatProvider,
    Ledger,
    LLMConfig,
    LLMMetrics,
    PromptRegistry,
    Router,
    SemanticCache,
    build_providers,
    load_config,
    prompt_variants,
    warm_up,
)
from pipelines.search import query_embedder

log = logging.getLogger("lectern.container")


@dataclass(frozen=True)
class LLMParts:
    """What `build_llm` makes; `cleaner` is None when no model can clean OCR text."""

    config: LLMConfig
    router: Router
    prompts: PromptRegistry
    registry: CollectorRegistry
    cache: AnswerCache
    cleaner: RouterTextCleaner | None


def build_llm(engine: Engine, environ: Mapping[str, str], *, config_file: Path | None = None,
              config: LLMConfig | None = None,
              providers: Mapping[str, ChatProvider] | None = None,
              embedder: Embedder | None = None,
              cleanup_wait: ProviderWait | None = None) -> LLMParts:
    """Build the router and its parts. `config` (else `config_file`, else the environment)
    chooses the models; `providers` replaces the built ones (tests); `embedder` (the corpus
    embedder) enables the semantic answer cache; `cleanup_wait` bounds how long OCR cleanup
    waits for a provider in an outage."""
    watched = None if config is not None else config_file or (
        Path(environ["LECTERN_CONFIG"]) if environ.get("LECTERN_CONFIG") else None)
    config = config or load_config(config_file, environ)
    started = time.perf_counter()
    backend = warm_up()
    log.info("token counter (%s) loaded in %.1fs", backend, time.perf_counter() - started)
    if providers is None:
        providers, skipped = build_providers(config, environ)
        for name, reason in skipped.items():
            log.warning("LLM provider %s left out: %s", name, reason)
    registry = CollectorRegistry()
    prompts = PromptRegistry()
    prompts.serve_variants(prompt_variants(config, watched, environ,
                                           check=prompts.check_variants))
    metrics = LLMMetrics(registry)
    ledger = Ledger(engine)
    cache = AnswerCache(engine, default_ttl_s=config.cache.ttl_s)
    semantic = None if embedder is None else SemanticCache(
        engine, query_embedder(embedder).embed, threshold=config.cache.semantic_threshold,
        default_ttl_s=config.cache.ttl_s)

    def router(with_providers: Mapping[str, ChatProvider]) -> Router:
        return Router(config, with_providers, budget=Budget(engine, config.budgets, ledger),
                      ledger=ledger, metrics=metrics, cache=cache, prompts=prompts,
                      semantic_cache=semantic)

    main = router(providers)
    cleaner: RouterTextCleaner | None = None
    if RouterTextCleaner(main).available():
        cleaner = RouterTextCleaner(router(own_providers(config, providers, environ)),
                                    wait=cleanup_wait)
    models = ", ".join(f"{m.id} ({m.provider}, {m.tier})" for m in config.models
                       if m.provider in providers)
    log.info("LLM models: %s; OCR cleanup %s", models, "on" if cleaner else "off")
    return LLMParts(config, main, prompts, registry, cache, cleaner)
