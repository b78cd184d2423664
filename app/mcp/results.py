"""What the MCP tools hand back: a result for the model to read and the same data structured,
and lectern's errors as MCP tool errors.

A tool result carries two things. `content` is text a model reads (search hits and answers
as numbered lines, other data as JSON), `structured_content` the JSON the HTTP API would have
answered, for programs. A failure lectern raised on purpose (`LecternError`: not found,
budget, no model able to extract, invalid input, an unreachable database) is an MCP tool
error (`isError`) whose text is the API's error body `{"error": {"code", "message",
"details"}}`, so a client sees the same code and message as over HTTP; anything else is left
to the SDK, which answers with the tool's name only and logs the traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from app.errors import error_body
from core import DatabaseUnavailable, LecternError, is_database_unavailable

log = logging.getLogger("lectern.mcp")


class AskOut(BaseModel):
    """The `ask` tool's structured result: the answer, the numbered sources it cites as `[n]`,
    who answered (`meta`) and what it cost (`usage`)."""

    answer: str
    sources: list[dict[str, Any]]
    meta: dict[str, Any] | None
    usage: dict[str, Any] | None
    finish_reason: str | None


def as_json(data: Any) -> str:
    """`data` as indented JSON text (the text form of a tool's structured result)."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def result(text: str, structured: dict[str, Any] | None = None) -> CallToolResult:
    """A successful tool result: `text` for the model, `structured` for programs."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=structured)


def error_result(exc: LecternError) -> CallToolResult:
    """An MCP tool error carrying lectern's error body for `exc` (code, message, details)."""
    body = error_body(exc.code, exc.message, exc.details)
    return CallToolResult(content=[TextContent(type="text", text=as_json(body))],
                          structured_content=body, is_error=True)


async def guarded(tool: str, call: Awaitable[CallToolResult]) -> CallToolResult:
    """Await a tool's body; a `LecternError` (or an unreachable database) becomes its tool
    error, logged like the HTTP handler logs it; any other exception goes on to the SDK."""
    try:
        return await call
    except LecternError as exc:
        failure = exc
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        log.warning("tool failed: tool=%s code=database_unavailable cause=%s",
                    tool, type(exc).__name__)
        return error_result(DatabaseUnavailable())
    level = logging.ERROR if failure.http_status >= 500 else logging.INFO
    log.log(level, "tool failed: tool=%s code=%s message=%s", tool, failure.code,
            failure.message)
    return error_result(failure)


def _pages(start: Any, end: Any) -> str:
    return f"p. {start}" if start == end else f"pp. {start}–{end}"


def source_line(source: dict[str, Any]) -> str:
    """`[n] file, pages — section (score)`, as `lectern ask` prints a source."""
    section = f" — {source['section']}" if source.get("section") else ""
    return (f"[{source['n']}] {source['filename']}, "
            f"{_pages(source['page_start'], source['page_end'])}{section} "
            f"(score {source['score']:.2f})")


def answer_text(answer: str, sources: list[dict[str, Any]]) -> str:
    """The answer, then its numbered sources, one a line (the `[n]` the answer cites)."""
    if not sources:
        return answer
    return answer.rstrip() + "\n\nSources:\n" + "\n".join(source_line(s) for s in sources)


def hits_text(hits: list[dict[str, Any]]) -> str:
    """Search hits for a model to read: `[rank] file, pages — section (score)` and the text."""
    if not hits:
        return "No passages matched above the score threshold."
    blocks = []
    for hit in hits:
        section = f" — {hit['section']}" if hit.get("section") else ""
        blocks.append(f"[{hit['rank']}] {hit['filename']}, "
                      f"{_pages(hit['page_start'], hit['page_end'])}{section} "
                      f"(score {hit['score']:.2f}, document {hit['document_id']})\n"
                      f"{hit['text']}")
    return "\n\n".join(blocks)
