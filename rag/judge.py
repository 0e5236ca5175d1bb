"""Judges: is a claim supported by a source text? Shared by answer verification and the evaluation harness.

The default judge runs locally with no LLM: it finds the source sentence that best supports the claim by
embedding similarity and content-word coverage, and refuses support when the claim has numbers the evidence
lacks. Its score is a logistic of those features (weights documented below; calibration belongs to evals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.embedder import Embedder
from rag.text import coverage, numbers, sentences


@dataclass
class Verdict:
    supported: bool
    score: float  # probability-like, in [0, 1]
    evidence: str  # the best supporting span of the source
    evidence_start: int  # character offsets of that span in the source text
    evidence_end: int
    rationale: str


class Judge(Protocol):
    name: str

    def judge(self, claim: str, source: str) -> Verdict: ...


class EvidenceAlignmentJudge:
    """Embedding similarity + lexical coverage + number coverage, squashed by a logistic."""

    name = "evidence-alignment"
    # logit = W_COS * cosine + W_COV * coverage + BIAS; numbers missing from the evidence veto support.
    W_COS, W_COV, BIAS = 6.0, 6.0, -7.0

    def __init__(self, embedder: Embedder, threshold: float = 0.5):
        self.embedder = embedder
        self.threshold = threshold

    def judge(self, claim: str, source: str) -> Verdict:
        spans = sentences(source) or [(0, len(source))]
        texts = [source[s:e] for s, e in spans]
        vectors = self.embedder.embed([claim] + texts)
        cosines = vectors[1:] @ vectors[0]
        covers = np.array([coverage(claim, t) for t in texts])
        best = int(np.argmax(self.W_COS * cosines + self.W_COV * covers))
        # a claim may combine two adjacent sentences: also try the best sentence with its neighbour
        start, end = spans[best]
        window = source[spans[max(best - 1, 0)][0]:spans[min(best + 1, len(spans) - 1)][1]]
        cover = max(covers[best], coverage(claim, window))
        logit = self.W_COS * float(cosines[best]) + self.W_COV * cover + self.BIAS
        missing = numbers(claim) - numbers(source)
        score = 1 / (1 + math.exp(-logit))
        if missing:
            score = min(score, 0.05)
        supported = score >= self.threshold
        rationale = (f"numbers not in the source: {', '.join(sorted(missing))}" if missing
                     else f"best sentence cosine {cosines[best]:.2f}, word coverage {cover:.2f}")
        return Verdict(supported, round(score, 4), source[start:end], start, end, rationale)


def judge_text(judge: Judge, text: str, source: str) -> Verdict:
    """A text of several sentences is as supported as its least supported sentence."""
    parts = [text[s:e] for s, e in sentences(text)] or [text]
    verdicts = [judge.judge(part, source) for part in parts]
    return min(verdicts, key=lambda v: v.score)
