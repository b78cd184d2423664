"""The request bodies of `POST /v1/chat/completions` and `POST /v1/embeddings`, as OpenAI's
SDKs send them, and what lectern makes of each field.

Unknown fields are ignored, as clients send fields of newer API versions. Fields lectern
cannot honour are refused with 400 naming them rather than silently dropped, where dropping
would change the reply a client relies on: `n` > 1, `stop`, `tools`/`functions` (the
provider seam carries neither tool definitions nor tool calls back), `logprobs`, a
`response_format` of `json_object` (the seam has structured output by schema only), content
parts other than text, and `tool` messages. Sampling knobs that only shape the randomness
(`top_p`, `presence_penalty`, `frequency_penalty`, `seed`, `logit_bias`) and bookkeeping ones
(`user`, `metadata`, `store`, `service_tier`, `parallel_tool_calls`) are accepted and not
passed on: the router's provider requests have no place for them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.errors import ApiError
from app.fields import Text
from pipelines.llm import Message, Role

MAX_MESSAGES = 500


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Lenient):
    """One part of a message's content; only `text` parts are understood."""

    type: str
    text: Text | None = None


class ChatMessage(_Lenient):
    """A message; `developer` is OpenAI's newer name for `system`."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | list[ContentPart] | None = None
    tool_calls: list[dict[str, Any]] | None = None


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
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    functions: list[dict[str, Any]] | None = None
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

    def refuse_unsupported(self) -> None:
        """400 `unsupported_parameter` naming the first field lectern cannot honour."""
        refused = [("n", (self.n or 1) > 1), ("stop", bool(self.stop)),
                   ("tools", bool(self.tools)), ("functions", bool(self.functions)),
                   ("logprobs", bool(self.logprobs) or bool(self.top_logprobs))]
        rf = self.response_format
        refused.append(("response_format", rf is not None and rf.type == "json_object"))
        if rf is not None and rf.type == "json_schema" and rf.json_schema is None:
            raise ApiError(400, "invalid_request", "response_format of type json_schema "
                           "needs its json_schema", param="response_format")
        for param, bad in refused:
            if bad:
                raise ApiError(400, "unsupported_parameter", f"{param}: {_WHY[param]}",
                               param=param)

    def to_messages(self) -> list[Message]:
        """The messages as the router takes them: text only, `developer` as `system`."""
        return [_message(i, m) for i, m in enumerate(self.messages)]


_WHY = {
    "n": "lectern returns one choice per request",
    "stop": "stop sequences cannot be passed to lectern's providers",
    "tools": "lectern's provider seam carries no tool definitions or tool calls",
    "functions": "lectern's provider seam carries no function definitions or calls",
    "logprobs": "lectern's providers return no log probabilities",
    "response_format": "json_object is not supported; give a json_schema instead",
}


def _message(index: int, message: ChatMessage) -> Message:
    """One message as text; 400 for tool messages, tool calls and non-text parts."""
    if message.role == "tool" or message.role == "function" or message.tool_calls:
        raise ApiError(400, "unsupported_parameter", f"messages.{index}: tool messages and "
                       "tool calls are not supported", param=f"messages.{index}")
    role: Role = "system" if message.role == "developer" else message.role
    content = message.content
    if content is None or isinstance(content, str):
        return Message(role, content or "")
    texts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise ApiError(400, "unsupported_parameter", f"messages.{index}.content: only "
                           f"text parts are supported, not {part.type!r}",
                           param=f"messages.{index}.content")
        texts.append(part.text)
    return Message(role, "".join(texts))


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
