"""The element every parser yields, in reading order: what the chunker and the pipeline read."""

from __future__ import annotations


def element(text: str, category: str = "NarrativeText", *, depth: int | None = None, page: int | None = None,
            ocr: float | None = None) -> dict:
    """{text, category, page, depth, html, filetype} and, for OCR'd text, "ocr": its page's mean confidence."""
    made = {"text": text, "category": category, "page": page, "depth": depth, "html": None, "filetype": None}
    if ocr is not None:
        made["ocr"] = ocr
    return made
