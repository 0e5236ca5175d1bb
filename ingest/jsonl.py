"""JSONL datasets: each line is one document (configurable text, id and title fields)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.encodings import SAMPLE_BYTES, detect_encoding
from rag.settings import IngestSettings
from rag.sources import record_source


@dataclass
class JsonlRecord:
    source: str          # "path#id"
    sha256: str
    elements: list[dict] | None
    error: str | None = None


SHOWN_ERRORS = 5  # line errors quoted in a file's one failure entry


def read_jsonl(path: Path, settings: IngestSettings) -> Iterator[JsonlRecord]:
    with open(path, encoding=_encoding(path), errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            digest = hashlib.sha256(line.encode("utf-8")).hexdigest()
            yield _record(path, number, line, digest, settings)


def _encoding(path: Path) -> str:
    with open(path, "rb") as handle:
        return detect_encoding(handle.read(SAMPLE_BYTES)) or "utf-8"


def is_dataset(path: Path, settings: IngestSettings) -> bool:
    """Whether the file's first record has an id and a text field; other JSON lines are read as JSON text."""
    first = next(read_jsonl(path, settings), None)
    return first is not None and first.error is None


def file_error(errors: list[str], lines: int) -> str:
    """One failure entry for a file's bad lines, quoting the first few."""
    shown = "; ".join(errors[:SHOWN_ERRORS]) + ("; ..." if len(errors) > SHOWN_ERRORS else "")
    return f"{len(errors)} of {lines} lines could not be ingested: {shown}"


def _record(path: Path, number: int, line: str, digest: str, settings: IngestSettings) -> JsonlRecord:
    where = f"{path}#line{number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return JsonlRecord(where, digest, None, f"line {number} is not valid JSON ({exc.msg})")
    if not isinstance(row, dict):
        return JsonlRecord(where, digest, None, f"line {number} is not a JSON object")
    doc_id = next((row[f] for f in settings.jsonl_id_fields if row.get(f) not in (None, "")), None)
    if doc_id is None:
        return JsonlRecord(where, digest, None,
                           f"line {number} has none of the id fields {settings.jsonl_id_fields} "
                           "(RAG_INGEST__JSONL_ID_FIELDS)")
    source = record_source(path, doc_id)
    text = row.get(settings.jsonl_text_field)
    if not isinstance(text, str) or not text.strip():
        return JsonlRecord(source, digest, None,
                           f"line {number} has no text in field {settings.jsonl_text_field!r} "
                           "(RAG_INGEST__JSONL_TEXT_FIELD)")
    elements = []
    title = row.get(settings.jsonl_title_field)
    if isinstance(title, str) and title.strip():
        elements.append({"text": title.strip(), "category": "Title", "depth": 0})
    elements.extend({"text": p.strip(), "category": "NarrativeText"} for p in text.split("\n\n") if p.strip())
    return JsonlRecord(source, digest, elements)
