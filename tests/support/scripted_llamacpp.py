"""The scripted OpenAI-protocol server, made to reject `response_format` modes the way
llama-cpp-python's server does.

Why: that server validates the request with Pydantic and answers a `json_schema`
`response_format` with a 422 whose FastAPI `detail` names `response_format` (it accepts only
`text` and `json_object`). Tests of the adapter's structured-mode fallback need exactly that
reply, on every such request, not once. `status=500` imitates servers that fail the same way
with a 5xx (which would count against a breaker).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.support.scripted_openai import ScriptedOpenAI


class RejectingOpenAI(ScriptedOpenAI):
    """Rejects every chat request whose `response_format.type` is in `rejected` (recorded in
    `rejections`, not in `requests`), and serves the rest from the script as usual."""

    def __init__(self, *, rejected: frozenset[str] = frozenset({"json_schema"}),
                 status: int = 422, models: tuple[str, ...] = ("scripted-model",)) -> None:
        super().__init__(models=models)
        self.rejected = rejected
        self.status = status
        self.rejections: list[str] = []

    async def _chat(self, request: Request) -> Response:
        body = json.loads(await request.body())
        kind = (body.get("response_format") or {}).get("type")
        if kind in self.rejected:
            self.rejections.append(str(kind))
            return JSONResponse({"detail": [{
                "type": "literal_error", "loc": ["body", "response_format", "type"],
                "msg": "Input should be 'text' or 'json_object'", "input": kind,
                "ctx": {"expected": "'text' or 'json_object'"}}]}, self.status)
        return await super()._chat(request)


@contextmanager
def rejecting_openai_server(*, rejected: frozenset[str] = frozenset({"json_schema"}),
                            status: int = 422) -> Iterator[RejectingOpenAI]:
    """A started `RejectingOpenAI` for the duration of a `with` block."""
    server = RejectingOpenAI(rejected=rejected, status=status)
    server.start()
    try:
        yield server
    finally:
        server.stop()
