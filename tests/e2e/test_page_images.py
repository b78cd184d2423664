"""`GET /v1/documents/{id}/pages/{n}/image` and the web page's own routes, over real HTTP.

A page image is rendered from the stored upload, so it exists as soon as the upload is
accepted, before its job has read the pages: the tests do not wait for ingestion.
"""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from PIL import Image

from tests.support.api import Server, upload
from tests.support.cer import SAMPLES


@pytest.fixture(scope="module")
def collection() -> str:
    return f"pages-{uuid.uuid4().hex[:8]}"


def _document(client: httpx.Client, name: str, collection: str) -> str:
    response = upload(client, name, (SAMPLES / name).read_bytes(), collection=collection)
    assert response.status_code in (200, 202), response.text
    document_id: str = response.json()["document"]["id"]
    return document_id


def _png(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


def test_a_pdf_page_is_rendered_at_the_asked_resolution(alpha: httpx.Client,
                                                        collection: str) -> None:
    doc = _document(alpha, "digital-report.pdf", collection)
    default = _png(alpha.get(f"/v1/documents/{doc}/pages/2/image"))
    sharp = _png(alpha.get(f"/v1/documents/{doc}/pages/2/image", params={"dpi": 200}))
    assert default.mode == "L" and 850 <= default.height <= 1400  # A4/Letter at 110 dpi
    assert sharp.height > 1.7 * default.height
    missing = alpha.get(f"/v1/documents/{doc}/pages/4/image")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "page_not_found"
    assert missing.json()["error"]["details"]["page_count"] == 3
    assert alpha.get(f"/v1/documents/{doc}/pages/1/image",
                     params={"dpi": 1000}).status_code == 422


def test_an_image_upload_is_its_own_page_and_a_text_note_has_none(alpha: httpx.Client,
                                                                   collection: str) -> None:
    scan = _document(alpha, "page.png", collection)
    original = Image.open(SAMPLES / "page.png")
    shown = _png(alpha.get(f"/v1/documents/{scan}/pages/1/image", params={"dpi": 75}))
    assert shown.width == pytest.approx(original.width * 75 / 150, abs=2)  # scanned at 150 dpi
    note = _document(alpha, "note.md", collection)
    refused = alpha.get(f"/v1/documents/{note}/pages/1/image")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "no_page_image"


def test_page_images_are_per_tenant_and_need_a_key(server: Server, alpha: httpx.Client,
                                                   beta: httpx.Client, collection: str) -> None:
    doc = _document(alpha, "digital-report.pdf", collection)
    other = beta.get(f"/v1/documents/{doc}/pages/1/image")
    assert other.status_code == 404 and other.json()["error"]["code"] == "document_not_found"
    assert httpx.get(f"{server.url}/v1/documents/{doc}/pages/1/image").status_code == 401


def test_the_page_and_its_files_are_public_and_nothing_else_is_served(server: Server) -> None:
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/web/js/main.js">' in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(f"{server.url}/web/js/main.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server.url}/web/config.json").json() == {"auth_required": True}
    for path in ("/web/../routes.py", "/web/%2e%2e/routes.py", "/web/js/nope.js", "/web/"):
        assert httpx.get(f"{server.url}{path}").status_code == 404, path
    assert httpx.head(f"{server.url}/").status_code == 200
