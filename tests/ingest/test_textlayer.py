"""The PDF text layer: lines with font facts, the OCR decision, errors, and page rendering."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter
from reportlab.pdfgen.canvas import Canvas

from ingest.errors import CorruptDocument, EncryptedDocument, TooManyPages
from ingest.images import has_ink
from ingest.textlayer import needs_ocr, open_pdf, render_page
from ingest.types import Limits
from tests.support.cer import SAMPLES, normalize, reference_pages

LIMITS = Limits()
DIGITAL = (SAMPLES / "digital-report.pdf").read_bytes()
SCANNED = (SAMPLES / "scanned-report.pdf").read_bytes()


def _encrypted(user_password: str, algorithm: str = "RC4-128") -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(DIGITAL))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_digital_report_lines_match_reference() -> None:
    doc = open_pdf(DIGITAL, LIMITS)
    assert doc.page_count == 3
    for index, reference in enumerate(reference_pages("digital-report")):
        text = "\n".join(line.text for line in doc.page_lines(index))
        assert normalize(text) == normalize(reference)


def test_headings_are_larger_and_bold() -> None:
    lines = {line.text: line for i in range(3) for line in open_pdf(DIGITAL, LIMITS).page_lines(i)}
    body = lines["of the winter season."]
    assert body.font_size == pytest.approx(11.0) and not body.bold
    title = lines["Northwind Outfitters Annual Report 2024"]
    chapter = lines["2 Results"]
    section = lines["2.1 Revenue"]
    assert title.font_size == pytest.approx(20.0)
    assert chapter.font_size == pytest.approx(15.0)
    assert section.font_size == pytest.approx(12.5)
    assert all(h.bold for h in (title, chapter, section))
    sizes = [h.font_size or 0.0 for h in (title, chapter, section, body)]
    assert sizes == sorted(sizes, reverse=True)


def test_table_row_is_one_line_and_hyphen_is_kept() -> None:
    page1, page2 = (open_pdf(DIGITAL, LIMITS).page_lines(i) for i in (0, 1))
    assert "Total 8.9 11.1 13.3 12.9" in [line.text for line in page2]
    assert any(line.text.endswith("logistics infra-") for line in page1)


def test_needs_ocr_per_page() -> None:
    digital, scanned = open_pdf(DIGITAL, LIMITS), open_pdf(SCANNED, LIMITS)
    for index in range(3):
        text = "\n".join(line.text for line in digital.page_lines(index))
        assert not needs_ocr(text, digital.image_count(index))
        assert scanned.page_lines(index) == []
        assert scanned.image_count(index) == 1
        assert needs_ocr("", scanned.image_count(index))


def test_needs_ocr_rules() -> None:
    paragraph = "Revenue rose to 48.2 million dollars in the year under review. " * 2
    assert needs_ocr("Figure 1", image_count=1)  # a caption on a scanned page
    assert not needs_ocr(paragraph, image_count=1)  # text with an illustration
    assert not needs_ocr("Page 12 of 30", image_count=0)  # a short but real page
    assert needs_ocr("", image_count=0)  # text drawn as outlines, or a blank page
    assert needs_ocr("\ufffd\ufffd\ue001\ue002\ue003 ab\ue004\ue005", image_count=0)


@pytest.mark.parametrize(
    "data",
    [DIGITAL[: len(DIGITAL) // 2], b"%PDF-1.7\n" + bytes(range(256)) * 4, b"%PDF-1.4\n"],
    ids=["truncated", "garbage", "header-only"],
)
def test_corrupt_pdf(data: bytes) -> None:
    with pytest.raises(CorruptDocument) as caught:
        open_pdf(data, LIMITS)
    assert caught.value.http_status == 422


def test_password_protected_pdf_is_refused() -> None:
    with pytest.raises(EncryptedDocument) as caught:
        open_pdf(_encrypted("secret"), LIMITS)
    assert (caught.value.code, caught.value.http_status) == ("encrypted_document", 422)


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_empty_user_password_is_decrypted(algorithm: str) -> None:
    if algorithm.startswith("AES"):
        pytest.importorskip("cryptography")
    doc = open_pdf(_encrypted("", algorithm), LIMITS)
    assert doc.page_lines(0)[0].text == "Northwind Outfitters Annual Report 2024"
    image = render_page(doc.data, 0, 50)
    assert has_ink(image)  # pdfium opened it too: the page has dark text


def test_too_many_pages() -> None:
    with pytest.raises(TooManyPages) as caught:
        open_pdf(DIGITAL, Limits(max_pages=2))
    assert caught.value.details == {"pages": 3, "limit": 2}


def test_render_page_size_and_dpi() -> None:
    image = render_page(DIGITAL, 1, 100)
    assert image.mode == "L"
    assert image.size == (850, 1100)  # US letter at 100 dpi
    assert image.info["dpi"] == pytest.approx((100, 100))


def test_render_page_stays_within_pixel_limit() -> None:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(14400, 14400))  # a 200-inch square page
    canvas.drawString(100, 100, "tiny text on a huge page")
    canvas.showPage()
    canvas.save()
    image = render_page(buffer.getvalue(), 0, 300, max_pixels=4_000_000)
    assert image.width * image.height <= 4_000_000
    assert image.width > 1900
    assert image.info["dpi"][0] == pytest.approx(image.width / 200, rel=0.01)
