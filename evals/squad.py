"""SQuAD JSON (v1.1 and v2.0): questions with reference answers, and its paragraphs as a retrieval corpus."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class SquadQuestion:
    id: str
    question: str
    answers: list[str]
    answerable: bool
    paragraph_id: str
    title: str


@dataclass
class SquadDataset:
    version: str
    paragraphs: dict[str, tuple[str, str]]  # id -> (title, context)
    questions: list[SquadQuestion]


def load_squad(path: Path) -> SquadDataset:
    raw = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: dict[str, tuple[str, str]] = {}
    questions: list[SquadQuestion] = []
    for a, article in enumerate(raw["data"]):
        title = article.get("title", f"article {a}").replace("_", " ")
        for p, paragraph in enumerate(article["paragraphs"]):
            pid = f"a{a}p{p}"
            paragraphs[pid] = (title, paragraph["context"])
            for qa in paragraph["qas"]:
                impossible = bool(qa.get("is_impossible", False))
                questions.append(SquadQuestion(qa["id"], qa["question"].strip(),
                                               [x["text"] for x in qa.get("answers", [])], not impossible,
                                               pid, title))
    return SquadDataset(str(raw.get("version", "")), paragraphs, questions)


def write_squad_as_beir(path: Path, datasets_dir: Path, limit: int | None = None) -> Path:
    """A BEIR folder (paragraphs as corpus; each answerable question judged against its paragraph).

    Written once under datasets_dir, named by the file's content hash, so the corpus is ingested once.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    folder = datasets_dir / f"squad-{path.stem}-{digest}"
    if not (folder / "qrels" / "test.tsv").exists():
        data = load_squad(path)
        (folder / "qrels").mkdir(parents=True, exist_ok=True)
        with open(folder / "corpus.jsonl", "w", encoding="utf-8") as handle:
            for pid, (title, context) in data.paragraphs.items():
                handle.write(json.dumps({"_id": pid, "title": title, "text": context}) + "\n")
        answerable = [q for q in data.questions if q.answerable]
        with open(folder / "queries.jsonl", "w", encoding="utf-8") as handle:
            for q in answerable:
                handle.write(json.dumps({"_id": q.id, "text": q.question}) + "\n")
        with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as handle:
            handle.write("query-id\tcorpus-id\tscore\n")
            handle.writelines(f"{q.id}\t{q.paragraph_id}\t1\n" for q in answerable)
    return folder
