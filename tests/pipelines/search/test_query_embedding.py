"""QueryEmbedder: concurrent questions share model calls and each gets its own vector."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from pipelines.search import QueryEmbedder, query_embedder
from tests.support.fake_embedder import HashEmbedder


class SlowEmbedder(HashEmbedder):
    """Each call takes 50 ms (in its worker thread), like a model would; may fail once."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.threads: set[str] = set()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.threads.add(threading.current_thread().name)
        threading.Event().wait(0.05)
        if self.fail:
            self.fail = False
            raise RuntimeError("model fell over")
        return super().embed(texts)


async def test_overlapping_questions_are_embedded_together_each_with_its_vector() -> None:
    model = SlowEmbedder()
    batcher = QueryEmbedder(model)
    texts = [f"question number {i}" for i in range(20)]

    vectors = await asyncio.gather(*(batcher.embed(t) for t in texts))

    assert vectors == HashEmbedder().embed(texts)  # in order, each its own
    assert len(model.calls) <= 2 and sum(len(c) for c in model.calls) == 20
    assert threading.main_thread().name not in model.threads  # never on the event loop


async def test_batches_are_capped_and_a_failure_reaches_only_its_batch() -> None:
    model = SlowEmbedder(fail=True)
    batcher = QueryEmbedder(model, max_batch=4)

    results = await asyncio.gather(*(batcher.embed(f"q{i}") for i in range(8)),
                                   return_exceptions=True)

    assert [type(r) for r in results[:4]] == [RuntimeError] * 4
    assert all(isinstance(r, list) for r in results[4:])
    assert [len(c) for c in model.calls] == [4]  # the failed call is not recorded by the fake


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    model = SlowEmbedder()
    batcher = QueryEmbedder(model)
    first = asyncio.create_task(batcher.embed("first"))
    await asyncio.sleep(0)  # the first batch is running
    doomed = asyncio.create_task(batcher.embed("doomed"))
    kept = asyncio.create_task(batcher.embed("kept"))
    await asyncio.sleep(0)
    doomed.cancel()

    assert await first == HashEmbedder().embed(["first"])[0]
    assert await kept == HashEmbedder().embed(["kept"])[0]
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert ["doomed"] not in model.calls and ["kept"] in model.calls


def test_one_batcher_per_embedder_works_from_several_event_loops() -> None:
    model = SlowEmbedder()
    assert query_embedder(model) is query_embedder(model)
    results: list[list[float]] = []

    def in_own_loop() -> None:
        results.append(asyncio.run(query_embedder(model).embed("same question")))

    threads = [threading.Thread(target=in_own_loop) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert results == [HashEmbedder().embed(["same question"])[0]] * 3


async def test_a_repeated_question_is_embedded_once_and_duplicates_share_a_call() -> None:
    model = SlowEmbedder()
    batcher = QueryEmbedder(model, recent=2)
    twice = await asyncio.gather(batcher.embed("what is the margin"),
                                 batcher.embed("what is the margin"))
    assert twice[0] == twice[1] == HashEmbedder().embed(["what is the margin"])[0]
    assert model.calls == [["what is the margin"]]  # one text in one call

    again = await batcher.embed("what is the margin")
    again.append(0.0)  # a caller's copy: changing it changes nothing remembered
    assert await batcher.embed("what is the margin") == twice[0]
    assert len(model.calls) == 1

    await batcher.embed("a")
    await batcher.embed("b")  # the oldest of 2 remembered questions is forgotten
    await batcher.embed("what is the margin")
    assert model.calls == [["what is the margin"], ["a"], ["b"],
                                        ["what is the margin"]]
