"""The embedding runtimes (`LECTERN_EMBEDDING_RUNTIME`): the ONNX exports of the bundled model
agree with torch, are exported once under a lock, and a corpus refuses vectors of an
incompatible runtime at start-up (real PostgreSQL, the real model).

The exports are cached in one directory shared by every test run on the machine
(`LECTERN_EMBEDDING_CACHE_DIR`, which tests/conftest.py sets to
`/tmp/lectern-test-embedding-cache`), so only the first run pays for them.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from app.container import build_container, check_embedding_space, load_embedder
from app.db.engine import make_engine
from app.settings import Settings, SettingsError
from app.settings_embedding import EmbeddingRuntimeSettings
from ingest import store
from ingest.embedding import Embedder, default_model_path
from ingest.embedding_space import EmbeddingSpace, EmbeddingSpaceRow, recorded_space, space_of
from ingest.onnx_embedding import OnnxEmbedder
from ingest.onnx_export import ensure_export
from ingest.types import Chunk, CleanPage, Sniffed
from tests.ingest.test_embedding import load_real_embedder
from tests.support.database import DatabaseFactory
from tests.support.fake_embedder import HashEmbedder

CACHE = Path(os.environ["LECTERN_EMBEDDING_CACHE_DIR"])  # set by tests/conftest.py
TEXTS = [
    "Metformin lowers hepatic glucose production in type 2 diabetes.",
    "  Leading and trailing spaces survive tokenisation.  ",
    "Ünïcödé, dashes — and numbers 3.14 in one sentence.",
    "x",
    "A long text that the model must truncate at its window. " * 40,
]


@functools.cache
def loaded(runtime: str) -> Embedder:
    """The embedder `load_embedder` builds for `runtime`, once per test process."""
    settings = Settings(embedding_runtime=EmbeddingRuntimeSettings(runtime=runtime,
                                                                   cache_dir=CACHE))
    return load_embedder(settings)


def cosines(runtime: str) -> list[float]:
    """Cosine of each of `TEXTS`' vectors on `runtime` with torch's (both unit length)."""
    ours, torch = loaded(runtime).embed(TEXTS), load_real_embedder().embed(TEXTS)
    return [sum(a * b for a, b in zip(u, v, strict=True)) for u, v in zip(ours, torch,
                                                                       strict=True)]


def test_the_onnx_setting_builds_an_onnx_embedder_whose_vectors_are_torchs() -> None:
    embedder = loaded("onnx")
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.export_dir.is_relative_to(CACHE) and embedder.runtime == "onnx"
    assert min(cosines("onnx")) >= 0.9999
    vectors = embedder.embed(TEXTS)
    assert all(math.isclose(math.hypot(*v), 1.0, abs_tol=1e-4) for v in vectors)
    torch = load_real_embedder()
    assert (embedder.dimension, embedder.max_tokens) == (torch.dimension, torch.max_tokens)
    assert [embedder.count_tokens(t) for t in TEXTS] == [torch.count_tokens(t) for t in TEXTS]
    assert embedder.space.compatible_with(torch.space)


def test_the_default_runtime_is_onnx_and_its_threads_do_not_spin_between_calls() -> None:
    # Spinning intra-op threads kept both cores busy after each question, and the search that
    # followed in PostgreSQL waited for them (retrieval p95 201 ms against 44 ms without).
    assert EmbeddingRuntimeSettings().runtime == "onnx"
    options = loaded("onnx")._session.get_session_options()  # type: ignore[attr-defined]
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_int8_vectors_are_close_to_torchs_but_another_space() -> None:
    embedder = loaded("onnx-int8")
    assert isinstance(embedder, OnnxEmbedder) and embedder.runtime == "onnx-int8"
    close = cosines("onnx-int8")
    assert min(close) >= 0.97 and max(close) < 0.9999  # quantized: near, not the same
    assert not embedder.space.compatible_with(load_real_embedder().space)


def test_two_processes_exporting_at_once_export_once(tmp_path: Path) -> None:
    model = default_model_path()
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_export(tmp_path, model,
                                                                            "onnx")))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    exported = results[0]
    assert {p.name for p in exported.iterdir()} == {"model.onnx", "tokenizer.json", "export.json"}
    assert [p.name for p in exported.parent.iterdir() if not p.name.endswith(".lock")] == [
        "onnx"]  # no scratch directory left behind
    stamp = (exported / "model.onnx").stat().st_mtime_ns
    assert ensure_export(tmp_path, model, "onnx") == exported  # reused, not exported again
    assert (exported / "model.onnx").stat().st_mtime_ns == stamp


@dataclass
class Spaced:
    """Only what the start-up check reads of an embedder."""

    space: EmbeddingSpace


class SpacedHashEmbedder(HashEmbedder):
    """The hash fake, claiming to run the bundled model on `runtime`."""

    def __init__(self, runtime: str) -> None:
        super().__init__()
        self.space = space_of(default_model_path(), runtime)


def _add_chunk(sessions: sessionmaker[Session]) -> None:
    page = CleanPage(page_no=1, method="text", raw_text="body", text="body", cleanup="skipped")
    chunk = Chunk(ordinal=0, text="body", embed_text="body", section_path=(), page_start=1,
                  page_end=1, char_start=0, char_end=4, token_count=3)
    with sessions() as session:
        document = store.insert_document(
            session, tenant="acme", collection="default", filename="a.txt",
            sniffed=Sniffed(kind="text", mime="text/plain"), data=b"body",
            sha256=uuid.uuid4().hex, metadata={})
        store.write_corpus(session, document=document, pages=[page], chunks=[chunk],
                           embeddings=HashEmbedder().embed(["body"]))
        session.commit()


def _space(runtime: str) -> Spaced:
    return Spaced(space_of(default_model_path(), runtime))


def test_a_corpus_refuses_vectors_of_an_incompatible_runtime(
        fresh_database_url: DatabaseFactory) -> None:
    engine = make_engine(fresh_database_url())
    sessions = sessionmaker(engine)
    try:
        check_embedding_space(_space("onnx-int8"), sessions)  # empty corpus: any runtime
        check_embedding_space(_space("torch"), sessions)  # still empty: re-recorded
        _add_chunk(sessions)
        check_embedding_space(_space("onnx"), sessions)  # fp32 ONNX mixes with torch
        with sessions() as session:
            assert recorded_space(session) == _space("torch").space
        with pytest.raises(SettingsError) as caught:
            check_embedding_space(_space("onnx-int8"), sessions)
        message = str(caught.value)
        assert "LECTERN_EMBEDDING_RUNTIME='onnx-int8'" in message
        assert "runtime 'torch' of all-MiniLM-L6-v2 (bundled)" in message
        assert "LECTERN_EMBEDDING_RUNTIME=torch" in message and "upload them again" in message
        other = Spaced(EmbeddingSpace("/models/other", "0123456789abcdef", "torch"))
        with pytest.raises(SettingsError, match="fingerprint 0123456789abcdef"):
            check_embedding_space(other, sessions)  # other weights, same runtime
        check_embedding_space(HashEmbedder(), sessions)  # no `space` (a test double): no check
    finally:
        engine.dispose()


def test_a_corpus_from_before_the_record_counts_as_torch_and_start_up_refuses_int8(
        fresh_database_url: DatabaseFactory) -> None:
    url = fresh_database_url()
    engine = make_engine(url)
    sessions = sessionmaker(engine)
    try:
        _add_chunk(sessions)
        with sessions() as session:  # chunks, but no record: a corpus from before 0015
            session.execute(delete(EmbeddingSpaceRow))
            session.commit()
        with pytest.raises(SettingsError, match="made by runtime 'torch'"):
            build_container(Settings(), database_url=url, with_ocr=False,
                            embedder=SpacedHashEmbedder("onnx-int8"))
        build_container(Settings(), database_url=url, with_ocr=False,
                        embedder=SpacedHashEmbedder("onnx")).close()
    finally:
        engine.dispose()
