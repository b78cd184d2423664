"""Reading the parts of an upload form: the file in bounded chunks, metadata as a JSON object.

The body-level guard (`app.middleware.UploadLimitMiddleware`) already stops a huge request
early; this is the exact check on the file part itself, made while copying it out of the
spooled temporary file so no more than `max_bytes + chunk` bytes are ever held in memory.
"""

from __future__ import annotations

import json
from typing import IO, Any

from app.errors import ApiError
from ingest.errors import FileTooLarge

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
    """The `metadata` form field as a dict; 422 `ApiError` unless it is a JSON object."""
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
    if not isinstance(value, dict):
        got = _JSON_TYPE_NAMES.get(type(value), "null")
        raise ApiError(
            422, "invalid_metadata", f"metadata must be a JSON object, not {got}", got=got
        )
    return value
