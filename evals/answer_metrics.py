"""Answer metrics with the official SQuAD normalisation (lower case, no punctuation/articles/extra spaces)."""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _golds(golds: list[str]) -> list[str]:
    """As the official script: golds that normalise to nothing are dropped; none left means the gold is ""."""
    return [g for g in golds if normalize_answer(g)] or [""]


def exact_match(prediction: str, golds: list[str]) -> float:
    return max(float(normalize_answer(prediction) == normalize_answer(g)) for g in _golds(golds))


def f1(prediction: str, golds: list[str]) -> float:
    return max(_f1(prediction, g) for g in _golds(golds))


def _f1(prediction: str, gold: str) -> float:
    predicted, wanted = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not wanted:  # a no-answer matches only a no-answer (official v2.0 rule)
        return float(predicted == wanted)
    common = Counter(predicted) & Counter(wanted)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(wanted)
    return 2 * precision * recall / (precision + recall)


def contains_gold(prediction: str, golds: list[str]) -> float:
    normalized = normalize_answer(prediction)
    return float(any(normalize_answer(g) and normalize_answer(g) in normalized for g in golds))


_CITATION = re.compile(r"\s*\[\d+(?:\]\[\d+)*\]")


def strip_citations(answer: str) -> str:
    """An answer's text without its [n] markers, for comparing with reference answers."""
    return _CITATION.sub("", answer)
