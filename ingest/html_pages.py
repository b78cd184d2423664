"""HTML → Markdown (one page), with BeautifulSoup and markdownify, as markitdown does it.

A web page has no pages, so its text is page 1. Headings `<h1>`..`<h6>` become `#` lines,
tables Markdown tables (the first row the header when none is marked), lists `- ` items;
links and images keep only their text. Scripts, styles, forms' hidden parts and the like are
dropped before conversion, as are `<nav>` menus, which repeat on every page of a site. When
the body has no `<h1>`, the `<title>` stands in as the heading. The charset is taken from the
bytes (BOM, `<meta charset>`), so a Windows-1252 page reads as well as a UTF-8 one.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from markdownify import MarkdownConverter

_DROPPED = ("script", "style", "noscript", "template", "iframe", "svg", "canvas", "nav",
            "form", "button", "select", "object", "embed")
_BLANK_RUN = re.compile(r"\n{3,}")
_CONVERTER = MarkdownConverter(heading_style="ATX", bullets="-", strip=["a", "img"],
                               escape_underscores=False, escape_asterisks=False,
                               escape_misc=False, table_infer_header=True)


def html_pages(data: bytes | str) -> list[str]:
    """The Markdown text of an HTML document, as a single page."""
    soup = BeautifulSoup(data, "html.parser")
    return [html_markdown(soup)]


def html_markdown(soup: BeautifulSoup) -> str:
    """Markdown of a parsed HTML document's body (see the module docstring)."""
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag is not None else ""
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    head = soup.find("head")
    if head is not None:
        head.decompose()
    body = soup.find("body") or soup
    text = _CONVERTER.convert_soup(body)
    text = _BLANK_RUN.sub("\n\n", "\n".join(line.rstrip() for line in text.splitlines()))
    text = text.strip()
    if title and body.find("h1") is None:
        text = f"# {title}\n\n{text}" if text else f"# {title}"
    return text
