"""The answerer on SQuAD: EM/F1/contains-gold, and for v2.0 answering vs abstaining on unanswerable questions.

The abstention threshold is calibrated on one half of the questions (alternate ones) and reported on the other.
"""

from __future__ import annotations

import statistics
import time
from typing import TypeVar

from evals.answer_metrics import contains_gold, exact_match, f1, strip_citations
from evals.squad import SquadQuestion
from rag.answer.contract import Answerer

T = TypeVar("T")


def spread(items: list[T], limit: int) -> list[T]:
    """An evenly spaced, deterministic sample of questions or pairs, so that every part of an ordered file (each
    article, each domain) is represented; all of them when limit is 0 or larger."""
    if not limit or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def evaluate_squad(answerer: Answerer, questions: list[SquadQuestion], items: list[dict] | None = None) -> dict:
    """Aggregate metrics; one row per question is appended to `items` when given."""
    rows = []
    for q in questions:
        started = time.perf_counter()
        answer = answerer.answer(q.question)
        rows.append({"q": q, "answer": answer, "seconds": time.perf_counter() - started,
                     "text": "" if answer.abstained else strip_citations(answer.answer)})
    result: dict = {"n": len(rows)}
    answerable = [r for r in rows if r["q"].answerable]
    answered = [r for r in answerable if r["text"]]
    result["exact_match"] = _mean(exact_match(r["text"], r["q"].answers) for r in answerable)
    result["f1"] = _mean(f1(r["text"], r["q"].answers) for r in answerable)
    result["contains_gold"] = _mean(contains_gold(r["text"], r["q"].answers) for r in answerable)
    result["contains_gold_when_answered"] = _mean(contains_gold(r["text"], r["q"].answers) for r in answered)
    result["answered_share"] = _mean(bool(r["text"]) for r in rows)
    if any(not r["q"].answerable for r in rows):
        result.update(_abstention(rows))
    if items is not None:
        items += [{"id": r["q"].id, "question": r["q"].question, "answer": r["answer"].answer,
                   "abstained": r["answer"].abstained, "answerable": r["q"].answerable,
                   "references": r["q"].answers[:3], "exact_match": exact_match(r["text"], r["q"].answers),
                   "f1": f1(r["text"], r["q"].answers), "contains_gold": contains_gold(r["text"], r["q"].answers),
                   "groundedness": r["answer"].groundedness, "answerable_p": r["answer"].answerable,
                   "relevance": r["answer"].relevance, "evidence": r["answer"].evidence_score,
                   "timings": {k: round(v, 4) for k, v in r["answer"].timings.items()},
                   "seconds": round(r["seconds"], 4)} for r in rows]
    seconds = sorted(r["seconds"] for r in rows)
    result["latency_p50_ms"] = round(1000 * seconds[len(seconds) // 2], 1)
    result["latency_p95_ms"] = round(1000 * seconds[int(len(seconds) * 0.95)], 1)
    return result


def _abstention(rows: list[dict]) -> dict:
    """Accuracy on HasAns (answered and gold found) / NoAns (abstained) as answered, plus the evidence threshold
    that maximises accuracy on the even-numbered half, reported on the odd half."""
    def correct(row, threshold=0.0):
        answered = row["answer"].evidence_score >= threshold and bool(row["text"])
        if row["q"].answerable:
            return answered and contains_gold(row["text"], row["q"].answers) > 0
        return not answered

    def accuracy(part, threshold):
        return _mean(correct(r, threshold) for r in part)

    has = [r for r in rows if r["q"].answerable]
    no = [r for r in rows if not r["q"].answerable]
    tune, hold = rows[0::2], rows[1::2]
    grid = [round(0.3 + 0.01 * i, 2) for i in range(50)]
    best = max(grid, key=lambda t: accuracy(tune, t))
    return {
        "hasans_accuracy": accuracy(has, 0.0), "noans_accuracy": accuracy(no, 0.0),
        "overall_accuracy": accuracy(rows, 0.0),
        "calibrated_abstain_below": best, "heldout_accuracy_at_calibrated": accuracy(hold, best),
        "heldout_hasans_accuracy_at_calibrated": accuracy([r for r in hold if r["q"].answerable], best),
        "heldout_noans_accuracy_at_calibrated": accuracy([r for r in hold if not r["q"].answerable], best),
        "abstention_precision": _mean(not r["q"].answerable for r in rows if not r["text"]),
        "abstention_recall": _mean(not r["text"] for r in no),
    }


def _mean(values) -> float:
    values = list(values)
    return round(statistics.fmean(float(v) for v in values), 4) if values else 0.0
