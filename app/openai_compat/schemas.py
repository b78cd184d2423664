"""The request bodies of `POST /v1/chat/completions` and `POST /v1/embeddings`, as OpenAI's
SDKs send them, and what lectern makes of each field.

Unknown fields are ignored, as clients send fields of newer API versions. Fields lectern
cannot honour are refused with 400 naming them rather than silently dropped, where dropping
would change the reply a client relies on: `n` > 1 (one choice per request), `logprobs` (no
provider returns them), the legacy `functions` / `function_call` and `function` messages
(deprecated by OpenAI for `tools`; mapping them would need the reply translated back into
`function_call` and their messages carry no call id, so a client is told to send `tools`),
tools other than function tools, and content parts other than text.

Passed on to gateway models: `tools` with `tool_choice` and `parallel_tool_calls`, `tool`
messages and assistant messages with `tool_calls`, `stop` (a string or up to 4), and
`response_format` `json_object` (JSON mode) or `json_schema`; only models whose provider can
do them serve such a request. RAG models refuse tools, tool
messages and `stop` (`refuse_for_rag`). Sampling knobs that only shape the randomness
(`top_p`, `presence_penalty`, `frequency_penalty`, `seed`, `logit_bias`) and bookkeeping ones
(`user`, `metadata`, `store`, `service_tier`) are accepted and not passed on: the router's
provider requests have no place for them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.errors import ApiError
from app.fields import Text
from pipelines.llm import Message, Role, ToolCall, ToolUse

MAX_MESSAGES = 500
MAX_TOOLS = 128
"""OpenAI's own limit on the tools of one request."""
MAX_STOP = 4


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Lenient):
    """One part of a message's content; only `text` parts are understood."""

    type: str
    text: Text | None = None


class FunctionCall(_Lenient):
    """The function of a tool call: its name and the model's arguments (JSON text)."""

    name: Text
    arguments: Text


class ToolCallIn(_Lenient):
    """A tool call of an earlier assistant message, as the model made it."""

    id: Annotated[Text, Field(min_length=1)]
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Lenient):
    """A message; `developer` is OpenAI's newer name for `system`. A `tool` message answers
    the tool call `tool_call_id` of an earlier assistant message."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | list[ContentPart] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: Text | None = None

    @property
    def uses_tools(self) -> bool:
        """Whether the message is a tool call or a tool's result."""
        return self.role == "tool" or bool(self.tool_calls)


class StreamOptions(_Lenient):
    include_usage: bool = False


class JsonSchemaFormat(_Lenient):
    name: Annotated[str, Field(min_length=1, max_length=64)] = "output"
    schema_: Annotated[dict[str, Any], Field(alias="schema")]
    strict: bool | None = None


