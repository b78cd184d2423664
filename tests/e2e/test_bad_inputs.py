"""Bad input over real HTTP: refused uploads (4xx before anything is stored) and documents
that are accepted but cannot be read (each a failed job naming the problem).

The size guard is checked on a raw socket, where "refused before the body is read" can be
observed: a declared 10 GB upload is answered at once, and a chunked upload with no length
is cut off soon after the limit.
"""

from __future__ import annotations

import io
import re
import select as io_select
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from tests.support.api import E2E_UPLOAD_LIMIT, Server, items, upload, wait_for_job
from tests.support.cer import SAMPLES


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


def test_refused_uploads(alpha: httpx.Client) -> None:
    error = _error(upload(alpha, "empty.pdf", b""), 400, "empty_file")
    assert "empty" in error["message"].lower()
    zipped = upload(alpha, "a.zip", b"PK\x03\x04" + bytes(512))
    assert _error(zipped, 415, "unsupported_file_type")["message"]
    too_big = upload(alpha, "big.txt", b"x" * (E2E_UPLOAD_LIMIT + 1))
    error = _error(too_big, 413, "file_too_large")
    assert error["details"]["limit"] == E2E_UPLOAD_LIMIT
    response = upload(alpha, "n.txt", b"some words", metadata="[1, 2]")
    assert "JSON object" in _error(response, 422, "invalid_metadata")["message"]
    response = upload(alpha, "n.txt", b"some words", metadata="{oops")
    assert "not valid JSON" in _error(response, 422, "invalid_metadata")["message"]
    wrong_key = {"Authorization": "Bearer lk_wrong"}
    assert alpha.get("/v1/documents", headers=wrong_key).status_code == 401


def test_declared_huge_upload_is_refused_before_the_body_is_sent(server: Server) -> None:
    """A client announcing 10 GB gets 413 at once, without the server waiting for the bytes."""
    address = urlsplit(server.url)
    request = (
        "POST /v1/documents HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\n"
        f"Authorization: Bearer {server.keys['alpha']}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {10 * 1024**3}\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request + b"--x\r\n")
        reply = _read_reply(sock)
    assert reply.startswith("HTTP/1.1 413"), reply
    assert '"code":"file_too_large"' in reply.replace(" ", "")
    assert time.perf_counter() - started < 5


def _read_reply(sock: socket.socket) -> str:
    """One HTTP response: its head, then as many body bytes as its Content-Length says."""
    received = b""
    while True:
        head, _, body = received.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if length and len(body) >= int(length.group(1)):
            break
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        received += chunk
    return received.decode(errors="replace")


def test_streamed_oversize_upload_is_cut_off_soon_after_the_limit(server: Server) -> None:
    """Chunked upload, no Content-Length: the server stops reading just past the limit."""
    address = urlsplit(server.url)
    head = (
        "POST /v1/documents HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\n"
        f"Authorization: Bearer {server.keys['alpha']}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    part = b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
    block = b"a" * 65536
    sent = 0
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head + b"%x\r\n%s\r\n" % (len(part), part))
        while sent < 100 * E2E_UPLOAD_LIMIT:
            if io_select.select([sock], [], [], 0)[0]:
                break  # the server answered
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            except OSError:  # the server closed the connection after answering
                break
            sent += len(block)
        sock.settimeout(5)
        reply = _read_reply(sock)
    assert reply.startswith("HTTP/1.1 413"), reply
    assert "file_too_large" in reply
    # What the client manages to write is the limit plus what the loopback socket buffers
    # absorb (a few MiB), not the 200 MiB it tried to send.
    assert sent < 10 * E2E_UPLOAD_LIMIT, f"sent {sent} bytes before the server refused"


def _pdf_bytes(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(SAMPLES / "digital-report.pdf"))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    return _pdf_bytes(writer)


def _blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    return _pdf_bytes(writer)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


BAD_DOCUMENTS: dict[str, tuple[Callable[[], bytes], str]] = {
    "truncated.pdf": (
        lambda: (SAMPLES / "digital-report.pdf").read_bytes()[:2500],
        "corrupt_document",
    ),
    "garbage.pdf": (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 8, "corrupt_document"),
    "encrypted.pdf": (_encrypted_pdf, "encrypted_document"),
    "bomb.png": (lambda: _png(Image.new("1", (12_000, 12_000), 1)), "image_too_large"),
    "blank.png": (lambda: _png(Image.new("L", (1200, 1600), 255)), "no_readable_text"),
    "blank.pdf": (_blank_pdf, "no_readable_text"),
}


@pytest.mark.parametrize("name", list(BAD_DOCUMENTS))
def test_unreadable_documents_fail_their_job_with_a_clear_error(
    alpha: httpx.Client, name: str
) -> None:
    make, code = BAD_DOCUMENTS[name]
    response = upload(alpha, name, make(), collection=f"bad-{uuid.uuid4().hex[:6]}")
    assert response.status_code == 202, response.text
    body = response.json()
    job = wait_for_job(alpha, body["job"]["id"], timeout_s=120)
    assert job["status"] == "failed"
    assert job["error"]["code"] == code, job["error"]
    assert len(job["error"]["message"]) > 10
    document = alpha.get(f"/v1/documents/{body['document']['id']}").json()
    assert document["status"] == "failed"
    assert document["error"]["code"] == code
    assert items(alpha, f"/v1/documents/{body['document']['id']}/chunks") == []
