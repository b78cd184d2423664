"""EML (an RFC 5322 message) → one page in Markdown, with the standard library's `email`.

The subject is the page's heading and the sender, recipients and date follow as lines (they
are what a question about a mail names: "what did Dana send on 3 March?"); then the body, its
plain-text part when the mail has one, else its HTML part converted like an HTML upload.
Attachments are listed by name, not read. (`sniff` recognises a message by its header block.)
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from bs4 import BeautifulSoup

from ingest.html_pages import html_markdown

_SHOWN = ("From", "To", "Cc", "Date")


def eml_pages(data: bytes) -> list[str]:
    """The Markdown text of an e-mail message, as a single page."""
    message = BytesParser(policy=policy.default).parsebytes(data)
    if not isinstance(message, EmailMessage):  # what policy.default always builds
        raise TypeError("the e-mail parser returned no EmailMessage")
    blocks: list[str] = []
    subject = " ".join(str(message.get("Subject", "")).split())
    if subject:
        blocks.append(f"# {subject}")
    headers = [f"{name}: {' '.join(str(message[name]).split())}"
               for name in _SHOWN if message.get(name)]
    if headers:
        blocks.append("\n".join(headers))
    body = _body(message)
    if body:
        blocks.append(body)
    attachments = [part.get_filename() or "unnamed" for part in message.iter_attachments()]
    if attachments:
        blocks.append("Attachments: " + ", ".join(attachments))
    return ["\n\n".join(blocks)]


def _body(message: EmailMessage) -> str:
    """The plain-text body, or the HTML body as Markdown; "" when the mail has neither."""
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    content = part.get_content()
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_markdown(BeautifulSoup(content, "html.parser"))
    return content.replace("\r\n", "\n").strip()
