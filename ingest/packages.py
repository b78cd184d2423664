"""ZIP containers (DOCX, XLSX, PPTX, ODT): which kind one is, and opening it within bounds.

An Office file is a ZIP archive; what it holds is named inside it, not by its file name: OOXML
lists its main part's content type in `[Content_Types].xml`, ODF stores its media type in a
`mimetype` member. Both are read from the central directory and one small member, so sniffing
costs no decompression of the document itself.

A ZIP can expand a few kilobytes into gigabytes. Before any library reads a member, the
declared sizes of all members are summed against `Limits.max_unpacked_bytes` (and their number
against `Limits.max_archive_members`); `zipfile` never yields more than a member's declared
size (it stops there and fails the CRC check), so the declared sum bounds what is decompressed.
"""

from __future__ import annotations

import io
import zipfile

from ingest.errors import ArchiveTooLarge, CorruptDocument, UnsupportedFileType
from ingest.types import Limits, StructuredKind

ZIP_MAGIC = b"PK\x03\x04"
_OOXML_MAIN: dict[bytes, StructuredKind] = {
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
}
_ODF_MIMETYPES: dict[bytes, StructuredKind] = {b"application/vnd.oasis.opendocument.text": "odt"}
_OFFICE_PART_NAMES = (b"[Content_Types].xml", b"_rels/.rels", b"word/document.xml",
                      b"xl/workbook.xml", b"ppt/presentation.xml", b"docProps/")
_MAX_MANIFEST_BYTES = 1024 * 1024


def package_kind(data: bytes, limits: Limits) -> StructuredKind:
    """The kind of ZIP container `data` is (it starts with the ZIP magic).

    Raises UnsupportedFileType for a ZIP that is no document lectern reads (a plain archive, a
    spreadsheet from another suite, a macro-enabled Office file), CorruptDocument for a broken
    one whose first member says it is an Office or ODF document, and ArchiveTooLarge.
    """
    archive = open_package(data, limits)
    names = set(archive.namelist())
    if "[Content_Types].xml" in names:
        manifest = _small_member(archive, "[Content_Types].xml")
        for content_type, kind in _OOXML_MAIN.items():
            if content_type in manifest:
                return kind
        raise UnsupportedFileType("this Office document type is not supported",
                                  detected="Office Open XML package of another type")
    if "mimetype" in names:
        mimetype = _small_member(archive, "mimetype").strip()
        if mimetype in _ODF_MIMETYPES:
            return _ODF_MIMETYPES[mimetype]
        detected = f"OpenDocument file ({mimetype.decode('ascii', 'replace')[:80]})"
        raise UnsupportedFileType(f"{detected} files are not supported", detected=detected)
    raise UnsupportedFileType("ZIP archive files are not supported", detected="ZIP archive")


def open_package(data: bytes, limits: Limits) -> zipfile.ZipFile:
    """`data` as a ZipFile whose members together declare at most the unpacked bound.

    Raises ArchiveTooLarge past `max_unpacked_bytes` or `max_archive_members`, CorruptDocument
    when an Office/ODF file's ZIP structure is broken (a truncated upload: its local headers
    still name Office parts, or an ODF `mimetype` first), UnsupportedFileType for other broken
    ZIPs (nothing says they were meant to be a document).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        if _names_office_parts(data):
            raise CorruptDocument("the Office document's ZIP structure is broken",
                                  reason=str(exc)[:300]) from exc
        raise UnsupportedFileType("ZIP archive files are not supported",
                                  detected="ZIP archive") from exc
    unpacked = sum(member.file_size for member in members)
    if len(members) > limits.max_archive_members or unpacked > limits.max_unpacked_bytes:
        raise ArchiveTooLarge("the document's ZIP members expand past the allowed size",
                              unpacked=unpacked, members=len(members),
                              limit=limits.max_unpacked_bytes,
                              member_limit=limits.max_archive_members)
    return archive


def _small_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """A manifest member's bytes (at most 1 MiB), or CorruptDocument when it cannot be read."""
    try:
        if archive.getinfo(name).file_size > _MAX_MANIFEST_BYTES:
            raise CorruptDocument(f"the document's {name} is implausibly large")
        return archive.read(name)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise CorruptDocument(f"the document's {name} cannot be read",
                              reason=str(exc)[:300]) from exc


def _names_office_parts(data: bytes) -> bool:
    """Whether broken ZIP bytes still show an Office or ODF file: a local header naming an OOXML
    part, or the `mimetype` member ODF writers put first."""
    if any(name in data for name in _OFFICE_PART_NAMES):
        return True
    length = int.from_bytes(data[26:28], "little") if len(data) >= 30 else 0
    return data[30:30 + length] == b"mimetype"
