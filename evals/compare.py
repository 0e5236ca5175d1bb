"""Comparing two evaluation runs: metric deltas with paired bootstrap 95% confidence intervals.

Items (questions, queries or pairs) present in both runs are resampled with replacement; for each resample the
metric is recomputed on both runs, and the 2.5th and 97.5th percentiles of the differences bound the delta.
A delta whose interval excludes 0 is marked significant.
"""

from __future__ import annotations

import numpy as np

from evals.faithfulness import roc_auc

ITEM_METRICS = ("ndcg@10", "recall@10", "recall@100", "precision@10", "hit@10", "mrr", "map", "exact_match",
                "f1", "contains_gold", "faithfulness", "citation_recall", "citation_precision", "gold_found")


def _key(item: dict) -> str:
    return f"{item.get('method', '')}|{item['id']}"


def _paired(a: list[dict], b: list[dict]) -> tuple[list[dict], list[dict]]:
    by_key = {_key(i): i for i in b}
    common = [i for i in a if _key(i) in by_key]
    return common, [by_key[_key(i)] for i in common]


def bootstrap_delta(values_a: np.ndarray, values_b: np.ndarray, statistic, resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = len(values_a)
    deltas = []
    for _ in range(resamples):
        pick = rng.integers(0, n, n)
        deltas.append(statistic(values_b, pick) - statistic(values_a, pick))
    low, high = np.percentile(deltas, [2.5, 97.5])
    delta = statistic(values_b, np.arange(n)) - statistic(values_a, np.arange(n))
    return {"delta": round(float(delta), 4), "ci95": [round(float(low), 4), round(float(high), 4)],
            "significant": bool(low > 0 or high < 0), "n": n}


def compare_runs(run_a, run_b, resamples: int = 2000, seed: int = 0) -> dict:
    """Per metric: value in A, value in B, delta (B - A) with its bootstrap interval where items allow."""
    items_a, items_b = _paired(run_a.items or [], run_b.items or [])
    rows = {}
    for name in sorted(set(run_a.metrics) & set(run_b.metrics)):
        a, b = run_a.metrics[name], run_b.metrics[name]
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool):
            continue
        row = {"a": a, "b": b, "delta": round(b - a, 4)}
        if name in ITEM_METRICS and items_a:
            keep = [k for k, (x, y) in enumerate(zip(items_a, items_b))
                    if x.get(name) is not None and y.get(name) is not None]
            if keep:
                va = np.array([float(items_a[k][name]) for k in keep])
                vb = np.array([float(items_b[k][name]) for k in keep])
                row.update(bootstrap_delta(va, vb, lambda v, pick: float(v[pick].mean()), resamples, seed))
        elif name == "roc_auc" and items_a and "label" in items_a[0]:
            labels = np.array([i["label"] for i in items_a])
            va = np.array([i["score"] for i in items_a])
            vb = np.array([i["score"] for i in items_b])

            def auc(values, pick):
                return roc_auc(labels[pick], values[pick])

            row.update(bootstrap_delta(va, vb, auc, min(resamples, 500), seed))
        rows[name] = row
    return {"a": run_a.id, "b": run_b.id, "kind": [run_a.kind, run_b.kind], "paired_items": len(items_a),
            "metrics": rows}
