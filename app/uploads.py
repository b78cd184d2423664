"""Reading the parts of an upload form: the file in bounded chunks, metadata as a JSON object.

Metadata is refused whole (422 `invalid_metadata`) unless it can be stored and listed back as
sent: a JSON object, at most `MAX_JSON_DEPTH` levels deep, finite numbers, storable text.

The body-level guard (`app.middleware.UploadLimitMiddleware`) already stops a huge request
early; this is the exact check on the file part itself, made while copying it out of the
spooled temporary file so no more than `max_bytes + chunk` bytes are ever held in memory.
"""

from __future__ import annotations

import json
from typing import IO, Any

from fastapi import Request

from app.errors import ApiError
from ingest.errors import FileTooLarge
from ingest.storable import MAX_JSON_DEPTH, json_problem

READ_CHUNK_BYTES = 1024 * 1024
FORM_OVERHEAD_BYTES = 256 * 1024
"""Room for multipart boundaries, headers and the small form fields next to the file."""
MAX_METADATA_CHARS = 64 * 1024
_JSON_TYPE_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def read_bounded(stream: IO[bytes], max_bytes: int) -> bytes:
    """Read `stream` to the end in chunks; raise `FileTooLarge` once it passes `max_bytes`."""
    parts: list[bytes] = []
    size = 0
    while chunk := stream.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise FileTooLarge(
                f"upload is larger than the limit of {max_bytes} bytes",
                limit=max_bytes,
                size_at_least=size,
            )
        parts.append(chunk)
    return b"".join(parts)


def parse_metadata(raw: str | None) -> dict[str, Any]:
    """The `metadata` form field as a dict; 422 `ApiError` unless it is a JSON object that
    lectern can store and serve back (see the module docstring)."""
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_METADATA_CHARS:
        raise ApiError(
            422,
            "invalid_metadata",
            f"metadata is longer than {MAX_METADATA_CHARS} characters",
            limit=MAX_METADATA_CHARS,
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError(
            422,
            "invalid_metadata",
            f"metadata is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            position=exc.pos,
        ) from None
    except (RecursionError, ValueError) as exc:  # nesting past the parser, a 5000-digit number
        reason = f"nests deeper than {MAX_JSON_DEPTH} levels" if isinstance(
            exc, RecursionError) else f"holds a number lectern cannot read ({exc})"
        raise ApiError(422, "invalid_metadata", f"metadata {reason}") from None
    if not isinstance(value, dict):
        got = _JSON_TYPE_NAMES.get(type(value), "null")
        raise ApiError(
            422, "invalid_metadata", f"metadata must be a JSON object, not {got}", got=got
        )
    if (problem := json_problem(value)) is not None:
        raise ApiError(422, "invalid_metadata", f"metadata: {problem}")
    return value


async def one_file_part(request: Request) -> None:
    """422 `multiple_files` when the form holds more than one `file` part, which would otherwise
    be stored as the last one without a word (FastAPI caches the parsed form, so reading it
    here costs nothing)."""
    files = (await request.form()).getlist("file")
    if len(files) > 1:
        raise ApiError(422, "multiple_files",
                       f"the upload holds {len(files)} file parts; send one file per request",
                       count=len(files))
