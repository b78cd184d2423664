"""FakeProvider, the provider registry, and the optional adapters (anthropic, local llama.cpp)
as far as they can be tested without their services."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from typing import Any

import pytest

from pipelines.llm.errors import ConfigError, ProviderError, UnknownProvider
from pipelines.llm.protocol import ChatProvider
from pipelines.llm.providers.extractive import ExtractiveProvider
from pipelines.llm.providers.fake import FakeProvider, FakeStream, word_pieces
from pipelines.llm.providers.openai_compat import OpenAICompatProvider
from pipelines.llm.registry import build_provider, known_kinds, register_kind
from pipelines.llm.types import (
    Capabilities,
    ChatRequest,
    Message,
    StreamEnd,
    StreamItem,
    TextDelta,
    TokenUsage,
)

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAS_ANTHROPIC = importlib.util.find_spec("anthropic") is not None
REQ = ChatRequest(messages=(Message("system", "Be brief."), Message("user", "Why is it blue?")),
                  model="m")


async def items(provider: ChatProvider, request: ChatRequest = REQ) -> list[StreamItem]:
    return [item async for item in provider.stream(request)]


def text_of(stream: list[StreamItem]) -> str:
    return "".join(i.text for i in stream if isinstance(i, TextDelta))


# -- FakeProvider ----------------------------------------------------------------------------
async def test_fake_streams_queued_text_in_word_pieces_and_records_calls() -> None:
    fake = FakeProvider("f", ["Rayleigh scattering [1].", "Second."])
    first = await items(fake)
    assert [i.text for i in first if isinstance(i, TextDelta)] == ["Rayleigh", " scattering",
                                                                    " [1]."]
    assert first[-1] == StreamEnd(TokenUsage(input_tokens=6, output_tokens=3), "stop")
    other = ChatRequest(messages=(Message("user", "again"),), model="m2")
    assert (await fake.complete(other)).text == "Second."
    assert fake.calls == [REQ, other] and fake.pending == 0


async def test_fake_exception_reply_is_raised_before_first_token() -> None:
    boom = ProviderError("down", provider="f", status=503)
    fake = FakeProvider("f", [boom])
    with pytest.raises(ProviderError) as info:
        await items(fake)
    assert info.value is boom and len(fake.calls) == 1


async def test_fake_stream_fails_after_k_pieces() -> None:
    fake = FakeProvider("f", [FakeStream("one two three four", fail_after=2),
                              FakeStream("never sent", fail_after=0)])
    got: list[str] = []
    with pytest.raises(ProviderError) as info:
        async for item in fake.stream(REQ):
            assert isinstance(item, TextDelta)
            got.append(item.text)
    assert got == ["one", " two"]
    assert not info.value.before_first_token and info.value.retryable
    with pytest.raises(ProviderError) as early:
        await items(fake)
    assert early.value.before_first_token


async def test_fake_runs_out_loudly_unless_it_has_a_default() -> None:
    with pytest.raises(ProviderError) as info:
        await FakeProvider("f").complete(REQ)
    assert not info.value.retryable and "no reply queued" in str(info.value)
    fake = FakeProvider("f", default_reply="always", usage=TokenUsage(5, 1),
                        capabilities=Capabilities(structured="tools", local=True))
    assert (await fake.complete(REQ)).usage == TokenUsage(5, 1)
    assert text_of(await items(fake)) == "always"
    assert fake.capabilities("m").structured == "tools"


def test_word_pieces_join_back() -> None:
    for text in ["", "a", "  lead and trail  ", "x\n\ny"]:
        assert "".join(word_pieces(text)) == text


# -- registry --------------------------------------------------------------------------------
def test_unknown_kind_lists_known_ones() -> None:
    with pytest.raises(UnknownProvider) as info:
        build_provider("gemini", "g")
    message = str(info.value)
    for kind in ("openai", "openai-compatible", "azure", "anthropic", "local", "extractive",
                 "fake"):
        assert kind in message and kind in info.value.details["known"]
    assert set(known_kinds()) >= {"openai", "azure", "local"}


def test_registry_builds_named_providers_of_each_always_available_kind() -> None:
    extractive = build_provider("extractive", "offline", timeout_s=30.0)
    assert isinstance(extractive, ExtractiveProvider) and extractive.name == "offline"
    fake = build_provider("fake", timeout_s=5.0)
    assert isinstance(fake, FakeProvider) and fake.name == "fake"
    compat = build_provider("openai-compatible", "ollama", base_url="http://127.0.0.1:9/v1",
                            timeout_s=5.0, structured_mode="json_object")
    assert isinstance(compat, OpenAICompatProvider) and isinstance(compat, ChatProvider)
    assert compat.capabilities("llama3").structured == "json_object"


def test_registry_turns_bad_options_into_config_errors() -> None:
    with pytest.raises(ConfigError, match="colour"):
        build_provider("extractive", "x", colour="blue")
    with pytest.raises(ConfigError, match="api_version"):
        build_provider("azure", "az", base_url="http://127.0.0.1:9", api_key="k")
    with pytest.raises(ConfigError, match="model_path"):
        build_provider("local", "l")


def test_register_kind_adds_a_factory() -> None:
    register_kind("test-fake", lambda name, **o: FakeProvider(name, **o))
    built = build_provider("test-fake", "tf", default_reply="hi")
    assert isinstance(built, FakeProvider) and "test-fake" in known_kinds()


# -- local llama.cpp -------------------------------------------------------------------------
class ScriptedLlama:
    """Stands in for `llama_cpp.Llama` (not installed here) to exercise the adapter's own
    worker-thread bridge: chunks in llama.cpp's dict shape, a whitespace tokenizer."""

    def __init__(self, pieces: tuple[str, ...] = ("Local", " answer", "."),
                 delay_s: float = 0.0, **load_args: Any) -> None:
        self.load_args = load_args
        self.pieces, self.delay_s = pieces, delay_s
        self.params: list[dict[str, Any]] = []
        self.threads: set[str] = set()
        self.produced = 0
        self.closed = threading.Event()

    def create_chat_completion(self, **params: Any) -> Iterator[dict[str, Any]]:
        self.params.append(params)
        self.threads.add(threading.current_thread().name)
        try:
            for piece in self.pieces:
                time.sleep(self.delay_s)
                self.produced += 1
                yield {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
            yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}
        finally:
            self.closed.set()

    def tokenize(self, data: bytes, add_bos: bool = True) -> list[bytes]:
        return data.split()


