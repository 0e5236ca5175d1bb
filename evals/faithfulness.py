"""Faithfulness pair files and how well a judge agrees with the people who labelled them.

A pair file is JSONL (plain or gzipped), one `{"id", "context", "claim", "label"}` object per line, label 1 when
the context supports the claim. Agreement is measured as the datasets' authors recommend: ROC AUC of the judge's
score, and balanced accuracy at a threshold chosen on a separate, seeded half of the pairs.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.judges.alignment import Judge, judge_text


@dataclass
class Pair:
    id: str
    context: str
    claim: str
    label: int
    dataset: str = ""


class DatasetError(ValueError):
    pass


def load_pairs(path: Path, limit: int = 0) -> list[Pair]:
    opener = gzip.open if path.suffix == ".gz" else open
    pairs = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                pairs.append(Pair(str(row.get("id", number)), row["context"], row["claim"], int(row["label"]),
                                  row.get("dataset", "")))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"{path}:{number}: not a faithfulness pair ({exc}); each line needs "
                                   "'context', 'claim' and 'label' (0 or 1)") from exc
            if limit and len(pairs) == limit:
                break
    if not pairs:
        raise DatasetError(f"{path}: no pairs found")
    return pairs


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    recalls = [float(np.mean(predicted[labels == c] == c)) for c in (0, 1) if np.any(labels == c)]
    return float(np.mean(recalls)) if recalls else float("nan")


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    candidates = np.unique(np.concatenate([scores, [0.5]]))
    return float(max(candidates, key=lambda t: (balanced_accuracy(labels, (scores >= t).astype(int)), -abs(t - .5))))


def agreement(judge: Judge, pairs: list[Pair], seed: int = 0,
              progress: Callable[[int], None] | None = None, items: list[dict] | None = None) -> dict:
    """ROC AUC on all pairs; balanced accuracy on one half at the threshold that is best on the other half.
    One row per pair (label, score, the judge's evidence and rationale) is appended to `items` when given."""
    started = time.perf_counter()
    scores = []
    for pair in pairs:
        verdict = judge_text(judge, pair.claim, pair.context)
        scores.append(verdict.score)
        if items is not None:
            items.append({"id": pair.id, "claim": pair.claim[:500], "label": pair.label, "score": verdict.score,
                          "evidence": verdict.evidence[:300], "rationale": verdict.rationale})
        if progress:
            progress(1)
    seconds = time.perf_counter() - started
    labels = np.array([p.label for p in pairs])
    scores_arr = np.array(scores)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    calibrate, test = np.array(order[: len(order) // 2]), np.array(order[len(order) // 2:])
    threshold = best_threshold(labels[calibrate], scores_arr[calibrate])
    return {
        "judge": judge.name, "n": len(pairs), "positives": int(labels.sum()),
        "roc_auc": round(roc_auc(labels, scores_arr), 4),
        "balanced_accuracy": round(balanced_accuracy(labels[test], (scores_arr[test] >= threshold).astype(int)), 4),
        "threshold": round(threshold, 4),
        "balanced_accuracy_at_0.5": round(balanced_accuracy(labels, (scores_arr >= 0.5).astype(int)), 4),
        "seconds": round(seconds, 1), "ms_per_pair": round(1000 * seconds / len(pairs), 1), "seed": seed,
        **calibration(labels, scores_arr), "by_kind": by_kind(pairs, labels, scores_arr, threshold),
    }


def by_kind(pairs: list[Pair], labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, dict]:
    """Agreement per task kind (the pairs' `dataset` field: QA claims, news or dialogue summaries, ...), at
    the threshold chosen for all of them; AUC only where a kind has both labels."""
    kinds: dict[str, dict] = {}
    for kind in sorted({p.dataset or "-" for p in pairs}):
        inside = np.array([(p.dataset or "-") == kind for p in pairs])
        l, s = labels[inside], scores[inside]
        both = 0 < l.sum() < len(l)
        kinds[kind] = {"n": int(inside.sum()), "positives": int(l.sum()),
                       "roc_auc": round(roc_auc(l, s), 4) if both else None,
                       "balanced_accuracy": round(balanced_accuracy(l, (s >= threshold).astype(int)), 4)
                       if both else None}
    return kinds


def calibration(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> dict:
    """Expected calibration error and the reliability table (mean score vs. share supported per bin)."""
    edges = np.linspace(0, 1, bins + 1)
    table, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (scores >= lo) & ((scores < hi) if hi < 1 else (scores <= hi))
        if inside.any():
            table.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(inside.sum()),
                          "mean_score": round(float(scores[inside].mean()), 3),
                          "supported_share": round(float(labels[inside].mean()), 3)})
            ece += inside.mean() * abs(scores[inside].mean() - labels[inside].mean())
    return {"ece": round(float(ece), 4), "reliability": table}


def split_pairs(pairs: list[Pair], share: float, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """A seeded share of the pairs and the rest: train a judge on one, measure it on the other."""
    order = list(range(len(pairs)))
    random.Random(f"split-{seed}").shuffle(order)
    cut = int(len(order) * share)
    return [pairs[i] for i in sorted(order[:cut])], [pairs[i] for i in sorted(order[cut:])]
