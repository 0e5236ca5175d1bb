"""The generator measured on held-out questions, with and without its adapter, through the real answerer.

Each held-out question is asked twice: as it is (answerable: its chunk is in the collection) and with its
chunk's whole document left out of retrieval (unanswerable from what the model is shown, though the sources
are on the same subject). Per question, "correct" is what a user would call right:

- answerable: an answer (no abstention) whose every sentence the judge verifies and whose citations include
  the question's chunk;
- unanswerable: the product's abstention.

The grounded-answer score is the mean of the two halves' correct shares (so abstaining on everything scores
0.5, whatever the mix), beside citation validity, verified share of sentences, abstention, answer F1 against
the chunk's answer, and time per answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evals.answers_eval import EvalQuestion, evaluate_answers
from evals.tuning.examples import Example
from rag.answer.choice import build_answerer
from rag.judges.choice import build_judge
from rag.retrieval.hybrid import Filters, Hit


@dataclass
class WithoutDocuments:
    """A retriever that leaves out, for a given question, the hits of one document."""

    retriever: object
    excluded: dict[str, int] = field(default_factory=dict)  # question -> document id

    @property
    def settings(self):
        return self.retriever.settings

    def retrieve(self, query: str, k: int | None = None, filters: Filters | None = None,
                 method: str = "hybrid") -> list[Hit]:
        document = self.excluded.get(query)
        if document is None:
            return self.retriever.retrieve(query, k=k, filters=filters, method=method)
        k = k or self.retriever.settings.k
        hits = self.retriever.retrieve(query, k=2 * k, filters=filters, method=method)
        return [h for h in hits if h.document_id != document][:k]


def measure(workspace, collection: str, generator, held_out: list[Example], items: list[dict],
            progress=None) -> dict:
    """The summary of `generator` on the held-out questions; their rows are appended to `items`."""
    retriever = WithoutDocuments(workspace.retriever(collection))
    answerer = build_answerer(workspace.settings, retriever, workspace.embedder, None, generator)
    judge = build_judge("alignment", workspace.embedder)
    answerable = [EvalQuestion(f"{e.chunk_id}", e.question, [e.answer] if e.answer else [], True,
                               [{"chunk_id": e.chunk_id}]) for e in held_out]
    unanswerable = [EvalQuestion(f"{e.chunk_id}-without-document", e.question, [], False) for e in held_out]
    _, rows = evaluate_answers(answerer, judge, answerable, progress)
    retriever.excluded = {e.question: e.document_id for e in held_out}
    _, rows_without = evaluate_answers(answerer, judge, unanswerable, progress)
    for row in rows:
        row["correct"] = (not row["abstained"] and row["faithfulness"] == 1.0 and bool(row["gold_found"]))
    for row in rows_without:
        row["correct"] = bool(row["abstained"])
    items += rows + rows_without
    return summary(rows, rows_without)


def _share(rows: list[dict], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return round(sum(values) / len(values), 4) if values else None


def summary(answerable: list[dict], unanswerable: list[dict]) -> dict:
    answered = [r for r in answerable + unanswerable if not r["abstained"]]
    right = _share(answerable, "correct") or 0.0
    abstained = _share(unanswerable, "correct") or 0.0
    seconds = sorted(r["seconds"] for r in answerable + unanswerable)
    return {
        "grounded_score": round((right + abstained) / 2, 4),
        "answerable_correct": right, "unanswerable_abstained": abstained,
        "answered_share": _share([{"a": not r["abstained"]} for r in answerable], "a"),
        "citation_validity": _share(answered, "citations_valid"),
        "verified_share": _share(answered, "faithfulness"),
        "f1": _share(answerable, "f1"),
        "gold_cited": _share([r for r in answerable if not r["abstained"]], "gold_found"),
        "seconds_p50": round(seconds[len(seconds) // 2], 2) if seconds else None,
        "n": len(answerable) + len(unanswerable),
    }
