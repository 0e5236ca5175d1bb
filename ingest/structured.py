"""Files read without unstructured: JSON (a config, an export, an API response) flattened to readable lines,
source code and config files kept as text, and CSV read tolerantly when pandas refuses its rows."""

from __future__ import annotations

import csv
import io
import json

from ingest.elements import element

ROWS_PER_ELEMENT = 20  # CSV rows kept together so a chunk holds whole rows under their header
LEAVES_PER_ELEMENT = 40


def json_elements(text: str, title: str) -> list[dict]:
    """Keys and values as "a > b > c: value" lines; each top-level entry (or list item) under its own heading."""
    data = json.loads(text)
    if not isinstance(data, (dict, list)):
        return [element(str(data))] if str(data).strip() else []
    items = data.items() if isinstance(data, dict) else ((f"item {n}", v) for n, v in enumerate(data, start=1))
    elements = [element(title, "Title", depth=0)]
    for key, value in items:
        lines = [f"{' > '.join(path) or key}: {leaf}" for path, leaf in _leaves(value, [])]
        if not lines:
            continue
        elements.append(element(str(key), "Title", depth=1))
        for start in range(0, len(lines), LEAVES_PER_ELEMENT):
            elements.append(element("\n".join(lines[start:start + LEAVES_PER_ELEMENT])))
    return elements


def _leaves(value, path: list[str]):
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, path + [str(key)])
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for number, child in enumerate(value, start=1):
            yield from _leaves(child, path + [str(number)])
    elif isinstance(value, list):
        if value:
            yield path, ", ".join(str(v) for v in value)
    elif value is not None and str(value).strip():
        yield path, str(value)


def code_elements(text: str, title: str, language: str) -> list[dict]:
    """The file's text in blocks separated by blank lines, under its file name as the heading."""
    elements = [element(f"{title} ({language})", "Title", depth=0)]
    block: list[str] = []
    for line in text.splitlines() + [""]:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            elements.append(element("\n".join(block), "CodeSnippet"))
            block = []
    return elements


def tolerant_csv_elements(text: str, delimiter: str | None = None) -> list[dict]:
    """Rows of any length (the stdlib reader accepts ragged rows), as "column: value" lines under the header."""
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in row)]
    if not rows:
        return []
    header, body = rows[0], rows[1:] or [rows[0]]
    elements = []
    for start in range(0, len(body), ROWS_PER_ELEMENT):
        lines = []
        for row in body[start:start + ROWS_PER_ELEMENT]:
            names = header + [f"column {n}" for n in range(len(header) + 1, len(row) + 1)]
            lines.append("; ".join(f"{name}: {cell}" for name, cell in zip(names, row) if cell.strip()))
        elements.append(element("\n".join(lines), "Table"))
    return elements
