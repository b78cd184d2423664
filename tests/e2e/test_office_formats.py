"""Office, ODT, HTML and e-mail uploads end to end: real HTTP, PostgreSQL, embedder.

Each structured sample is uploaded by tenant `alpha` into a collection of its own, followed to
the end of its job, and read back through the API: its pages (a slide, a sheet, a recorded
page; text that matches the sample's expected text), its chunks' pages and sections, and a
search for a phrase of each that finds it on the right page. A damaged Office file fails as
`corrupt_document` at upload, a ZIP bomb as `archive_too_large`, never as an internal error.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.api import Server, items, upload, wait_for_job
from tests.support.cer import SAMPLES, char_error_rate, reference_pages
from tests.support.markdown_text import plain_text

COLLECTION = "office-formats"
CER_BOUND = 0.005
KINDS = {"memo.docx": "docx", "sales.xlsx": "xlsx", "briefing.pptx": "pptx",
         "faq.html": "html", "minutes.odt": "odt", "shipping-update.eml": "eml"}
# sample -> (a question, a phrase the hit holds, the page it is on, a section it sits under)
FINDS: dict[str, tuple[str, str, int, str]] = {
    "memo.docx": ("racking cost and its supplier Mecalux", "Mecalux", 2, "2 Budget"),
    "sales.xlsx": ("Northwind Leeds store opened staff", "Northwind Leeds", 2, "Stores"),
    "briefing.pptx": ("same-day delivery Manchester Glasgow", "Same-day delivery", 2,
                      "Priorities for 2025"),
    "faq.html": ("how long do refunds to PayPal take", "1 to 2 working days", 1,
                 "Refund times"),
    "minutes.odt": ("forklift lanes yellow", "Mark forklift lanes in yellow", 2, "Actions"),
    "shipping-update.eml": ("orders placed before 2 pm leave the same day",
                            "before 2 pm", 1, "Leeds centre starts shipping on 14 April"),
}


@dataclass
class Ingested:
    """One sample after ingestion: API bodies of its document, job, pages and chunks."""

    document: dict[str, Any]
    job: dict[str, Any]
    pages: list[dict[str, Any]]
    chunks: list[dict[str, Any]]


@pytest.fixture(scope="module")
def office(server: Server, alpha: httpx.Client) -> dict[str, Ingested]:
    """Every structured sample uploaded by alpha and followed to the end of its job."""
    done: dict[str, Ingested] = {}
    for name in KINDS:
        started = time.perf_counter()
        response = upload(alpha, name, (SAMPLES / name).read_bytes(), collection=COLLECTION)
        assert response.status_code == 202, response.text
        body = response.json()
        job = wait_for_job(alpha, body["job"]["id"])
        server.timings[name] = time.perf_counter() - started
        document_id = body["document"]["id"]
        done[name] = Ingested(
            document=alpha.get(f"/v1/documents/{document_id}").json(), job=job,
            pages=items(alpha, f"/v1/documents/{document_id}/pages"),
            chunks=items(alpha, f"/v1/documents/{document_id}/chunks"))
    return done


@pytest.mark.parametrize("name", list(KINDS))
def test_sample_is_ready_with_a_page_per_slide_sheet_or_recorded_page(
    office: dict[str, Ingested], name: str
) -> None:
    sample = office[name]
    expected = reference_pages(name.rsplit(".", 1)[0])
    assert sample.job["status"] == "succeeded", sample.job
    assert sample.document["kind"] == KINDS[name] and sample.document["status"] == "ready"
    assert sample.document["page_count"] == len(expected) == len(sample.pages)
    assert [page["page_no"] for page in sample.pages] == list(range(1, len(expected) + 1))
    assert {page["method"] for page in sample.pages} == {"text"}
    rates = [char_error_rate(ref, plain_text(page["raw_text"]))
             for ref, page in zip(expected, sample.pages, strict=True)]
    print(f"{name}: CER per page over HTTP {[round(rate, 4) for rate in rates]}")
    assert max(rates) <= CER_BOUND, rates
    assert all(chunk["token_count"] <= 256 for chunk in sample.chunks)


@pytest.mark.parametrize("name", list(FINDS))
def test_search_finds_a_phrase_of_each_on_its_page(
    office: dict[str, Ingested], alpha: httpx.Client, name: str
) -> None:
    question, phrase, page, section = FINDS[name]
    response = alpha.post("/v1/search", json={"query": question, "collection": COLLECTION,
                                               "top_k": 3})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    hit = next((h for h in hits if phrase in " ".join(h["text"].split())), None)
    assert hit is not None, (name, [(h["filename"], h["text"][:80]) for h in hits])
    assert hit["document_id"] == office[name].document["id"]
    assert hit["page_start"] <= page <= hit["page_end"], hit
    assert section in hit["section"], hit


def test_tables_and_headings_survive_into_pages_and_chunks(office: dict[str, Ingested]) -> None:
    memo = office["memo.docx"]
    assert "| Racking | 1,250 | Mecalux |" in memo.pages[1]["text"]
    assert memo.pages[0]["text"].startswith("# Leeds Distribution Centre Opening Plan")
    sales = office["sales.xlsx"]
    assert [page["text"].splitlines()[0] for page in sales.pages] == [
        "# Revenue", "# Stores", "# Notes"]
    revenue = next(c for c in sales.chunks if "| North | 2.9 |" in c["text"])
    assert revenue["page_start"] == revenue["page_end"] == 1
    assert revenue["section_path"][0] == "Revenue"


def test_no_page_image_for_a_structured_document(office: dict[str, Ingested],
                                                 alpha: httpx.Client) -> None:
    document_id = office["briefing.pptx"].document["id"]
    response = alpha.get(f"/v1/documents/{document_id}/pages/1/image")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_page_image"


def test_damaged_office_file_is_corrupt_document_at_upload(alpha: httpx.Client) -> None:
    data = (SAMPLES / "sales.xlsx").read_bytes()
    response = upload(alpha, "sales.xlsx", data[: len(data) // 2], collection=COLLECTION)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "corrupt_document"


def test_damaged_part_fails_the_job_as_corrupt_document(alpha: httpx.Client) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(SAMPLES / "briefing.pptx") as source, \
            zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            broken = info.filename == "ppt/slides/slide2.xml"
            target.writestr(info, b"<p:sld" if broken else source.read(info))
    response = upload(alpha, "briefing.pptx", out.getvalue(), collection=COLLECTION)
    assert response.status_code == 202, response.text
    job = wait_for_job(alpha, response.json()["job"]["id"])
    assert job["status"] == "failed" and job["error"]["code"] == "corrupt_document", job


def test_zip_bomb_is_refused_at_upload(alpha: httpx.Client) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", zipfile.ZipFile(SAMPLES / "memo.docx")
                         .read("[Content_Types].xml"))
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(257):
                member.write(bytes(1024 * 1024))
    response = upload(alpha, "bomb.docx", out.getvalue(), collection=COLLECTION)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "archive_too_large"
