"""Answers held to their sources: citations, per-sentence verification, abstention.

`ExtractiveAnswerer` is the offline default: it composes the answer from the best-supported sentences of the
retrieved sources (scored with the embedder and lexical overlap), cites each, verifies each with the Judge,
and abstains when the evidence is too weak. Generative answerers produce the same `Answer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.embedder import Embedder
from rag.judge import Judge
from rag.retrieval import Filters, Hit, Retriever
from rag.settings import AnswerSettings
from rag.text import content_words, coverage, sentences, stem

ABSTENTION = "The documents don't answer this question."
W_COSINE, W_COVERAGE = 0.6, 0.4  # evidence score of a sentence for a question


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
    # With a generation model's checks (`rag.answer_checks`): the probability that the sources state the answer
    # (asked before generating), and that the answer answers the question (asked after); None when not asked.
    answerable: float | None = None
    relevance: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


def abstained(question: str, answerer: str, timings: dict, closest: list[Citation], evidence: float = 0.0, *,
              warnings: list[str] | None = None, sentences: list[AnswerSentence] | None = None,
              answerable: float | None = None, relevance: float | None = None) -> Answer:
    """The product's abstention, with the closest passages to show instead of an answer."""
    return Answer(question, ABSTENTION, True, 0.0, [], sentences or [], answerer, timings, closest=closest,
                  evidence_score=evidence, warnings=warnings or [], answerable=answerable, relevance=relevance)


class Answerer(Protocol):
    name: str

    @property
    def model_info(self) -> dict:
        """What answered, for reports and runs: {"answerer": name} plus the model file and its SHA-256."""

    def answer(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer: ...


def citations_for(hits: list[Hit]) -> list[Citation]:
    return [Citation(i, h.chunk_id, h.source, h.title, h.page_start, h.text, h.ocr_confidence)
            for i, h in enumerate(hits, 1)]


def verify(answer_sentences: list[tuple[str, list[int]]], sources: dict[int, str], judge: Judge,
           model_verdict: Callable[[str, list[int]], float] | None = None) -> list[AnswerSentence]:
    """Judges each sentence against the sources it cites (the best-supporting one counts). `model_verdict`,
    where given, is the generation model's P(supported) for a sentence and its cited sources, which a
    combined judge weighs in (`CombinedJudge.judge_with`)."""
    checked = []
    for text, cited in answer_sentences:
        if model_verdict is not None and hasattr(judge, "judge_with"):
            p = model_verdict(text, [n for n in cited if n in sources])
            verdicts = [judge.judge_with(text, sources[n], p) for n in cited if n in sources]
        else:
            verdicts = [judge.judge(text, sources[n]) for n in cited if n in sources]
        best = max(verdicts, key=lambda v: v.score, default=None)
        checked.append(AnswerSentence(text, cited, bool(best and best.supported), best.score if best else 0.0,
                                      best.evidence if best else ""))
    return checked


def apply_mode(question: str, checked: list[AnswerSentence], citations: list[Citation], settings: AnswerSettings,
               answerer: str, timings: dict) -> Answer:
    """flag: keep and mark; strip: drop unsupported sentences; abstain: refuse when too few are supported."""
    share = sum(s.supported for s in checked) / len(checked) if checked else 0.0
    kept = [s for s in checked if s.supported] if settings.mode == "strip" else checked
    if not kept or (settings.mode == "abstain" and share < settings.min_supported):
        return Answer(question, ABSTENTION, True, round(share, 4), [], checked, answerer, timings,
                      closest=citations)
    used = sorted({n for s in kept for n in s.cited})
    text = " ".join(f"{s.text} [{']['.join(map(str, s.cited))}]" for s in kept)
    return Answer(question, text, False, round(share, 4), [c for c in citations if c.number in used], kept,
                  answerer, timings)


@dataclass
class RankedSentence:
    score: float  # evidence that this sentence answers the question (cosine and word coverage)
    text: str
    number: int  # 1-based position of its hit in the retrieved list
    start: int  # character offsets in that hit's text
    end: int
    vector: np.ndarray = field(repr=False)


def rank_sentences(question: str, hits: list[Hit], embedder: Embedder) -> list[RankedSentence]:
    """The sentences of the hits that could answer, best first. The best score is the evidence strength that
    abstention compares with `abstain_below`."""
    asked = {stem(w) for w in content_words(question)}
    pieces = [(number, s, e) for number, hit in enumerate(hits, 1) for s, e in sentences(hit.text)
              if _can_answer(hit.text[s:e], asked)]
    if not pieces:
        return []
    texts = [hits[n - 1].text[s:e] for n, s, e in pieces]
    vectors = embedder.embed([question] + texts)
    cosines = vectors[1:] @ vectors[0]
    scored = [RankedSentence(W_COSINE * float(c) + W_COVERAGE * coverage(question, text), text, n, s, e, v)
              for (n, s, e), text, c, v in zip(pieces, texts, cosines, vectors[1:])]
    return sorted(scored, key=lambda r: -r.score)


class ExtractiveAnswerer:
    name = "extractive"
    model_info = {"answerer": "extractive"}

    def __init__(self, retriever: Retriever, embedder: Embedder, judge: Judge, settings: AnswerSettings):
        self.retriever = retriever
        self.embedder = embedder
        self.judge = judge
        self.settings = settings

    def answer(self, question: str, k: int | None = None, filters: Filters | None = None) -> Answer:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        hits = self.retriever.retrieve(question, k=k, filters=filters)
        timings["retrieve_s"] = time.perf_counter() - started
        citations = citations_for(hits)
        t = time.perf_counter()
        candidates = rank_sentences(question, hits, self.embedder)
        timings["select_s"] = time.perf_counter() - t
        evidence = candidates[0].score if candidates else 0.0
        if evidence < self.settings.abstain_below:
            timings["total_s"] = time.perf_counter() - started
            return Answer(question, ABSTENTION, True, 0.0, [], [], self.name, timings, closest=citations,
                          evidence_score=round(evidence, 4))
        chosen = self._choose(candidates)
        t = time.perf_counter()
        checked = verify([(c.text, [c.number]) for c in chosen], {c.number: c.text for c in citations},
                         self.judge)
        timings["verify_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - started
        answer = apply_mode(question, checked, citations, self.settings, self.name, timings)
        answer.evidence_score = round(evidence, 4)
        return answer

    def _choose(self, candidates):
        """The best sentence and those close to it in score, without near-duplicates, in source order."""
        best = candidates[0].score
        chosen: list[RankedSentence] = []
        for candidate in candidates:
            if len(chosen) == self.settings.max_sentences or candidate.score < best - 0.1:
                break
            if all(float(candidate.vector @ c.vector) < 0.9 for c in chosen):
                chosen.append(candidate)
        return sorted(chosen, key=lambda c: c.number)


def _can_answer(sentence: str, asked: set[str]) -> bool:
    """A heading, or a sentence that only repeats the question's words, cannot answer it."""
    words = sentence.split()
    if len(words) < 4 or (len(words) < 8 and sentence.rstrip()[-1:] not in ".!?"):
        return False
    return bool({stem(w) for w in content_words(sentence)} - asked)


def describe_source(citation: Citation) -> str:
    name = citation.title or Path(citation.document.split("#")[0]).name
    page = f", p. {citation.page}" if citation.page else ""
    ocr = f", OCR confidence {citation.ocr_confidence:.0f}" if citation.ocr_confidence is not None else ""
    return f"{name}{page} ({Path(citation.document.split('#')[0]).name}{ocr})"
