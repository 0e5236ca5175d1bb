"""Which files we parse, and what a file's content really is (detected from its bytes, whatever its name)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ingest.encodings import detect_encoding

TEXT_TYPES = {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".xhtml", ".csv", ".tsv", ".eml", ".rtf",
              ".xml", ".rst", ".org"}
JSON_TYPES = {".json"}
ZIP_TYPES = {".docx", ".pptx", ".xlsx", ".epub", ".odt", ".ods", ".odp"}
OLE_TYPES = {".msg", ".doc", ".xls", ".ppt"}
PDF_TYPES = {".pdf"}
IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".heic", ".heif"}
JSONL_TYPES = {".jsonl", ".ndjson"}
CODE_LANGUAGES = {
    ".py": "python", ".pyi": "python", ".go": "go", ".js": "javascript", ".mjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".java": "java", ".kt": "kotlin", ".scala": "scala", ".c": "c",
    ".h": "c", ".cc": "c++", ".cpp": "c++", ".hpp": "c++", ".cs": "c#", ".rs": "rust", ".rb": "ruby",
    ".php": "php", ".swift": "swift", ".lua": "lua", ".pl": "perl", ".r": "r", ".sql": "sql", ".sh": "shell",
    ".bash": "shell", ".zsh": "shell", ".ps1": "powershell", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml",
    ".ini": "ini", ".cfg": "ini", ".conf": "config", ".properties": "properties", ".gradle": "gradle",
    ".tf": "terraform", ".proto": "protobuf", ".graphql": "graphql", ".css": "css", ".scss": "scss",
    ".vue": "vue", ".mk": "make",
}
# Read as text in some encoding (RTF is ASCII markup that declares its own code page).
TEXT_KINDS = (TEXT_TYPES - {".rtf"}) | JSON_TYPES | JSONL_TYPES | set(CODE_LANGUAGES)
DOCUMENT_TYPES = TEXT_TYPES | JSON_TYPES | ZIP_TYPES | OLE_TYPES | PDF_TYPES | IMAGE_TYPES | JSONL_TYPES


def supported(code_files: bool = True) -> set[str]:
    return DOCUMENT_TYPES | (set(CODE_LANGUAGES) if code_files else set())


class ContentRefused(Exception):
    """The content is nothing we can read; the message is the reason shown to the user."""


_MAGIC = [
    (b"%PDF-", "PDF"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2 (old Office / Outlook) file"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"\x89PNG", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF8", ".gif"),
    (b"II*\x00", ".tiff"),
    (b"MM\x00*", ".tiff"),
    (b"BM", ".bmp"),
    (b"\x1f\x8b", "gzip archive"),
    (b"{\\rtf", "RTF"),
]
_ZIP_MEMBERS = [("word/document.xml", ".docx"), ("ppt/presentation.xml", ".pptx"), ("xl/workbook.xml", ".xlsx")]
_ZIP_MIMETYPES = {"application/vnd.oasis.opendocument.text": ".odt", "application/epub+zip": ".epub",
                  "application/vnd.oasis.opendocument.spreadsheet": ".ods",
                  "application/vnd.oasis.opendocument.presentation": ".odp"}
_OLE_STREAMS = [("WordDocument", ".doc"), ("PowerPoint Document", ".ppt"), ("Workbook", ".xls"), ("Book", ".xls")]


def _image_kind(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
        return ".heic"
    for magic, name in _MAGIC:
        if name.startswith(".") and head.startswith(magic):
            return name
    return None


def sniff(head: bytes) -> str:
    """A short description of what the first bytes of a file are ("text" for text in any encoding)."""
    image = _image_kind(head)
    if image and not (image == ".bmp" and detect_encoding(head) is not None):  # "BM..." can start a text
        return f"{image[1:].upper()} image"
    for magic, name in _MAGIC:
        if not name.startswith(".") and (head.startswith(magic) or (name == "PDF" and magic in head[:1024])):
            return name
    return "text" if detect_encoding(head) is not None else "binary data"


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise ContentRefused(f"the file is damaged (broken ZIP container: {exc})") from exc
    for member, kind in _ZIP_MEMBERS:
        if member in names:
            return kind
    if mimetype in _ZIP_MIMETYPES:
        return _ZIP_MIMETYPES[mimetype]
    raise ContentRefused("it is a ZIP archive, not a document (unpack it and ingest the files inside)")


def _ole_kind(path: Path) -> str:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir()}
    except OSError as exc:
        raise ContentRefused(f"the file is damaged (broken OLE2 container: {exc})") from exc
    if "EncryptedPackage" in streams:
        raise ContentRefused("the Office file is password protected; save an unprotected copy and ingest that")
    for stream, kind in _OLE_STREAMS:
        if stream in streams:
            return kind
    if any(s.startswith("__substg1.0_") for s in streams):
        return ".msg"
    raise ContentRefused("it is an OLE2 file of a kind we cannot read (not a Word, PowerPoint, Excel or Outlook file)")


def content_kind(path: Path, head: bytes) -> str:
    """The extension to parse the file as, from its content: the file's own when they agree, the content's
    (a .docx named .doc is read as .docx) when they differ; ContentRefused when the content is unreadable."""
    ext = path.suffix.lower()
    found = sniff(head)
    if found == "PDF":
        return ".pdf"
    if found == "ZIP archive":
        return _zip_kind(path)
    if found.startswith("OLE2"):
        return _ole_kind(path)
    if found == "RTF":
        return ".rtf"
    if found.endswith(" image"):
        return ext if ext in IMAGE_TYPES and _image_kind(head) else "." + found.split()[0].lower()
    if found == "text":
        if ext in TEXT_KINDS:
            return ext
        start = head[:2048].decode(detect_encoding(head) or "utf-8", "replace").lstrip().lower()
        return ".html" if start.startswith(("<!doctype html", "<html")) else ".txt"
    raise ContentRefused(f"the content is not a valid {ext[1:].upper() or 'document'} file (it looks like {found})")


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
