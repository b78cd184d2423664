"""Generate the Office, ODT, HTML and e-mail samples in `samples/` with their expected text.

Run `python scripts/make_office_samples.py` from the repository root. Each sample is written
from the content below by the format's own library (python-docx, openpyxl, python-pptx, the
standard library's `email`; the ODT's XML by hand, as LibreOffice lays it out), and its
`<name>.txt` from the same content: one line per heading, paragraph, list item and table row
(cells joined by single spaces), pages (a DOCX's page breaks, an ODT's recorded page ends,
sheets, slides) separated by form feeds. The output is deterministic: ZIP members are
rewritten with a fixed time stamp and the documents' own dates are fixed. The content is in
`office_sample_content.py` beside this script; the samples with text in pictures
(`notice.docx`, `returns.pptx`) are written by `office_image_samples.py`.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

import docx
import openpyxl
import pptx
from office_sample_content import FAQ, FAQ_TITLE, MAIL_BODY, MEMO, MINUTES, SHEETS, SLIDES, Block
from pptx.util import Inches

OUT = Path(__file__).resolve().parent.parent / "samples"
FIXED = dt.datetime(2025, 3, 14, 9, 0, 0)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*<")

def block_lines(blocks: list[Block]) -> list[str]:
    """The expected text of content blocks: one line per heading, paragraph, item and row."""
    lines: list[str] = []
    for _kind, content in blocks:
        if isinstance(content, str):
            lines.append(content)
        else:
            lines.extend(" ".join(row) if isinstance(row, list) else row for row in content)
    return lines


def write_text(path: Path, pages: list[list[str]]) -> None:
    """Lines joined by newlines, pages by form feeds (as `make_samples.write_text`)."""
    path.write_text("\f".join("\n".join(lines) + "\n" for lines in pages), encoding="utf-8")


def fixed_zip(data: bytes) -> bytes:
    """The ZIP rewritten member by member, in order, with one fixed time stamp (also as the
    modified date in its core properties, which openpyxl sets to the time of saving)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            member.compress_type = info.compress_type
            member.external_attr = 0o644 << 16
            content = source.read(info)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>2025-03-14T09:00:00Z<", content)
            target.writestr(member, content)
    return out.getvalue()


def make_docx(path: Path) -> None:
    document = docx.Document()
    document.core_properties.created = document.core_properties.modified = FIXED
    for index, page in enumerate(MEMO):
        if index:
            document.add_page_break()
        for kind, content in page:
            if kind == "title":
                document.add_heading(str(content), level=0)
            elif kind in ("h1", "h2"):
                document.add_heading(str(content), level=int(kind[1]))
            elif kind == "p":
                document.add_paragraph(str(content))
            elif kind == "list":
                for item in content:
                    document.add_paragraph(str(item), style="List Bullet")
            else:
                rows = [row for row in content if isinstance(row, list)]
                table = document.add_table(rows=len(rows), cols=len(rows[0]))
                for r, row in enumerate(rows):
                    for c, value in enumerate(row):
                        table.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(fixed_zip(buffer.getvalue()))


