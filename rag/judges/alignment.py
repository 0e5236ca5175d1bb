"""Judges: is a claim supported by a source text? Shared by answer verification and the evaluation harness.

The default judge runs locally with no LLM: it aligns the claim with the source's sentences by embedding
similarity and content-word coverage, checks that the claim's numbers and names occur in the source, and combines
these features with a logistic fitted on human-labelled pairs (`DEFAULT_WEIGHTS`), so its score is a probability.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.embedder import Embedder
from rag.errors import ConfigError
from rag.text import coverage, numbers, sentences

CARD = "judge_card.json"  # what `rag eval train-judge` saves beside a judge: its kind, data, agreement


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


# Names capitalised inside a sentence (a sentence's first word is capitalised anyway).
_NAME = re.compile(r"(?<=[a-z0-9,;:)] )[A-Z][A-Za-z]+")

FEATURES = ("cosine_top1", "cosine_top3", "coverage_best", "coverage_window", "coverage_source",
            "coverage_max", "numbers_missing", "names_missing")
# The combined judge's own features (`rag.judges.combined`): the model's and this judge's verdicts, log-odds.
MODEL_FEATURES = ("llm_logit", "alignment_logit")


@dataclass(frozen=True)
class AlignmentWeights:
    """A logistic over the alignment features. Fit your own with `rag eval train-judge --kind alignment`."""

    coefficients: dict[str, float]
    bias: float
    threshold: float = 0.5

    def probability(self, features: dict[str, float]) -> float:
        logit = self.bias + sum(w * features[name] for name, w in self.coefficients.items())
        return 1 / (1 + math.exp(-logit))

    @classmethod
    def from_card(cls, card: dict) -> AlignmentWeights:
        unknown = set(card["coefficients"]) - set(FEATURES + MODEL_FEATURES)
        if unknown:
            raise ConfigError(f"unknown judge features {sorted(unknown)} (known: "
                              f"{', '.join(FEATURES + MODEL_FEATURES)}); refit with `rag eval train-judge`")
        return cls(card["coefficients"], card["bias"], card.get("threshold", 0.5))


# Fitted by `rag eval train-judge --kind alignment --train-share 0.5 --limit 600` on the seeded halves of the
# three human-labelled files in ../shared/data/faithfulness (WiCE, SummEdits, FactCheckGPT; each file weighed the
# same). The threshold is the one best for balanced accuracy on held-out pairs. Agreement on the other halves of
# the files, which the fit never saw, is in the README.
DEFAULT_WEIGHTS = AlignmentWeights(
    {"cosine_top1": 0.19, "cosine_top3": 1.144, "coverage_best": 0.301, "coverage_window": 1.267,
     "coverage_source": 0.614, "coverage_max": 0.085, "numbers_missing": -0.949, "names_missing": -2.179},
    bias=-2.488, threshold=0.3198)


class EvidenceAlignmentJudge:
    """Sentence alignment by embedding similarity, content-word, number and name coverage, combined by a fitted
    logistic (`AlignmentWeights`). A number in the claim that the source lacks always vetoes support."""

    name = "evidence-alignment"

    def __init__(self, embedder: Embedder, weights: AlignmentWeights = DEFAULT_WEIGHTS,
                 threshold: float | None = None):
        self.embedder = embedder
        self.weights = weights
        self.threshold = weights.threshold if threshold is None else threshold
        self._source: tuple[str, list[tuple[int, int]], np.ndarray] | None = None

    def _embedded(self, source: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Sentence spans and vectors of the source; the last source is kept, because answers and
        multi-sentence claims are judged sentence by sentence against the same source."""
        if self._source is None or self._source[0] != source:
            spans = sentences(source) or [(0, len(source))]
            self._source = (source, spans, self.embedder.embed([source[s:e] for s, e in spans]))
        return self._source[1], self._source[2]

    def features(self, claim: str, source: str) -> tuple[dict[str, float], tuple[int, int]]:
        """The features of one claim sentence against the source, and the span of its best evidence sentence."""
        spans, vectors = self._embedded(source)
        texts = [source[s:e] for s, e in spans]
        cosines = vectors @ self.embedder.embed([claim])[0]
        covers = np.array([coverage(claim, t) for t in texts])
        best = int(np.argmax(cosines + covers))
        # a claim may combine adjacent sentences: also the best sentence with its neighbours
        window = source[spans[max(best - 1, 0)][0]:spans[min(best + 1, len(spans) - 1)][1]]
        names = {n.lower() for n in _NAME.findall(claim)}
        lowered = source.lower()
        top = np.sort(cosines)[::-1]
        return {
            "cosine_top1": float(top[0]), "cosine_top3": float(top[:3].mean()),
            "coverage_best": float(covers[best]), "coverage_window": max(float(covers[best]), coverage(claim, window)),
            "coverage_source": coverage(claim, source), "coverage_max": float(covers.max()),
            "numbers_missing": float(bool(numbers(claim) - numbers(source))),
            "names_missing": sum(n not in lowered for n in names) / len(names) if names else 0.0,
        }, spans[best]

    def judge(self, claim: str, source: str) -> Verdict:
        features, (start, end) = self.features(claim, source)
        score = self.weights.probability(features)
        missing = numbers(claim) - numbers(source)
        if missing:
            score = min(score, 0.05)
        rationale = (f"numbers not in the source: {', '.join(sorted(missing))}" if missing
                     else f"best sentence cosine {features['cosine_top1']:.2f}, word coverage "
                          f"{features['coverage_window']:.2f}, names missing {features['names_missing']:.0%}")
        return Verdict(score >= self.threshold, round(score, 4), source[start:end], start, end, rationale)


def read_card(directory: str | Path) -> dict:
    card = Path(directory) / CARD
    if not card.is_file():
        raise ConfigError(f"{directory}: not a trained judge ({CARD} missing); make one with "
                          "`rag eval train-judge`.")
    return json.loads(card.read_text())


def judge_text(judge: Judge, text: str, source: str) -> Verdict:
    """A text of several sentences is as supported as its least supported sentence. A judge that reads the
    source once for all of them (`judge_text`) is asked for the whole text."""
    if hasattr(judge, "judge_text"):
        return judge.judge_text(text, source)
    parts = [text[s:e] for s, e in sentences(text)] or [text]
    verdicts = [judge.judge(part, source) for part in parts]
    return min(verdicts, key=lambda v: v.score)
