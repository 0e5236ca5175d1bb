"""Which files we parse, and whether a file's content agrees with its name (detected by content)."""

from __future__ import annotations

import zipfile
from pathlib import Path

# extension -> the container its content must be
TEXT_TYPES = {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".xhtml", ".csv", ".tsv", ".eml", ".rtf",
              ".xml", ".json", ".rst", ".org"}
ZIP_TYPES = {".docx", ".pptx", ".xlsx", ".epub", ".odt"}
OLE_TYPES = {".msg", ".doc", ".xls", ".ppt"}
PDF_TYPES = {".pdf"}
JSONL_TYPES = {".jsonl", ".ndjson"}
SUPPORTED = TEXT_TYPES | ZIP_TYPES | OLE_TYPES | PDF_TYPES | JSONL_TYPES

_MAGIC = [
    (b"%PDF-", "PDF"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2 (old Office / Outlook) file"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"{\\rtf", "RTF"),
]


def sniff(head: bytes) -> str:
    """A short description of what the first bytes of a file are."""
    for magic, name in _MAGIC:
        if head.startswith(magic) or (name == "PDF" and magic in head[:1024]):
            return name
    if b"\x00" in head[:8192]:
        return "binary data"
    try:
        head[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head[:8192]) - 4:  # not just a character cut at the block's end
            try:
                head[:8192].decode("cp1252")
            except UnicodeDecodeError:
                return "binary data"
    return "text"


def content_problem(path: Path, head: bytes) -> str | None:
    """Why this file's content cannot be what its extension says, or None when it can."""
    ext = path.suffix.lower()
    found = sniff(head)
    expected = (
        "PDF" if ext in PDF_TYPES
        else "ZIP archive" if ext in ZIP_TYPES
        else "OLE2 (old Office / Outlook) file" if ext in OLE_TYPES
        else "RTF" if ext == ".rtf"
        else "text" if ext in TEXT_TYPES | JSONL_TYPES
        else None
    )
    if expected is None or found == expected:
        return None
    if expected == "text" and found == "RTF":
        return None
    return f"the content is not a valid {ext[1:].upper()} file (it looks like {found})"


def zip_expansion_problem(path: Path, max_bytes: int) -> str | None:
    """Refuse zip-based documents that would expand past max_bytes (decompression bombs) or are broken."""
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        return f"the file is damaged (broken ZIP container: {exc})"
    if total > max_bytes:
        return (
            f"refused as a possible decompression bomb: it expands to {total / 1e6:.0f} MB "
            f"(limit {max_bytes / 1e6:.0f} MB, set by RAG_INGEST__PARSE_MEMORY_MB)"
        )
    return None
