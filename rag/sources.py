"""A document's source: the path of its file, or `PATH#ID` for one record of a dataset file (JSONL), in one
place. A '#' in an ordinary file name stays part of the name: only a dataset file's path carries a record."""

from __future__ import annotations

from pathlib import Path

DATASET_SUFFIXES = (".jsonl", ".ndjson")  # the files whose lines are documents (`ingest.jsonl`)


def record_source(path: Path | str, record: str) -> str:
    return f"{path}#{record}"


def split_source(source: str) -> tuple[str, str | None]:
    """(the file's path, the record id or None)."""
    path, sep, record = source.rpartition("#")
    if sep and path.lower().endswith(DATASET_SUFFIXES):
        return path, record
    return source, None


def source_file(source: str) -> Path:
    """The file a source was read from (the dataset file, for a record)."""
    return Path(split_source(source)[0])


def source_key(source: str) -> str:
    """The record id of a dataset record (how evaluation sets name documents), else the source itself."""
    path, record = split_source(source)
    return record if record is not None else path
