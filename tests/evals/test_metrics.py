"""Retrieval metrics against hand-computed values."""

import math

import pytest

from evals.metrics import average_precision, hit_at_k, ndcg_at_k, precision_at_k, recall_at_k, reciprocal_rank

QRELS = {"a": 2, "b": 1, "c": 1}


def test_ndcg_with_graded_relevance():
    ranked = ["b", "x", "a"]
    dcg = 1 / math.log2(2) + 0 + 2 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, QRELS, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["a", "b", "c"], QRELS, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], {}, 10) == 0.0


def test_recall_precision_hit_mrr_map():
    ranked = ["x", "a", "y", "c"]
    assert recall_at_k(ranked, QRELS, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, QRELS, 4) == pytest.approx(2 / 3)
    assert precision_at_k(ranked, QRELS, 4) == pytest.approx(0.5)
    assert hit_at_k(ranked, QRELS, 1) == 0.0 and hit_at_k(ranked, QRELS, 2) == 1.0
    assert reciprocal_rank(ranked, QRELS) == pytest.approx(0.5)
    assert average_precision(ranked, QRELS) == pytest.approx((1 / 2 + 2 / 4) / 3)
