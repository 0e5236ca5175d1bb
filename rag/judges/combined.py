"""The default judge when a generation model is installed: the alignment judge's verdict and the model's scored
verdict (both as log-odds) with the number and name vetoes, combined by one fitted logistic (`rag eval
train-judge --kind combined`), so each signal counts as much as it earned on human labels.

`COMBINED_WEIGHTS` were fitted on half of each of the three human-labelled files in ../shared/data/faithfulness
(40 pairs each, evenly spread, seed 0; each file weighed the same) with the default 1.5B model; the features
were chosen by cross-validation on that half only (the alignment features one by one beside the model's verdict
did worse: their many weights overfit 120 pairs). The threshold is the one with the best balanced accuracy on
that half, fixed before the other half was scored.

In the answer path the model's verdict comes from the answer's own prompt (`judge_with`: the sources are
already evaluated there); elsewhere the judge asks the model itself (`LlmJudge`).
"""

from __future__ import annotations

from rag.judges.alignment import AlignmentWeights, EvidenceAlignmentJudge, Verdict
from rag.judges.llm import LlmJudge, logit
from rag.text import numbers, sentences

COMBINED_FEATURES = ("llm_logit", "alignment_logit", "numbers_missing", "names_missing")
COMBINED_WEIGHTS = AlignmentWeights({"llm_logit": 0.379, "alignment_logit": 1.24, "numbers_missing": 0.238,
                                     "names_missing": -0.285}, bias=-0.544, threshold=0.225)


class CombinedJudge:
    def __init__(self, alignment: EvidenceAlignmentJudge, weights: AlignmentWeights = COMBINED_WEIGHTS,
                 llm: LlmJudge | None = None):
        self.alignment = alignment
        self.llm = llm  # asked only when no verdict is given; the answer path gives its own
        self.weights = weights
        self.threshold = weights.threshold
        self.name = f"combined:{llm.generator.name}" if llm else "combined:alignment+model"

    def claim_features(self, text: str, source: str, p_supported: float | None = None
                       ) -> tuple[dict[str, float], tuple[int, int]]:
        """The features of a claim of one or more sentences: its weakest sentence's alignment log-odds, the
        model's verdict on its weakest sentence, and its worst missing numbers and names; and the span of the
        weakest sentence's evidence."""
        parts = [text[s:e] for s, e in sentences(text)] or [text]
        aligned = [self.alignment.features(part, source) for part in parts]
        weakest = min(aligned, key=lambda a: self.alignment.weights.probability(a[0]))
        if p_supported is None:
            if self.llm is None:
                raise ValueError("a CombinedJudge without an LlmJudge needs the model's verdict (judge_with)")
            p_supported = self.llm.judge_text(text, source).score
        return {"llm_logit": logit(p_supported),
                "alignment_logit": logit(self.alignment.weights.probability(weakest[0])),
                "numbers_missing": max(a["numbers_missing"] for a, _ in aligned),
                "names_missing": max(a["names_missing"] for a, _ in aligned)}, weakest[1]

    def judge(self, claim: str, source: str) -> Verdict:
        return self.judge_with(claim, source, None)

    def judge_text(self, text: str, source: str) -> Verdict:
        return self.judge_with(text, source, None)

    def judge_with(self, claim: str, source: str, p_supported: float | None) -> Verdict:
        """The verdict, with the model's P(yes) given when the caller already scored it."""
        features, (start, end) = self.claim_features(claim, source, p_supported)
        score = self.weights.probability(features)
        missing = numbers(claim) - numbers(source)
        if missing:
            score = min(score, 0.05)
        rationale = (f"numbers not in the source: {', '.join(sorted(missing))}" if missing else
                     f"model log-odds {features['llm_logit']:.2f}, alignment log-odds "
                     f"{features['alignment_logit']:.2f}")
        return Verdict(score >= self.threshold, round(score, 4), source[start:end], start, end, rationale)
