"""A judge that reads: the local model asked whether a source says a claim is true, its verdict scored, not
generated. One forward pass gives P(yes) from the next-token log-probabilities (`Generator.score_next`), so the
verdict is a calibrated number, reproducible, and always parses.

The prompt is the reader prompt that answers use (`rag.answer.reader_prompt`), so the same model checks answers the
way it was measured here. A long source is cut to the sentences most like the claim (with their neighbours, in
document order) under `source_tokens`; the sentences of one claim share that source's evaluated state, so each
further sentence costs only its own tokens.
"""

from __future__ import annotations

import math

import numpy as np

from rag.answer.reader_prompt import YES_NO, reader_prompt, sources_block, supported_task
from rag.generation.generators import Generator
from rag.judges.alignment import Verdict
from rag.text import coverage, sentences

SOURCE_LABEL = "[1] Source"
EPSILON = 1e-6


def p_yes(generator: Generator, block: str, task: str) -> float:
    return generator.score_next(reader_prompt(block, task), YES_NO)["yes"]


def logit(p: float) -> float:
    p = min(max(p, EPSILON), 1 - EPSILON)
    return math.log(p / (1 - p))


class LlmJudge:
    def __init__(self, generator: Generator, embedder=None, source_tokens: int = 512):
        self.generator = generator
        self.embedder = embedder  # picks the sentences of a long source that matter for the claim
        self.source_tokens = source_tokens
        self.name = f"llm:{generator.name}"
        self._fitted: tuple[str, list[tuple[int, int]], np.ndarray | None] | None = None

    def judge(self, claim: str, source: str) -> Verdict:
        return self.judge_text(claim, source)

    def judge_text(self, text: str, source: str) -> Verdict:
        """A text of several sentences, each scored against the same cut of the source (chosen for the whole
        text), so the source is evaluated once and each further sentence costs only its own tokens. The text
        is as supported as its least supported sentence."""
        focused, evidence = self.focus(text, source)
        block = sources_block([f"{SOURCE_LABEL}\n{focused}"])
        parts = [text[s:e] for s, e in sentences(text)] or [text]
        scored = [(round(p_yes(self.generator, block, supported_task(part, [1])), 4), part) for part in parts]
        score, weakest = min(scored)
        if len(parts) > 1:  # the evidence shown is the source sentence nearest the weakest one
            evidence = self.focus(weakest, source)[1]
        start = source.find(evidence) if evidence else -1
        return Verdict(score >= 0.5, score, evidence if start >= 0 else "", max(start, 0),
                       max(start, 0) + len(evidence) if start >= 0 else 0,
                       f"model says yes with probability {score:.2f}")

    def focus(self, claim: str, source: str) -> tuple[str, str]:
        """The source (whole when it fits, else its sentences most like the claim with their neighbours, in
        document order) and the single most similar sentence."""
        spans = sentences(source) or [(0, len(source))]
        scores = self._similarity(claim, source, spans)
        best = spans[int(np.argmax(scores))]
        if self.generator.count_tokens(source) <= self.source_tokens:
            return source, source[best[0]:best[1]]
        keep, used = set(), 0
        for i in np.argsort(-scores):
            for j in (i, i - 1, i + 1):
                if 0 <= j < len(spans) and j not in keep:
                    cost = self.generator.count_tokens(source[spans[j][0]:spans[j][1]]) + 1
                    if used + cost <= self.source_tokens:
                        keep.add(j)
                        used += cost
            if used >= self.source_tokens * 0.95:
                break
        parts, last = [], None
        for j in sorted(keep):
            parts.append(("" if last is None else " " if j == last + 1 else " … ") + source[spans[j][0]:spans[j][1]])
            last = j
        return "".join(parts), source[best[0]:best[1]]

    def _similarity(self, claim: str, source: str, spans: list[tuple[int, int]]) -> np.ndarray:
        texts = [source[s:e] for s, e in spans]
        covers = np.array([coverage(claim, t) for t in texts])
        if self.embedder is None:
            return covers
        if self._fitted is None or self._fitted[0] != source:  # a claim's sentences share their source
            self._fitted = (source, spans, self.embedder.embed(texts))
        cosines = self._fitted[2] @ self.embedder.embed([claim])[0]
        return cosines + covers
