"""Answers end to end on an evaluation set: faithfulness, citations, abstention, reference answers, cost.

The evaluation-set format is JSONL, one question per line:

    {"id": "q1", "question": "How many days of leave?", "answers": ["27 days"], "answerable": true,
     "gold": [{"document": "handbook.docx"}], "metadata": {"topic": "HR"}}

Only `question` is required. `answers` (reference answers) enables exact match, F1 and contains-gold;
`answerable: false` marks a question the documents do not answer (abstention metrics); `gold` lists the
documents (file name or source; optionally `chunk_id`) that hold the answer (retrieval hit and recall).
A SQuAD JSON file is read as such a set.

Faithfulness of an answer is its supported share of sentences (each judged against the sources it cites).
Citation recall is the share of sentences whose citations support them, citation precision the share of
(sentence, citation) pairs where that citation alone supports the sentence (as in ALCE).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evals.answer_metrics import contains_gold, exact_match, f1, strip_citations
from rag.answer.contract import Answer, Answerer
from rag.answer.generative import INVALID_CITATIONS
from rag.judges.alignment import Judge
from rag.sources import source_file


@dataclass
class EvalQuestion:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    answerable: bool | None = None
    gold: list[dict] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


def load_questions(path: Path) -> list[EvalQuestion]:
    if path.suffix == ".json":
        from evals.squad import load_squad

        return [EvalQuestion(q.id, q.question, q.answers, q.answerable, [], {"title": q.title})
                for q in load_squad(path).questions]
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(EvalQuestion(str(row.get("id", number)), row["question"], list(row.get("answers", [])),
                                          row.get("answerable"), list(row.get("gold", [])), row.get("metadata", {})))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not an evaluation question ({exc}); each line needs at least "
                             "'question'") from exc
    if not questions:
        raise ValueError(f"{path}: no questions found")
    return questions


def citation_scores(answer: Answer, judge: Judge) -> tuple[float | None, float | None]:
    """(recall, precision) of the answer's citations; None when the answer has no cited sentences."""
    if answer.abstained or not answer.sentences:
        return None, None
    texts = {c.number: c.text for c in answer.citations}
    recall = statistics.fmean(float(s.supported) for s in answer.sentences)
    pairs = [(s.text, n) for s in answer.sentences for n in s.cited if n in texts]
    precision = statistics.fmean(float(judge.judge(text, texts[n]).supported) for text, n in pairs) if pairs else 0.0
    return recall, precision


def _gold_found(question: EvalQuestion, answer: Answer) -> float | None:
    if not question.gold:
        return None
    shown = answer.citations or answer.closest
    names = {source_file(c.document).name for c in shown} | {c.document for c in shown}
    chunks = {c.chunk_id for c in shown}
    found = [g for g in question.gold if g.get("chunk_id") in chunks or g.get("document") in names]
    return len(found) / len(question.gold)


def _citations_valid(answer: Answer) -> bool:
    """Every sentence cites a source, and the model cited no source it was not given."""
    return all(s.cited for s in answer.sentences) and not any(w.startswith(INVALID_CITATIONS)
                                                              for w in answer.warnings)