def scripted_local(llama: ScriptedLlama, **options: Any) -> ChatProvider:
    def factory(**load_args: Any) -> ScriptedLlama:
        llama.load_args = load_args
        return llama
    return build_provider("local", "loc", model_path="/models/tiny.gguf", n_ctx=2048,
                          llama_factory=factory, **options)


async def test_local_streams_from_a_worker_thread_with_grammar_for_schemas() -> None:
    llama = ScriptedLlama()
    provider = scripted_local(llama)
    got = await items(provider, ChatRequest(messages=REQ.messages, model="tiny",
                                            json_schema={"type": "object"}, max_tokens=64))
    assert text_of(got) == "Local answer." and got[-1] == StreamEnd(TokenUsage(6, 2), "stop")
    assert threading.current_thread().name not in llama.threads
    assert llama.load_args["n_ctx"] == 2048 and llama.load_args["model_path"].endswith(".gguf")
    params = llama.params[0]
    assert params["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    assert params["max_tokens"] == 64 and params["messages"][1]["content"] == "Why is it blue?"
    assert provider.capabilities("tiny").local


async def test_local_stops_generating_when_the_consumer_leaves() -> None:
    llama = ScriptedLlama(pieces=tuple(f" w{i}" for i in range(50)), delay_s=0.005)
    stream = scripted_local(llama).stream(REQ)
    assert isinstance(stream, AsyncGenerator)
    async with aclosing(stream):
        async for _ in stream:
            break
    assert llama.closed.wait(1.0) and llama.produced < 10  # stopped early, generator closed


async def test_local_timeout_is_retryable() -> None:
    provider = scripted_local(ScriptedLlama(delay_s=0.4), timeout_s=0.1)
    with pytest.raises(ProviderError) as info:
        await provider.complete(REQ)
    assert info.value.retryable and info.value.details["kind"] == "timeout"


@pytest.mark.skipif(HAS_LLAMA, reason="llama-cpp-python is installed")
def test_local_without_llama_cpp_names_the_extra() -> None:
    with pytest.raises(ConfigError, match=r"pip install 'lectern\[local\]'"):
        build_provider("local", "l", model_path="/models/tiny.gguf")


@pytest.mark.skipif(not HAS_LLAMA, reason="needs llama-cpp-python (optional extra 'local')")
def test_local_with_llama_cpp_checks_the_model_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        build_provider("local", "l", model_path="/nonexistent/tiny.gguf")


# -- anthropic -------------------------------------------------------------------------------
@pytest.mark.skipif(not HAS_ANTHROPIC, reason="needs the anthropic SDK (optional extra)")
def test_anthropic_request_mapping_moves_system_and_forces_a_tool() -> None:
    from pipelines.llm.providers.anthropic import anthropic_params

    request = ChatRequest(messages=(Message("system", "A."), Message("system", "B."),
                                    Message("user", "Q?")), model="claude-x",
                          json_schema={"type": "object"}, schema_name="fact sheet")
    params = anthropic_params(request, default_max_tokens=300)
    assert params["system"] == "A.\n\nB." and params["max_tokens"] == 300
    assert params["messages"] == [{"role": "user", "content": "Q?"}]
    assert params["tools"][0]["input_schema"] == {"type": "object"}
    assert params["tool_choice"] == {"type": "tool", "name": "fact_sheet"}
    assert "extra_body" not in params


@pytest.mark.skipif(not HAS_ANTHROPIC, reason="needs the anthropic SDK (optional extra)")
async def test_anthropic_connection_failure_is_translated() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = build_provider("anthropic", "claude", api_key="k",
                              base_url=f"http://127.0.0.1:{port}", timeout_s=2.0)
    with pytest.raises(ProviderError) as info:
        await items(provider)
    assert info.value.retryable and info.value.details["kind"] == "connection"
    assert info.value.before_first_token


@pytest.mark.skip(reason="needs an Anthropic endpoint")
def test_anthropic_streams_against_the_real_api() -> None:
    """Streaming and tool-use parsing need a real Anthropic endpoint."""