class ResponseFormat(_Lenient):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class ChatBody(_Lenient):
    """`POST /v1/chat/completions`."""

    model: Annotated[str, Field(min_length=1, max_length=300)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int | None, Field(ge=1)] = None
    max_completion_tokens: Annotated[int | None, Field(ge=1)] = None
    temperature: Annotated[float | None, Field(ge=0, le=2)] = None
    n: Annotated[int | None, Field(ge=1)] = None
    stop: Text | Annotated[list[Text], Field(max_length=MAX_STOP)] | None = None
    tools: Annotated[list[dict[str, Any]] | None, Field(max_length=MAX_TOOLS)] = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None

    @property
    def include_usage(self) -> bool:
        """Whether a stream ends with a usage chunk (`stream_options.include_usage`)."""
        return self.stream_options is not None and self.stream_options.include_usage

    @property
    def output_tokens(self) -> int | None:
        """The client's output cap (`max_completion_tokens`, else `max_tokens`)."""
        return self.max_completion_tokens or self.max_tokens

    def json_schema(self) -> JsonSchemaFormat | None:
        """The structured output asked for, if any."""
        rf = self.response_format
        return rf.json_schema if rf is not None and rf.type == "json_schema" else None

    @property
    def json_object(self) -> bool:
        """Whether JSON mode (`response_format` `json_object`) is asked for."""
        return self.response_format is not None and self.response_format.type == "json_object"

    def stop_sequences(self) -> tuple[str, ...]:
        """`stop` as a tuple (empty strings dropped: they stop nothing)."""
        stop = [self.stop] if isinstance(self.stop, str) else self.stop or []
        return tuple(s for s in stop if s)

    def tool_use(self) -> ToolUse | None:
        """The tools offered, with `tool_choice` and `parallel_tool_calls`; None without
        tools. 400 for a tool that is not a named function tool (the seam carries function
        calls only)."""
        if not self.tools:
            if self.tool_choice is not None and self.tool_choice != "none":
                raise ApiError(400, "invalid_request", "tool_choice needs tools",
                               param="tool_choice")
            return None
        for i, tool in enumerate(self.tools):
            function = tool.get("function")
            if tool.get("type") != "function" or not isinstance(function, dict) or not (
                    isinstance(function.get("name"), str) and function["name"]):
                raise ApiError(400, "unsupported_parameter", f"tools.{i}: only function tools "
                               "(type function, with a function name) are supported",
                               param=f"tools.{i}")
        return ToolUse(tuple(self.tools), self.tool_choice, self.parallel_tool_calls)

    def refuse_unsupported(self) -> None:
        """400 `unsupported_parameter` naming the first field lectern cannot honour for any
        model."""
        refused = [("n", (self.n or 1) > 1),
                   ("functions", bool(self.functions) or self.function_call is not None),
                   ("logprobs", bool(self.logprobs) or bool(self.top_logprobs))]
        rf = self.response_format
        if rf is not None and rf.type == "json_schema" and rf.json_schema is None:
            raise ApiError(400, "invalid_request", "response_format of type json_schema "
                           "needs its json_schema", param="response_format")
        for param, bad in refused:
            if bad:
                raise ApiError(400, "unsupported_parameter", f"{param}: {_WHY[param]}",
                               param=param)

    def refuse_for_rag(self) -> None:
        """400 for what a RAG model cannot honour: it answers the question from the sources,
        in text with `[n]` citations, and calls no tools."""
        if self.tools or (self.tool_choice is not None and self.tool_choice != "none"):
            raise ApiError(400, "unsupported_parameter", "tools: RAG models (lectern-rag) "
                           "answer from the sources and call no tools; send tools to a "
                           "gateway model (GET /v1/models lists them)", param="tools")
        if self.stop_sequences():
            raise ApiError(400, "unsupported_parameter", "stop: RAG models answer with "
                           "citations and take no stop sequences", param="stop")
        for i, message in enumerate(self.messages):
            if message.uses_tools:
                raise ApiError(400, "unsupported_parameter", f"messages.{i}: RAG models "
                               "take no tool calls or tool messages", param=f"messages.{i}")
        rf = self.response_format
        if rf is not None and rf.type != "text":
            raise ApiError(400, "unsupported_parameter", "response_format: RAG models answer "
                           "in text with [n] citations", param="response_format")

    def to_messages(self) -> list[Message]:
        """The messages as the router takes them: text, `developer` as `system`, tool calls
        and tool results as the client sent them."""
        return [_message(i, m) for i, m in enumerate(self.messages)]


_WHY = {
    "n": "lectern returns one choice per request",
    "functions": "the legacy functions and function_call are not supported; send them as "
                 "tools and tool_choice",
    "logprobs": "lectern's providers return no log probabilities",
}


def _message(index: int, message: ChatMessage) -> Message:
    """One message; 400 for legacy `function` messages, a `tool` message without its call id,
    and non-text parts."""
    if message.role == "function":
        raise ApiError(400, "unsupported_parameter", f"messages.{index}: legacy function "
                       "messages are not supported; send tool messages with tool_call_id",
                       param=f"messages.{index}")
    if message.role == "tool" and not message.tool_call_id:
        raise ApiError(400, "invalid_request", f"messages.{index}: a tool message needs the "
                       "tool_call_id it answers", param=f"messages.{index}.tool_call_id")
    role: Role = "system" if message.role == "developer" else message.role
    calls = tuple(ToolCall(c.id, c.function.name, c.function.arguments)
                  for c in message.tool_calls or ()) if role == "assistant" else ()
    call_id = message.tool_call_id if role == "tool" else None
    return Message(role, _text(index, message.content), calls, call_id)


def _text(index: int, content: str | list[ContentPart] | None) -> str:
    """A message's content as text; 400 for parts other than text."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise ApiError(400, "unsupported_parameter", f"messages.{index}.content: only "
                           f"text parts are supported, not {part.type!r}",
                           param=f"messages.{index}.content")
        texts.append(part.text)
    return "".join(texts)


class EmbeddingsBody(_Lenient):
    """`POST /v1/embeddings`: `input` is a string or a list of strings (token-id arrays are
    refused: they are another tokenizer's ids)."""

    model: Annotated[str, Field(min_length=1, max_length=300)]
    input: Text | list[Text] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int | None, Field(ge=1)] = None

    def texts(self) -> list[str]:
        """The inputs as a list of strings; 400 for token ids."""
        if isinstance(self.input, str):
            return [self.input]
        if all(isinstance(item, str) for item in self.input):
            return [str(item) for item in self.input]
        raise ApiError(400, "unsupported_parameter", "input: token-id arrays are not "
                       "supported; send the text", param="input")
