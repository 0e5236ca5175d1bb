"""The answer contract every answerer keeps: an `Answer` of cited, verified sentences (or an abstention with
the closest passages), its `Citation`s and `AnswerSentence`s, and the `Answerer` protocol. The answerers live
beside it: `rag.answer.extractive` (offline, quotes sentences) and `rag.answer.generative` (a GGUF model);
`rag.answer.choice` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

from rag.retrieval.hybrid import Filters, Hit
from rag.sources import source_file

ABSTENTION = "The documents don't answer this question."


@dataclass
class Citation:
    number: int
    chunk_id: int
    document: str
    title: str | None
    page: int | None
    text: str
    ocr_confidence: float | None = None  # the source was read by OCR: worth checking against the original


@dataclass
class AnswerSentence:
    text: str
    cited: list[int]
    supported: bool
    score: float
    evidence: str  # the supporting span of the cited source


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    groundedness: float
    citations: list[Citation]
    sentences: list[AnswerSentence]
    answerer: str
    timings: dict[str, float] = field(default_factory=dict)
    closest: list[Citation] = field(default_factory=list)  # shown with an abstention
    evidence_score: float = 0.0  # the best sentence's evidence score (what abstention compares)
    warnings: list[str] = field(default_factory=list)  # e.g. citations removed, answer cut at the token limit
    # With a generation model's checks (`rag.answer.checks`): the probability that the sources state the answer
    # (asked before generating), and that the answer answers the question (asked after); None when not asked.
    answerable: float | None = None
    relevance: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


def abstained(question: str, answerer: str, timings: dict, closest: list[Citation], evidence: float = 0.0, *,
              groundedness: float = 0.0, warnings: list[str] | None = None,
              sentences: list[AnswerSentence] | None = None, answerable: float | None = None,
              relevance: float | None = None) -> Answer:
    """The product's abstention (every answerer's), with the closest passages to show instead of an answer."""
    return Answer(question, ABSTENTION, True, groundedness, [], sentences or [], answerer, timings, closest=closest,
                  evidence_score=evidence, warnings=warnings or [], answerable=answerable, relevance=relevance)


class Answerer(Protocol):
    """What every answerer offers: one answer per question, streamed through `on_text` as it is written (an
    answerer that composes its answer at once hands it over in one piece), and what it is."""

    name: str

    @property
    def model_info(self) -> dict:
        """What answered, for reports and runs: {"answerer": name} plus the model file and its SHA-256."""

    @property
    def description(self) -> str:
        """One line saying which answerer this is (shown by the CLI, the app and the API)."""

    def answer(self, question: str, k: int | None = None, filters: Filters | None = None,
               on_text: Callable[[str], None] | None = None) -> Answer: ...


def citations_for(hits: list[Hit]) -> list[Citation]:
    return [Citation(i, h.chunk_id, h.source, h.title, h.page_start, h.text, h.ocr_confidence)
            for i, h in enumerate(hits, 1)]


def describe_source(citation: Citation) -> str:
    file = source_file(citation.document)
    name = citation.title or file.name
    page = f", p. {citation.page}" if citation.page else ""
    ocr = f", OCR confidence {citation.ocr_confidence:.0f}" if citation.ocr_confidence is not None else ""
    return f"{name}{page} ({file.name}{ocr})"
