"""Retrieval metrics over ranked document ids and graded relevance judgements (qrels: id -> grade)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG with graded gains (the grade itself, as in BEIR / trec_eval)."""
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([max(qrels.get(d, 0), 0) for d in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = {d for d, g in qrels.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def precision_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    return sum(1 for d in ranked[:k] if qrels.get(d, 0) > 0) / k


def hit_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    return float(any(qrels.get(d, 0) > 0 for d in ranked[:k]))


def reciprocal_rank(ranked: Sequence[str], qrels: Mapping[str, int]) -> float:
    return next((1.0 / i for i, d in enumerate(ranked, 1) if qrels.get(d, 0) > 0), 0.0)


def average_precision(ranked: Sequence[str], qrels: Mapping[str, int]) -> float:
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    found, total = 0, 0.0
    for i, d in enumerate(ranked, 1):
        if d in relevant:
            found += 1
            total += found / i
    return total / len(relevant)