def make_xlsx(path: Path) -> list[list[str]]:
    workbook = openpyxl.Workbook()
    workbook.properties.created = workbook.properties.modified = FIXED
    workbook.remove(workbook.active)
    pages = []
    for name, rows in SHEETS.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
        pages.append([name, *(" ".join(v.isoformat() if isinstance(v, dt.date) else str(v)
                                       for v in row) for row in rows)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(fixed_zip(buffer.getvalue()))
    return pages


def make_pptx(path: Path) -> list[list[str]]:
    presentation = pptx.Presentation()
    presentation.core_properties.created = presentation.core_properties.modified = FIXED
    pages = []
    for index, (title, items, table, notes) in enumerate(SLIDES):
        layout = presentation.slide_layouts[0 if index == 0 else 1 if items else 5]
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = title
        if items:
            frame = slide.placeholders[1].text_frame
            for number, (level, text) in enumerate(items):
                paragraph = frame.paragraphs[0] if number == 0 else frame.add_paragraph()
                paragraph.text, paragraph.level = text, level
        if table:
            shape = slide.shapes.add_table(len(table), len(table[0]), Inches(1), Inches(2),
                                           Inches(6), Inches(3))
            for r, row in enumerate(table):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        pages.append([title, *(text for _, text in items), *(" ".join(r) for r in table),
                      *(["Notes", notes] if notes else [])])
    buffer = io.BytesIO()
    presentation.save(buffer)
    path.write_bytes(fixed_zip(buffer.getvalue()))
    return pages


def html_blocks(blocks: list[Block], tags: dict[str, str]) -> str:
    """Content blocks as HTML (`tags` maps a block kind to its element)."""
    out = []
    for kind, content in blocks:
        if isinstance(content, str):
            out.append(f"<{tags[kind]}>{escape(content)}</{tags[kind]}>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{escape(str(i))}</li>" for i in content) + "</ul>")
        else:
            rows = [row for row in content if isinstance(row, list)]
            head = "".join(f"<th>{escape(v)}</th>" for v in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
                           for row in rows[1:])
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return "\n".join(out)


def make_html(path: Path) -> None:
    body = html_blocks(FAQ, {"h1": "h1", "h2": "h2", "p": "p"})
    path.write_text(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{escape(FAQ_TITLE)}</title>\n<style>body {{ font-family: sans-serif; }}</style>\n"
        "<script>window.analytics = [];</script>\n</head>\n<body>\n"
        "<nav><a href=\"/\">Home</a> <a href=\"/shop\">Shop</a></nav>\n<main>\n"
        f"{body}\n</main>\n</body>\n</html>\n", encoding="utf-8")


def odt_xml(blocks: list[Block]) -> str:
    """Content blocks as ODF `office:text` children."""
    out = []
    for kind, content in blocks:
        if kind in ("h1", "h2"):
            out.append(f'<text:h text:outline-level="{kind[1]}">{escape(str(content))}</text:h>')
        elif kind == "p":
            out.append(f"<text:p>{escape(str(content))}</text:p>")
        elif kind == "list":
            out.append("<text:list>" + "".join(
                f"<text:list-item><text:p>{escape(str(i))}</text:p></text:list-item>"
                for i in content) + "</text:list>")
        else:
            rows = "".join("<table:table-row>" + "".join(
                f"<table:table-cell><text:p>{escape(v)}</text:p></table:table-cell>" for v in row)
                + '<table:table-cell table:number-columns-repeated="1000"/></table:table-row>'
                for row in content if isinstance(row, list))
            out.append(f'<table:table table:name="Actions">{rows}</table:table>')
    return "".join(out)


def make_odt(path: Path) -> None:
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"')
    pages = "<text:soft-page-break/>".join(odt_xml(page) for page in MINUTES)
    content = (f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {ns} '
               f'office:version="1.3"><office:body><office:text>{pages}'
               "</office:text></office:body></office:document-content>\n")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type='
                '"application/vnd.oasis.opendocument.text"/><manifest:file-entry '
                'manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    path.write_bytes(fixed_zip(buffer.getvalue()))


def make_eml(path: Path) -> list[str]:
    message = EmailMessage()
    message["From"] = "Dana Whitfield <dana@northwind.example>"
    message["To"] = "Store managers <stores@northwind.example>"
    message["Subject"] = "Leeds centre starts shipping on 14 April"
    message["Date"] = "Fri, 04 Apr 2025 16:20:00 +0100"
    message["Message-ID"] = "<leeds-shipping-2025@northwind.example>"
    message.set_content(MAIL_BODY + "\n")
    html = "".join(f"<p>{escape(p)}</p>" for p in MAIL_BODY.split("\n\n"))
    message.add_alternative(f"<html><body>{html}</body></html>\n", subtype="html")
    message.add_attachment(b"Store,Orders\nLeeds,0\n", maintype="text", subtype="csv",
                           filename="launch-orders.csv")
    message.set_boundary("lectern-sample-mixed")
    message.get_payload(0).set_boundary("lectern-sample-alternative")
    path.write_bytes(message.as_bytes())
    return [message["Subject"], *(f"{name}: {message[name]}" for name in ("From", "To", "Date")),
            *(line for line in MAIL_BODY.splitlines() if line), "Attachments: launch-orders.csv"]


def main() -> None:
    """Regenerate every structured sample and its expected text."""
    OUT.mkdir(exist_ok=True)
    make_docx(OUT / "memo.docx")
    write_text(OUT / "memo.txt", [block_lines(page) for page in MEMO])
    write_text(OUT / "sales.txt", make_xlsx(OUT / "sales.xlsx"))
    write_text(OUT / "briefing.txt", make_pptx(OUT / "briefing.pptx"))
    make_html(OUT / "faq.html")
    write_text(OUT / "faq.txt", [block_lines(FAQ)])
    make_odt(OUT / "minutes.odt")
    write_text(OUT / "minutes.txt", [block_lines(page) for page in MINUTES])
    write_text(OUT / "shipping-update.txt", [make_eml(OUT / "shipping-update.eml")])
    from office_image_samples import make_image_samples  # imports this module's helpers

    make_image_samples(OUT)
    for name in ("memo.docx", "sales.xlsx", "briefing.pptx", "faq.html", "minutes.odt",
                 "shipping-update.eml", "notice.docx", "returns.pptx"):
        print(f"{(OUT / name).stat().st_size:>9,d}  {name}")


if __name__ == "__main__":
    main()
