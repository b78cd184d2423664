"""The OpenAI chat protocol's JSON, both ways, for the OpenAI-compatible adapter.

Why a module of its own: what a `ChatRequest` becomes on the wire (messages with their tool
calls and tool results, the client's tools, `stop`, the structured-output mode) and what a
streamed delta or a whole reply's tool calls mean back are plain data mappings, apart from the
adapter's SDK handling, retries and error translation (`openai_compat`).

The client's tools and tool messages are passed on as given: tool definitions as the JSON
objects they are, a tool call as `{"id", "type": "function", "function": {"name",
"arguments"}}` with the arguments as the model's own JSON text.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.llm.providers import with_schema_in_system
from pipelines.llm.providers.structured_modes import StructuredMode
from pipelines.llm.types import ChatRequest, Message, ToolCall, ToolCallDelta

JSON_OBJECT_INSTRUCTION = "Reply with one JSON object and nothing else."
"""Added to the system message of a `json_object` request served in mode "none"."""


def effective_mode(request: ChatRequest, mode: StructuredMode) -> StructuredMode:
    """The mode a structured request is sent in: a `json_object` request (no schema) asks for
    no more than JSON mode, however strong the model's mode is."""
    if request.json_schema is None and request.json_object and mode == "json_schema":
        return "json_object"
    return mode


def wire_message(message: Message) -> dict[str, Any]:
    """One message as the protocol has it; plain messages are exactly `{"role", "content"}`."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": c.arguments}}
                             for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def request_params(request: ChatRequest, mode: StructuredMode) -> dict[str, Any]:
    """`messages`, `response_format`, `tools`, `tool_choice`, `parallel_tool_calls` and `stop`
    of one call in `mode` (the model, sampling and transport are the adapter's)."""
    params: dict[str, Any] = {}
    messages = request.messages
    if request.structured:
        mode = effective_mode(request, mode)
        name = re.sub(r"[^A-Za-z0-9_-]", "_", request.schema_name)[:64] or "output"
        schema = request.json_schema if request.json_schema is not None else {"type": "object"}
        if mode == "json_schema":
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": name, "schema": schema, "strict": True}}
        elif mode == "tools":
            params["tools"] = [{"type": "function", "function": {
                "name": name, "description": "Give the result as this function's arguments.",
                "parameters": schema}}]
            params["tool_choice"] = {"type": "function", "function": {"name": name}}
        else:
            if request.json_schema is not None:
                messages = with_schema_in_system(request)
            elif mode == "none":
                messages = _with_instruction(messages, JSON_OBJECT_INSTRUCTION)
            if mode == "json_object":
                params["response_format"] = {"type": "json_object"}
    if request.tools is not None:
        params["tools"] = list(request.tools.tools)
        if request.tools.tool_choice is not None:
            params["tool_choice"] = request.tools.tool_choice
        if request.tools.parallel_tool_calls is not None:
            params["parallel_tool_calls"] = request.tools.parallel_tool_calls
    if request.stop:
        params["stop"] = list(request.stop)
    params["messages"] = [wire_message(m) for m in messages]
    return params


def _with_instruction(messages: tuple[Message, ...], instruction: str) -> tuple[Message, ...]:
    """`messages` with `instruction` appended to the system message (or one put in front)."""
    out = list(messages)
    for i, message in enumerate(out):
        if message.role == "system":
            out[i] = Message("system", f"{message.content}\n\n{instruction}")
            return tuple(out)
    return (Message("system", instruction), *out)


def reply_tool_calls(calls: Any) -> tuple[ToolCall, ...]:
    """The function calls of a whole reply's message (the SDK's objects; other kinds of tool
    call are left out, as the seam carries function calls only)."""
    return tuple(ToolCall(c.id, c.function.name, c.function.arguments)
                 for c in calls or () if c.type == "function")


def delta_tool_calls(delta: Any) -> list[ToolCallDelta]:
    """The tool-call pieces of a streamed delta (a JSON object), in the order sent."""
    if delta is None:
        return []
    out = []
    for call in delta.get("tool_calls") or []:
        function = call.get("function") or {}
        index, call_id = call.get("index", 0), call.get("id")
        name, arguments = function.get("name"), function.get("arguments")
        if not isinstance(index, int) or not all(
                v is None or isinstance(v, str) for v in (call_id, name, arguments)):
            raise TypeError(f"malformed tool call delta: {call!r}")
        out.append(ToolCallDelta(index, call_id, name, arguments or ""))
    return out


def delta_text(delta: Any, *, forced_tool: bool) -> str:
    """The text a streamed delta (a JSON object) adds: its content, or with `forced_tool`
    (structured output in "tools" mode) the forced call's argument piece."""
    if delta is None:
        return ""
    if forced_tool:
        calls = delta.get("tool_calls") or []
        pieces = [c["function"].get("arguments") for c in calls
                  if c.get("index", 0) == 0 and c.get("function") is not None]
        if pieces:
            return "".join(p for p in pieces if p)
    content = delta.get("content")
    if content is not None and not isinstance(content, str):
        raise TypeError(f"delta content is {type(content).__name__}, not text")
    return content or ""
