"""OCR with Tesseract (pytesseract over the Debian tesseract-ocr binary): image files and PDF pages that have
no text layer become paragraphs with their page number and the engine's mean word confidence (0-100)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ingest.elements import element
from rag import system_packages



class OcrUnavailable(Exception):
    """Tesseract or a configured language is missing; the message says what to install."""


def check_languages(languages: list[str]) -> str:
    """The Tesseract language argument ("eng+deu"); OcrUnavailable when the binary or a language is missing."""
    import pytesseract

    if shutil.which("tesseract") is None:
        raise OcrUnavailable(f"OCR needs Tesseract, which is not installed: run `{system_packages.TESSERACT}` "
                             "(or set RAG_INGEST__OCR=false)")
    installed = set(pytesseract.get_languages(config=""))
    missing = [lang for lang in languages if lang not in installed]
    if missing:
        raise OcrUnavailable(f"the OCR language(s) {', '.join(missing)} are not installed: run "
                             f"`{system_packages.ocr_languages(missing)}` or change RAG_INGEST__OCR_LANGUAGES")
    return "+".join(languages)


def ocr_image(image, page: int | None, languages: str) -> list[dict]:
    """Paragraph elements of one page image, each carrying the page's mean word confidence as "ocr"."""
    import pytesseract

    data = pytesseract.image_to_data(image.convert("RGB"), lang=languages, output_type=pytesseract.Output.DICT)
    paragraphs: dict[tuple, list[str]] = {}
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        word = word.strip()
        confidence = float(data["conf"][i])
        if not word or confidence < 0:
            continue
        key = (data["block_num"][i], data["par_num"][i])
        paragraphs.setdefault(key, []).append(word)
        confidences.append(confidence)
    if not confidences:
        return []
    page_confidence = round(sum(confidences) / len(confidences), 1)
    return [element(" ".join(words), page=page, ocr=page_confidence) for words in paragraphs.values()]


def ocr_image_file(path: Path, languages: str, progress=lambda: None) -> list[dict]:
    """Every frame of an image file (a multi-page TIFF has several) as OCR'd pages."""
    from PIL import Image, ImageSequence, UnidentifiedImageError
    from pi_heif import register_heif_opener

    register_heif_opener()  # .heic / .heif photos from phones
    try:
        with Image.open(path) as image:
            elements = []
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                elements += ocr_image(frame, number, languages)
                progress()
            return elements
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"the image cannot be read ({exc})") from exc


def ocr_pdf_pages(path: Path, pages: list[int], languages: str, dpi: int, progress=lambda: None) -> list[dict]:
    """OCR'd elements of the given 1-based PDF pages, rendered with pypdfium2 at dpi."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    try:
        elements = []
        for number in pages:
            bitmap = document[number - 1].render(scale=dpi / 72)
            elements += ocr_image(bitmap.to_pil(), number, languages)
            progress()
        return elements
    finally:
        document.close()
