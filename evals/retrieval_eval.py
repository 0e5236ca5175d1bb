"""Scores a retriever on a BEIR dataset at document level (a document ranks by its best chunk)."""

from __future__ import annotations

import statistics
import time

from evals.beir import BeirDataset
from evals.metrics import average_precision, hit_at_k, ndcg_at_k, precision_at_k, recall_at_k, reciprocal_rank
from rag.retrieval.hybrid import Method, Retriever
from rag.sources import source_key

DOCS_RANKED = 100


def ranked_documents(retriever: Retriever, query: str, method: Method, depth: int = DOCS_RANKED) -> list[str]:
    """Document ids (the part after '#' of a JSONL source) in order of their best chunk."""
    hits = retriever.retrieve(query, k=depth * 3, method=method)
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(source_key(hit.source), None)
    return list(seen)[:depth]


def evaluate_retrieval(retriever: Retriever, dataset: BeirDataset, method: Method,
                       items: list[dict] | None = None) -> dict[str, float]:
    """Mean metrics over the judged queries; per-query rows are appended to `items` when given."""
    per_query: dict[str, list[float]] = {name: [] for name in (
        "ndcg@10", "recall@10", "recall@100", "precision@10", "hit@10", "mrr", "map")}
    latencies = []
    for qid, query in dataset.queries.items():
        started = time.perf_counter()
        ranked = ranked_documents(retriever, query, method)
        latencies.append(time.perf_counter() - started)
        qrels = dataset.qrels[qid]
        per_query["ndcg@10"].append(ndcg_at_k(ranked, qrels, 10))
        per_query["recall@10"].append(recall_at_k(ranked, qrels, 10))
        per_query["recall@100"].append(recall_at_k(ranked, qrels, 100))
        per_query["precision@10"].append(precision_at_k(ranked, qrels, 10))
        per_query["hit@10"].append(hit_at_k(ranked, qrels, 10))
        per_query["mrr"].append(reciprocal_rank(ranked, qrels))
        per_query["map"].append(average_precision(ranked, qrels))
        if items is not None:
            items.append({"id": qid, "method": method, "question": query, "ranked": ranked[:10],
                          **{name: values[-1] for name, values in per_query.items()}})
    result = {name: round(statistics.fmean(values), 4) for name, values in per_query.items()}
    latencies.sort()
    result.update(n=len(latencies), latency_p50_ms=round(1000 * latencies[len(latencies) // 2], 1),
                  latency_p95_ms=round(1000 * latencies[int(len(latencies) * 0.95)], 1))
    return result
