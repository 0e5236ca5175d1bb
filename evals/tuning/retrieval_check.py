"""Retrieval before and after tuning, from the vectors each model stored for the collection.

Held-out synthetic questions are scored by dense search at document level (their chunk's document is the one
relevant document). A cloze question is a sentence taken out of its chunk, so its chunk is searched without it
(re-embedded from the passage the question was asked of), exactly as in training; otherwise the question would
find itself. A labelled set (BEIR folder of this collection's corpus) is scored dense and hybrid, as
`rag eval retrieval` does.
"""

from __future__ import annotations

import statistics

import numpy as np

from evals.metrics import ndcg_at_k, reciprocal_rank
from evals.tuning.examples import Example
from rag.embedder import Embedder
from rag.settings import Settings
from rag.store import Collection, Store
from rag.text import embed_text

CHUNKS_PER_QUERY = 100  # chunks kept per query before ranking documents
BLOCK = 65_536  # stored vectors scored at a time: memory stays bounded on large collections


def held_out_dense(store: Store, embedder: Embedder, collection: Collection, examples: list[Example],
                   items: list[dict] | None = None, *, reranker=None, candidates: int = 30) -> dict:
    """Dense search for each held-out question (its chunk searched as the passage it was asked of); with
    `reranker`, its best `candidates` chunks reordered by it (the chunk's text, as the product does)."""
    if not examples:
        return {"n": 0}
    with store.session() as session:
        ids, vectors = store.collection_vectors(session, collection.id, embedder.model_id)
        chunk_ids, document_ids = store.chunk_documents(session, collection.id)
    document_of = dict(zip(chunk_ids.tolist(), document_ids.tolist()))
    row_of = {int(chunk_id): row for row, chunk_id in enumerate(ids)}
    vectors = np.array(vectors, dtype=np.float32)  # a copy: rows of held-out chunks are replaced below
    passages = embedder.embed([e.passage for e in examples])
    for example, vector in zip(examples, passages):
        vectors[row_of[example.chunk_id]] = vector
    queries = embedder.embed([e.question for e in examples])
    top = _top_chunks(queries, vectors, CHUNKS_PER_QUERY)
    method = "held-out dense" + (" + reranker" if reranker is not None else "")
    scores: dict[str, list[float]] = {"ndcg@10": [], "hit@10": [], "mrr": []}
    for number, (example, rows) in enumerate(zip(examples, top)):
        ranked_chunks = [int(ids[r]) for r in rows]
        if reranker is not None:
            ranked_chunks = _reranked(store, reranker, example, ranked_chunks[:candidates]) + ranked_chunks[candidates:]
        ranked = list(dict.fromkeys(str(document_of[c]) for c in ranked_chunks))
        relevant = {str(example.document_id): 1}
        scores["ndcg@10"].append(ndcg_at_k(ranked, relevant, 10))
        scores["hit@10"].append(float(str(example.document_id) in ranked[:10]))
        scores["mrr"].append(reciprocal_rank(ranked, relevant))
        if items is not None:
            items.append({"id": f"held-out-{number}", "method": "held-out", "question": example.question,
                          "ranked_by": method, **{name: values[-1] for name, values in scores.items()}})
    return {"n": len(examples), "method": method, **{name: round(statistics.fmean(v), 4) for name, v in scores.items()}}


def _reranked(store: Store, reranker, example: Example, chunk_ids: list[int]) -> list[int]:
    with store.session() as session:
        texts = {c.chunk_id: embed_text(c.section_path, c.text) for c in store.chunk_texts_by_id(session, chunk_ids)}
    if example.chunk_id in texts:
        texts[example.chunk_id] = example.passage
    order = [c for c in chunk_ids if c in texts]
    scores = reranker.model.predict([(example.question, texts[c]) for c in order], batch_size=32,
                                    show_progress_bar=False)
    return [c for _, c in sorted(zip((-float(x) for x in scores), order))]


def _top_chunks(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the k best vectors for each query, best first (exact inner product, in blocks)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), BLOCK):
        block = queries @ vectors[start:start + BLOCK].T
        take = min(k, block.shape[1])
        part = np.argpartition(-block, take - 1, axis=1)[:, :take]
        best_scores = np.concatenate([best_scores, np.take_along_axis(block, part, axis=1)], axis=1)
        best_rows = np.concatenate([best_rows, part + start], axis=1)
        if best_scores.shape[1] > k:
            keep = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(best_scores, keep, axis=1)
            best_rows = np.take_along_axis(best_rows, keep, axis=1)
    order = np.argsort(-best_scores, axis=1)
    return np.take_along_axis(best_rows, order, axis=1)


def retriever_with(store: Store, settings: Settings, embedder: Embedder, collection: Collection, reranker=None):
    """A hybrid retriever whose dense part searches `embedder`'s stored vectors (an index in memory only)."""
    from rag.index.collection_index import CollectionIndex
    from rag.index.faiss_index import FaissIndex, choose_factory
    from rag.retrieval.hybrid import HybridRetriever

    with store.session() as session:
        ids, vectors = store.collection_vectors(session, collection.id, embedder.model_id)
    factory = choose_factory(len(ids), settings.index.flat_max_vectors, settings.index.exact_storage)
    options = {"nprobe": settings.index.ivf_nprobe, "use_gpu": settings.index.use_gpu}
    index = CollectionIndex(store, settings, collection, FaissIndex.build(vectors.shape[1], ids, vectors, factory,
                                                                            **options), None)
    return HybridRetriever(store, settings.retrieval, embedder, collection, index, reranker)


def labelled(store: Store, settings: Settings, embedder: Embedder, collection: Collection, dataset,
             methods: tuple[str, ...] = ("dense", "hybrid"), reranker=None, items: list[dict] | None = None) -> dict:
    from evals.retrieval_eval import evaluate_retrieval

    retriever = retriever_with(store, settings, embedder, collection, reranker)
    results = {}
    for method in methods:
        rows: list[dict] = []
        results[method] = evaluate_retrieval(retriever, dataset, method, rows)
        if items is not None:
            items.extend({**row, "method": f"labelled {method}"} for row in rows)
    return results
