"""The Debian packages behind the programs ingestion runs (LibreOffice, Tesseract) and the commands that
install them: one place for the parsers' refusals and `rag doctor` (scripts/system-deps.sh installs the same)."""

from __future__ import annotations

LIBREOFFICE = "apt-get install libreoffice-writer-nogui libreoffice-impress-nogui libreoffice-calc-nogui"
TESSERACT = "apt-get install tesseract-ocr tesseract-ocr-eng"


def ocr_languages(languages: list[str]) -> str:
    """The command that installs these Tesseract languages."""
    return "apt-get install " + " ".join(f"tesseract-ocr-{lang}" for lang in languages)
