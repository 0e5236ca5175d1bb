"""Text in the pictures of Word and PowerPoint files: a pasted scan, a screenshot of a table, a photographed
whiteboard. Each picture the document shows is OCR'd; its text joins the document (a slide's pictures after the
slide's text, with its page number; a Word document's at its end, under their own heading, in the order they
appear), marked as OCR'd with the engine's confidence. Logos and icons yield little or no text and are left out.

The file is a zip whose relationship files name each part's pictures; they are read with a regular expression
rather than an XML parser, since only the targets are needed and the zip's size was checked before.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath

from ingest.elements import element
from ingest.ocr import ocr_image

PICTURES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}  # not .emf/.wmf: drawings
MAX_PICTURES = 40
MIN_BYTES = 2_000  # an icon or a bullet
MIN_SIDE = 48  # pixels
# A logo or a photo gives a few words or low-confidence noise; a screenshot or a scan gives lines of text.
MIN_CHARS = 20
MIN_CONFIDENCE = 50
HEADING = "Text in pictures (read by OCR)"
_SLIDE = re.compile(r"^ppt/slides/slide(\d+)\.xml$")
_RELATION = re.compile(r"<Relationship\b[^>]*>")
_ATTRIBUTE = re.compile(r'\b(Id|Target)="([^"]*)"')
_EMBED = re.compile(r'r:(?:embed|link|id)="([^"]+)"')


def pictures(path, kind: str) -> list[tuple[int | None, str]]:
    """(slide number or None, zip member) of each picture a .docx or .pptx file shows, in reading order."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        return _slides(archive, names) if kind == ".pptx" else _document(archive, names)


def picture_elements(path, kind: str, placed: list[tuple[int | None, str]], languages: str,
                     progress=lambda: None) -> tuple[list, list]:
    """(elements of the text of the `placed` pictures, notes) for a .docx or .pptx file."""
    with zipfile.ZipFile(path) as archive:
        elements, notes, read = [], [], 0
        for page, name in placed[:MAX_PICTURES]:
            found = _ocr(archive, name, languages, page)
            progress()
            if sum(len(e["text"]) for e in found) >= MIN_CHARS and found[0]["ocr"] >= MIN_CONFIDENCE:
                elements += found
                read += 1
    if len(placed) > MAX_PICTURES:
        notes.append(f"only the first {MAX_PICTURES} of its {len(placed)} pictures were read by OCR")
    if read:
        notes.append(f"text of {read} picture(s) read by OCR")
        if kind != ".pptx":
            elements.insert(0, element(HEADING, "Title"))
    return elements, notes


def _ocr(archive: zipfile.ZipFile, name: str, languages: str, page: int | None) -> list[dict]:
    from PIL import Image

    info = archive.getinfo(name)
    if not _is_picture(name) or info.file_size < MIN_BYTES:
        return []
    try:
        with Image.open(io.BytesIO(archive.read(name))) as image:
            if min(image.size) < MIN_SIDE:
                return []
            image.load()
            return ocr_image(image, page, languages)
    except (OSError, ValueError, Image.DecompressionBombError):
        return []  # a picture that cannot be decoded holds no text we can read


def _targets(archive: zipfile.ZipFile, part: str, names: set[str]) -> dict[str, str]:
    """Relationship id -> the zip member it points to, for one part (e.g. word/document.xml)."""
    folder = PurePosixPath(part).parent
    rels = str(folder / "_rels" / (PurePosixPath(part).name + ".rels"))
    if rels not in names:
        return {}
    found = {}
    for relation in _RELATION.findall(archive.read(rels).decode("utf-8", "replace")):
        attributes = dict(_ATTRIBUTE.findall(relation))
        member = _resolve(folder, attributes.get("Target", ""))
        if "Id" in attributes and member in names:
            found[attributes["Id"]] = member
    return found


def _resolve(folder: PurePosixPath, target: str) -> str:
    parts: list[str] = [] if target.startswith("/") else list(folder.parts)
    for piece in target.lstrip("/").split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _is_picture(member: str) -> bool:
    return PurePosixPath(member).suffix.lower() in PICTURES


def _in_order(archive: zipfile.ZipFile, part: str, names: set[str], keep=_is_picture) -> list[str]:
    """The members a part refers to that `keep` accepts (its pictures), in the order it refers to them, once each."""
    targets = _targets(archive, part, names)
    seen: list[str] = []
    for rid in _EMBED.findall(archive.read(part).decode("utf-8", "replace")):
        member = targets.get(rid)
        if member and member not in seen and keep(member):
            seen.append(member)
    return seen


def _document(archive: zipfile.ZipFile, names: set[str]) -> list[tuple[int | None, str]]:
    part = "word/document.xml"
    return [(None, name) for name in _in_order(archive, part, names)] if part in names else []


def _slides(archive: zipfile.ZipFile, names: set[str]) -> list[tuple[int | None, str]]:
    """Each slide's pictures with the slide's number in the presentation's order (not its file name's)."""
    part = "ppt/presentation.xml"
    if part not in names:
        return []
    slides = _in_order(archive, part, names, keep=lambda member: bool(_SLIDE.match(member)))
    return [(number, picture) for number, slide in enumerate(slides, 1)
            for picture in _in_order(archive, slide, names)]
