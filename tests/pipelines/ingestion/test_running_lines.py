"""Running headers and footers through the real worker, pipeline and PostgreSQL: the stored
chunks keep them once (on page 1) and lose every repeat, the body text and its page numbers
stay, and the pages' raw text keeps all."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select

from ingest.corpus import ChunkRow, Page
from ingest.pipeline import IngestContext
from pipelines.ingestion import Worker
from tests.support.fake_embedder import HashEmbedder
from tests.support.job_queue import QueueDb

HEADER = "ACME Corp — Annual Report 2024"
BODIES = [
    ["Turbine sales grew steadily during the year under review.",
     "Two new wind farms in Denmark were commissioned in spring."],
    ["Orchards suffered from a late frost that cut the apple harvest.",
     "Prices for pears rose, which softened the loss."],
    ["The glassworks moved to electric furnaces.",
     "Energy costs per tonne fell by a fifth after the switch."],
    ["Shipyard orders doubled, led by ferries for island routes.",
     "Delivery slots are now booked until the end of next decade."],
    ["Vineyards produced a small but excellent vintage.",
     "Exports to Japan opened a promising new market."],
]
TOPICS = ["Turbine", "Orchards", "glassworks", "Shipyard", "Vineyards"]


def _report_pdf() -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    width, height = A4
    for n in range(1, 6):
        canvas.setFont("Helvetica", 9)
        canvas.drawString(72, height - 40, HEADER)
        canvas.drawCentredString(width / 2, 30, f"Page {n} of 5")
        canvas.setFont("Helvetica", 11)
        for k, line in enumerate(BODIES[n - 1]):
            canvas.drawString(72, height - 120 - 18 * k, line)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def test_stored_chunks_keep_running_header_and_footer_only_on_their_first_page(
        db: QueueDb) -> None:
    job = db.submit(_report_pdf())
    assert Worker(db.sessions, IngestContext(embedder=HashEmbedder())).run_once()
    assert db.job(job.id).status == "succeeded"
    with db.sessions() as session:
        chunks = session.scalars(
            select(ChunkRow).where(ChunkRow.document_id == job.document_id)
        ).all()
        pages = session.scalars(
            select(Page).where(Page.document_id == job.document_id).order_by(Page.page_no)
        ).all()
    stored = "\n".join(f"{c.section}\n{c.text}" for c in chunks)
    assert chunks and stored.count("Annual Report") == 1 and stored.count("of 5") == 1
    assert all(c.page_start == 1 for c in chunks if "ACME" in f"{c.section}\n{c.text}")
    for n in range(1, 6):
        for line in BODIES[n - 1]:
            assert line in stored
        holding = [c for c in chunks if TOPICS[n - 1] in c.text]
        assert holding and all(c.page_start <= n <= c.page_end for c in holding)
    assert [p.page_no for p in pages] == [1, 2, 3, 4, 5]
    for n, page in enumerate(pages, start=1):
        assert HEADER in page.raw_text and f"Page {n} of 5" in page.raw_text
        repeats = ("ACME" in page.text, "of 5" in page.text)
        assert repeats == ((True, True) if n == 1 else (False, False))
        assert BODIES[n - 1][0] in page.text
