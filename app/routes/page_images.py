"""`GET /v1/documents/{id}/pages/{n}/image`: one page of a document as a PNG, to look at.

Why: a citation points to a page, and the person reading the answer wants to see that page
as it is, not only the text lectern read from it: scans above all, whose text is OCR's
reading. A PDF page is rendered by pdfium (`ingest.textlayer.render_page`, bounded by the
pixel limit); a page of a PNG, JPEG or TIFF upload is its frame (`ingest.images.open_image`),
scaled down to the asked resolution. Text and Markdown uploads have no page image (404
`no_page_image`). The PNG is greyscale, like the images OCR reads.

Rendered on request, nothing stored: a page at the default 110 dpi takes tens of
milliseconds and is about 100-200 kB. The route is sync, so FastAPI runs it in its thread
pool and the event loop keeps streaming answers meanwhile.
"""

from __future__ import annotations

import io
import uuid
from typing import Annotated

import pypdfium2 as pdfium
from fastapi import APIRouter, Path, Query, Response
from PIL import Image

from app.deps import ContainerDep, SessionDep, TenantDep
from app.errors import ApiError
from ingest.errors import CorruptDocument
from ingest.images import open_image
from ingest.store import load_file
from ingest.textlayer import render_page
from ingest.types import Limits
from pipelines import ingestion

router = APIRouter(prefix="/v1/documents", tags=["documents"])

IMAGE_KINDS = frozenset({"pdf", "png", "jpeg", "tiff"})
DEFAULT_DPI = 110
SCAN_DPI = 200.0
"""The resolution assumed for an image upload that does not say its own."""


@router.get("/{document_id}/pages/{page_no}/image", response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "the page as a greyscale PNG"}})
def page_image(
    document_id: uuid.UUID,
    page_no: Annotated[int, Path(ge=1, le=100_000)],
    container: ContainerDep,
    session: SessionDep,
    tenant: TenantDep,
    dpi: Annotated[int, Query(ge=36, le=200, description="resolution of the PNG")] = DEFAULT_DPI,
) -> Response:
    """Page `page_no` (from 1) of the tenant's document as a PNG at about `dpi`."""
    document = ingestion.get_document(session, tenant=tenant, document_id=document_id)
    if document.kind not in IMAGE_KINDS:
        raise ApiError(404, "no_page_image", f"a {document.kind} document has no page images: "
                       "read its pages' text instead", kind=document.kind)
    data = load_file(session, tenant=tenant, document_id=document_id)
    session.close()  # the bytes are in memory; rendering needs no connection
    if data is None:
        raise _gone(document_id)
    image = render(data, document.kind, page_no, dpi, container.limits)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return Response(buffer.getvalue(), media_type="image/png")


def _gone(document_id: uuid.UUID) -> ApiError:
    """The 404 of a document deleted between reading its row and its bytes."""
    return ApiError(404, "document_not_found", "document not found",
                    document_id=str(document_id))


def render(data: bytes, kind: str, page_no: int, dpi: int, limits: Limits) -> Image.Image:
    """Page `page_no` of a PDF or image upload, greyscale at about `dpi`; 404 `page_not_found`
    past its last page, the ingest errors (422) for files that cannot be read."""
    if kind == "pdf":
        count = _pdf_pages(data)
        if page_no > count:
            raise _no_page(page_no, count)
        return render_page(data, page_no - 1, dpi, max_pixels=limits.max_image_pixels)
    doc = open_image(data, limits)
    if page_no > doc.page_count:
        raise _no_page(page_no, doc.page_count)
    frame = doc.frame(page_no - 1)
    own = frame.info.get("dpi") or doc.image.info.get("dpi") or (SCAN_DPI, SCAN_DPI)
    scale = dpi / max(float(own[0]) or SCAN_DPI, 1.0)
    if scale < 1:
        size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
        frame = frame.resize(size, Image.Resampling.LANCZOS)
    return frame


def _pdf_pages(data: bytes) -> int:
    try:
        document = pdfium.PdfDocument(data, password="")
    except pdfium.PdfiumError as exc:
        raise CorruptDocument("PDF cannot be rendered", reason=str(exc)) from exc
    try:
        return len(document)
    finally:
        document.close()


def _no_page(page_no: int, count: int) -> ApiError:
    return ApiError(404, "page_not_found", f"the document has {count} page(s), not {page_no}",
                    page=page_no, page_count=count)
