"""The offline answerer: it composes the answer from the best-supported sentences of the retrieved sources
(scored with the embedder and lexical overlap), cites each, verifies each with the judge, and abstains when
the evidence is too weak.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rag.answer.contract import Answer, abstained, citations_for
from rag.answer.evidence import RankedSentence, apply_mode, rank_sentences, verify
from rag.embedder import Embedder
from rag.judges.alignment import Judge
from rag.retrieval.hybrid import Filters, Retriever
from rag.settings import AnswerSettings


class ExtractiveAnswerer:
    name = "extractive"
    model_info = {"answerer": "extractive"}

    def __init__(self, retriever: Retriever, embedder: Embedder, judge: Judge, settings: AnswerSettings):
        self.retriever = retriever
        self.embedder = embedder
        self.judge = judge
        self.settings = settings

    description = ("answerer: extractive (no generation model installed or chosen: `rag models install`, or "
                   "`rag models use FILE.gguf`)")

    def answer(self, question: str, k: int | None = None, filters: Filters | None = None,
               on_text: Callable[[str], None] | None = None) -> Answer:
        answer = self._answer(question, k, filters)
        if on_text is not None:  # composed at once: handed over in one piece
            on_text(answer.answer)
        return answer

    def _answer(self, question: str, k: int | None, filters: Filters | None) -> Answer:
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
            return abstained(question, self.name, timings, citations, round(evidence, 4))
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
