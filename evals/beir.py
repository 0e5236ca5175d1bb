"""BEIR-layout datasets: corpus.jsonl, queries.jsonl and qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class BeirDataset:
    name: str
    corpus: Path
    queries: dict[str, str]   # judged queries only
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str | None = None) -> BeirDataset:
    """Loads a BEIR folder; the split defaults to test, else the only qrels file present."""
    qrels_dir = folder / "qrels"
    files = sorted(qrels_dir.glob("*.tsv"))
    if not files:
        raise FileNotFoundError(f"{qrels_dir} has no qrels/*.tsv file")
    chosen = qrels_dir / f"{split}.tsv" if split else (qrels_dir / "test.tsv" if (qrels_dir / "test.tsv").exists()
                                                       else files[0])
    if not chosen.exists():
        raise FileNotFoundError(f"{chosen} not found (splits here: {', '.join(f.stem for f in files)})")
    qrels: dict[str, dict[str, int]] = {}
    with open(chosen, encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["_id"] in qrels:
                queries[row["_id"]] = row["text"]
    return BeirDataset(folder.name, folder / "corpus.jsonl", queries, qrels)