def evaluate_answers(answerer: Answerer, judge: Judge, questions: list[EvalQuestion],
                     progress: Callable[[int], None] | None = None) -> tuple[dict, list[dict]]:
    """One row per question and their summary. An answer whose sentences are supported but that the model
    judges not to answer its question (`Answer.relevance` under RAG_ANSWER__RELEVANCE_BELOW) counts as a
    failure ("off_question"), not as a faithful answer."""
    below = getattr(getattr(answerer, "settings", None), "relevance_below", 0.5)
    items = []
    for q in questions:
        started = time.perf_counter()
        answer = answerer.answer(q.question)
        seconds = time.perf_counter() - started
        text = "" if answer.abstained else strip_citations(answer.answer)
        recall, precision = citation_scores(answer, judge)
        items.append({
            "id": q.id, "question": q.question, "answer": answer.answer, "abstained": answer.abstained,
            "answerable": q.answerable, "references": q.answers[:3],
            "faithfulness": None if answer.abstained else answer.groundedness,
            "relevance": None if answer.abstained else answer.relevance,
            "off_question": None if answer.abstained or answer.relevance is None else answer.relevance < below,
            "citation_recall": recall, "citation_precision": precision,
            "citations_valid": None if answer.abstained else _citations_valid(answer),
            "unsupported": [{"sentence": s.text, "closest_evidence": s.evidence}
                            for s in answer.sentences if not s.supported],
            "sources": [{"number": c.number, "document": c.document, "page": c.page, "text": c.text[:600]}
                        for c in (answer.citations or answer.closest)[:5]],
            "exact_match": exact_match(text, q.answers) if q.answers else None,
            "f1": f1(text, q.answers) if q.answers else None,
            "contains_gold": contains_gold(text, q.answers) if q.answers else None,
            "gold_found": _gold_found(q, answer),
            "timings": {k: round(v, 4) for k, v in answer.timings.items()}, "seconds": round(seconds, 4),
            "answerer": answer.answerer,
        })
        if progress:
            progress(1)
    return summarize(items), items


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return round(statistics.fmean(values), 4) if values else None


def _percentile(values: list[float], share: float) -> float:
    values = sorted(values)
    return round(1000 * values[min(int(len(values) * share), len(values) - 1)], 1)


def summarize(items: list[dict]) -> dict:
    answered = [i for i in items if not i["abstained"]]
    metrics: dict = {
        "n": len(items), "answered_share": _mean(not i["abstained"] for i in items),
        "faithfulness": _mean(i["faithfulness"] for i in answered),
        "answer_relevance": _mean(i.get("relevance") for i in answered),
        "off_question": sum(bool(i.get("off_question")) for i in answered),
        "grounded_but_off_question": sum(bool(i.get("off_question")) and i["faithfulness"] == 1.0
                                         for i in answered),
        "citation_recall": _mean(i["citation_recall"] for i in answered),
        "citation_precision": _mean(i["citation_precision"] for i in answered),
        "citation_validity": _mean(i.get("citations_valid") for i in answered),
        "unsupported_sentences": sum(len(i["unsupported"]) for i in items),
    }
    for name in ("exact_match", "f1", "contains_gold", "gold_found"):
        if any(i[name] is not None for i in items):
            metrics[name] = _mean(i[name] for i in items if i["answerable"] is not False)
    labelled = [i for i in items if i["answerable"] is not None]
    if any(i["answerable"] is False for i in labelled):
        abstained_right = sum(i["abstained"] and not i["answerable"] for i in labelled)
        abstained = sum(i["abstained"] for i in labelled)
        unanswerable = sum(not i["answerable"] for i in labelled)
        precision = abstained_right / abstained if abstained else 0.0
        recall = abstained_right / unanswerable
        metrics.update(abstention_precision=round(precision, 4), abstention_recall=round(recall, 4),
                       abstention_f1=round(2 * precision * recall / (precision + recall), 4)
                       if precision + recall else 0.0,
                       noans_accuracy=round(recall, 4),
                       hasans_answered=_mean(not i["abstained"] for i in labelled if i["answerable"]))
    stages = sorted({k for i in items for k in i["timings"] if k.endswith("_s")})
    for stage in stages:
        values = [i["timings"][stage] for i in items if stage in i["timings"]]
        metrics[f"{stage[:-2]}_p50_ms"] = _percentile(values, 0.5)
        metrics[f"{stage[:-2]}_p95_ms"] = _percentile(values, 0.95)
    for key in ("tokens_in", "tokens_out"):
        if any(key in i["timings"] for i in items):
            metrics[f"{key}_mean"] = _mean(i["timings"].get(key) for i in items)
    return metrics
