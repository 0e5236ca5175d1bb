"""A judge that is a trained cross-encoder (see `rag eval train-judge`): reads claim and source together.

A long source is read in windows of consecutive sentences that fit the model's input; the claim is as supported
as its best window. The decision threshold comes from the judge's training card (chosen on held-out pairs).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from rag.judges.alignment import Verdict, read_card
from rag.text import sentences


def windows(source: str, count_tokens, budget: int) -> list[tuple[int, int]]:
    """Character spans of consecutive sentences, each within `budget` tokens (a longer sentence stands alone)."""
    spans = sentences(source) or [(0, len(source))]
    out, start, used = [], spans[0][0], 0
    last_end = spans[0][0]
    for s, e in spans:
        cost = count_tokens(source[s:e])
        if used and used + cost > budget:
            out.append((start, last_end))
            start, used = s, 0
        used += cost
        last_end = e
    out.append((start, last_end))
    return out


class CrossEncoderJudge:
    def __init__(self, path: str | Path, device: str = "cpu", claim_tokens: int = 64):
        self.path = Path(path)
        self.device = device
        self.claim_tokens = claim_tokens
        self.name = f"cross-encoder:{self.path.name}"

    @cached_property
    def card(self) -> dict:
        return read_card(self.path)

    @property
    def threshold(self) -> float:
        return float(self.card.get("threshold", 0.5))

    @cached_property
    def model(self):
        from sentence_transformers import CrossEncoder

        self.card  # noqa: B018 - refuse a directory that is not a trained judge before loading
        return CrossEncoder(str(self.path), device=self.device, local_files_only=True)

    def _count(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text))

    def judge(self, claim: str, source: str) -> Verdict:
        budget = self.model.max_length - self.claim_tokens - 4
        spans = windows(source, self._count, budget)
        scores = self.model.predict([(source[s:e], claim) for s, e in spans], show_progress_bar=False,
                                    batch_size=16)
        best = int(scores.argmax())
        score = float(scores[best])
        start, end = spans[best]
        return Verdict(score >= self.threshold, round(score, 4), source[start:end], start, end,
                       f"cross-encoder score {score:.2f} (threshold {self.threshold:.2f})")
