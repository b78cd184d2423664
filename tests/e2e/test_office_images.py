"""Pictures of text inside Office files, end to end: real HTTP, PostgreSQL, OCR pool, embedder.

`notice.docx` (a photographed sign on page 1) and `returns.pptx` (a returns label pasted on
slide 2) are uploaded by tenant `alpha`; the words in their pictures must reach the page they
sit on (as an `[image text]` blockquote), the chunks of that page, and a search for them.
The pictures' character error rate over HTTP is printed and bounded.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ingest.embedded_images import IMAGE_TEXT_LABEL
from tests.support.api import items, upload, wait_for_job
from tests.support.cer import SAMPLES, char_error_rate, reference_pages
from tests.support.markdown_text import image_text

COLLECTION = "office-images"
IMAGE_CER_BOUND = 0.02
# sample -> (the page its picture is on, a search for the picture's words, a phrase of them)
PICTURES = {"notice.docx": (1, "which dock is closed for repairs", "DOCK 4 IS CLOSED"),
            "returns.pptx": (2, "return address Thorpe Park unit", "Unit 4, Thorpe Park")}


@pytest.fixture(scope="module")
def ingested(alpha: httpx.Client) -> dict[str, dict[str, Any]]:
    """Each sample uploaded and followed to the end of its job: document id, pages, chunks."""
    done: dict[str, dict[str, Any]] = {}
    for name in PICTURES:
        response = upload(alpha, name, (SAMPLES / name).read_bytes(), collection=COLLECTION)
        assert response.status_code == 202, response.text
        body = response.json()
        job = wait_for_job(alpha, body["job"]["id"])
        assert job["status"] == "succeeded", job
        document_id = body["document"]["id"]
        done[name] = {"id": document_id,
                      "pages": items(alpha, f"/v1/documents/{document_id}/pages"),
                      "chunks": items(alpha, f"/v1/documents/{document_id}/chunks")}
    return done


@pytest.mark.parametrize("name", list(PICTURES))
def test_picture_text_is_on_its_page_and_in_its_chunks(
    ingested: dict[str, dict[str, Any]], name: str
) -> None:
    page_no, _question, phrase = PICTURES[name]
    sample = ingested[name]
    expected = reference_pages(name.rsplit(".", 1)[0] + ".image-text")
    assert len(sample["pages"]) == len(expected)
    page = sample["pages"][page_no - 1]
    assert f"> {IMAGE_TEXT_LABEL} " in page["text"]
    rate = char_error_rate(expected[page_no - 1], image_text(page["text"]))
    words = expected[page_no - 1].split()
    found = sum(word in page["text"] for word in words)
    print(f"{name}: picture text over HTTP CER {rate:.4f}, words {found}/{len(words)}")
    assert rate <= IMAGE_CER_BOUND
    others = [p for p in sample["pages"] if p["page_no"] != page_no]
    assert all(IMAGE_TEXT_LABEL not in p["text"] for p in others)  # logo, photo: nothing
    holding = [c for c in sample["chunks"] if phrase in " ".join(c["text"].split())]
    assert holding and all(c["page_start"] <= page_no <= c["page_end"] for c in holding)


@pytest.mark.parametrize("name", list(PICTURES))
def test_search_finds_the_words_of_a_picture(
    ingested: dict[str, dict[str, Any]], alpha: httpx.Client, name: str
) -> None:
    page_no, question, phrase = PICTURES[name]
    response = alpha.post("/v1/search", json={"query": question, "collection": COLLECTION,
                                               "top_k": 3})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    hit = next((h for h in hits if phrase in " ".join(h["text"].split())), None)
    assert hit is not None, (name, [(h["filename"], h["text"][:80]) for h in hits])
    assert hit["document_id"] == ingested[name]["id"]
    assert hit["page_start"] <= page_no <= hit["page_end"]
