"""`rag bench query`: retrieval latency at 10k/100k chunks and the approximate index at 1M vectors (JSON).

The large collections are synthetic so that the benchmark runs anywhere in minutes: chunk texts are
sentences of the given BEIR corpus (varied), vectors are drawn around clustered centres (as real embeddings
are), and the queries are the corpus's real queries embedded with the configured model.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import typer

from ingest.bench import bench_group
from rag.cli.context import context
from rag.index.collection_index import CollectionIndex
from rag.index.faiss_index import FaissIndex, choose_factory
from rag.retrieval.hybrid import HybridRetriever
from rag.store import Chunk, Collection, Document, Store
from rag.workspace import Workspace


def register(app: typer.Typer) -> None:
    bench_group(app).command("query")(bench_query)


def _sentences(corpus: Path, limit: int = 50_000) -> list[str]:
    out = []
    with open(corpus, encoding="utf-8") as handle:
        for line in handle:
            out += [s for s in re.split(r"(?<=\.)\s+", json.loads(line).get("text", "")) if len(s) > 40]
            if len(out) >= limit:
                break
    return out


def clustered_vectors(n: int, dim: int, rng: np.random.Generator, centres: int = 2048) -> np.ndarray:
    means = rng.standard_normal((centres, dim)).astype(np.float32)
    out = means[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _synthetic_collection(store: Store, settings, name: str, n: int, sentences: list[str], dim: int,
                          rng: np.random.Generator) -> Collection:
    with store.session() as session:
        coll = store.collection(session, name, create=True)
        coll.embedding_model, coll.embedding_dim = "synthetic", dim
        docs = [{"collection_id": coll.id, "source": f"/synthetic/{name}/{i}", "sha256": "-", "size": 0,
                 "mtime_ns": 0, "status": "ingested", "title": f"doc {i}"} for i in range(n // 10)]
        store.insert_rows(session, Document, docs)
        first_doc = store.first_document_id(session, coll.id)
        rows = [{"document_id": first_doc + i // 10, "ordinal": i % 10,
                 "text": f"{sentences[i % len(sentences)]} {sentences[(i * 7 + 3) % len(sentences)]}",
                 "char_start": 0, "char_end": 0, "token_count": 0, "content_hash": f"s{i}"} for i in range(n)]
        for start in range(0, n, 20_000):
            store.insert_rows(session, Chunk, rows[start:start + 20_000])
    with store.session() as session:
        ids = np.sort(store.collection_chunk_ids(session, coll.id))
    index = CollectionIndex(store, settings, coll, None, None)
    index.index = FaissIndex.build(dim, ids, clustered_vectors(n, dim, rng),
                                   choose_factory(n, settings.index.flat_max_vectors, settings.index.exact_storage),
                                   nprobe=settings.index.ivf_nprobe, use_gpu=settings.index.use_gpu)
    index._write(index.index)
    return coll


def _percentiles(seconds: list[float]) -> dict:
    values = sorted(seconds)
    return {"p50_ms": round(1000 * values[len(values) // 2], 2),
            "p95_ms": round(1000 * values[int(len(values) * .95)], 2)}


def bench_query(
    ctx: typer.Context,
    source: Path = typer.Option(Path("../shared/data/retrieval/scifact"), help="A BEIR folder (texts, queries)."),
    sizes: str = typer.Option("10000,100000", help="Collection sizes in chunks."),
    ann_size: int = typer.Option(1_000_000, help="Vectors for the approximate-index check (0: skip)."),
    queries: int = typer.Option(200, help="Queries per measurement."),
    answers: Path = typer.Option(Path("data/sample"), help="Documents for extractive-answer latency ('' skips)."),
    llm_shape: str = typer.Option("0.5b", help="Random-weight GGUF shape for llama.cpp speed: "
                                  "0.5b, 1.5b, tiny, or none."),
    llm_tokens: int = typer.Option(128, help="Tokens decoded per llama.cpp measurement."),
    reranker: str = typer.Option("", help="Also time hybrid + this reranker: a CrossEncoder directory or the id "
                                 "of a tuned reranker (`rag tune list`)."),
) -> None:
    """Retrieval latency p50/p95 per method and size; IVF recall@10 and p95 at ann_size vectors; extractive
    first-answer latency; llama.cpp prompt/decode tokens/s (bare, ours, ours with the citation grammar)."""
    app = context(ctx)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    texts = [json.loads(line)["text"] for line in open(source / "queries.jsonl", encoding="utf-8")][:queries]
    query_vectors = app.embedder.embed(texts)
    dim = query_vectors.shape[1]
    sentences = _sentences(source / "corpus.jsonl")
    result: dict = {"benchmark": "query", "machine": _machine(), "queries": len(texts), "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="groundwork-bench-") as tmp:
        settings = app.settings.model_copy(update={"data_dir": Path(tmp), "database_url": ""})
        store = Store.open(settings.resolved_database_url)
        for n in (int(s) for s in sizes.split(",") if s):
            coll = _synthetic_collection(store, settings, f"bench{n}", n, sentences, dim, rng)
            retriever = HybridRetriever(store, settings.retrieval, _FixedQueries(texts, query_vectors), coll,
                                        CollectionIndex.open(store, settings, coll))
            result["sizes"][n] = {m: _time(lambda q: retriever.retrieve(q, method=m), texts)
                                  for m in ("lexical", "dense", "hybrid")}
            result["sizes"][n]["factory"] = retriever.index.index.factory
            if reranker:
                retriever.reranker = _reranker(app, reranker)
                timed = _time(lambda q: retriever.retrieve(q), texts)
                result["sizes"][n]["hybrid+reranker"] = timed
                result["sizes"][n]["reranker_added_p50_ms"] = round(
                    timed["p50_ms"] - result["sizes"][n]["hybrid"]["p50_ms"], 1)
                retriever.reranker = None
        if str(answers) not in ("", "."):
            result["extractive_answer"] = _answer_latency(app, settings, answers)
    result["query_embedding"] = _time(lambda q: app.embedder.embed([q]), texts)
    if ann_size:
        result["ann"] = _ann(ann_size, dim, rng, settings.index.ivf_nprobe, queries)
    if llm_shape != "none":
        from evals.bench_generation import bench_llm

        result["llama_cpp"] = bench_llm(app.settings.data_dir / "bench-models", llm_shape, llm_tokens)
    print(json.dumps(result, indent=2))
    _record(app, source, result, time.perf_counter() - started)


def _reranker(app, reranker: str):
    from rag.retrieval.reranker import CrossEncoderReranker

    path = reranker
    if reranker.isdigit():
        row = app.tuned_model(int(reranker))
        path = str(app.settings.data_dir / row["path"] / "model")
    return CrossEncoderReranker(path)


def _record(app, source: Path, result: dict, seconds: float, kind: str = "bench-query") -> None:
    """The benchmark as an evaluation run, with the same reports."""
    from evals.cli import finish_run
    from rag.runs import flat_metrics

    finish_run(app, kind, source, flat_metrics(result), [], seconds, None, 0, as_json=False, quiet=True)


SAMPLE_QUESTIONS = ["How many days of paid annual leave do employees get?",
                    "When will the map tile server be offline?", "How long is the synodic month?",
                    "Who decoded the waggle dance?", "What drives the water cycle?",
                    "What is the capital of Australia?"]


def _answer_latency(app, settings, folder: Path) -> dict:
    """Question to finished answer with the extractive answerer on the given documents (sample questions)."""
    from rag.answer.extractive import ExtractiveAnswerer
    from rag.judges.alignment import EvidenceAlignmentJudge

    workspace = Workspace(settings, embedder=app.embedder)
    workspace.ingest([folder], "answers")
    answerer = ExtractiveAnswerer(workspace.retriever("answers"), app.embedder,
                                  EvidenceAlignmentJudge(app.embedder), settings.answer)
    return {"documents": str(folder), **_time(answerer.answer, SAMPLE_QUESTIONS * 5)}


class _FixedQueries:
    """Hands the retriever precomputed query vectors, so latency is retrieval's (embedding is timed apart)."""

    model_id = "synthetic"

    def __init__(self, texts, vectors):
        self._by_text = dict(zip(texts, vectors))

    def embed(self, texts):
        return np.stack([self._by_text[t] for t in texts])


def _time(run, texts) -> dict:
    for q in texts[:5]:
        run(q)
    seconds = []
    for q in texts:
        started = time.perf_counter()
        run(q)
        seconds.append(time.perf_counter() - started)
    return _percentiles(seconds)


def _ann(n: int, dim: int, rng: np.random.Generator, nprobe: int, queries: int) -> dict:
    import faiss

    vectors = clustered_vectors(n, dim, rng)
    probes = clustered_vectors(queries, dim, rng)
    factory = choose_factory(n, 100_000)
    started = time.perf_counter()
    index = FaissIndex.build(dim, np.arange(n, dtype=np.int64), vectors,
                             factory, train_on=vectors[rng.choice(n, min(n, 200_000), replace=False)],
                             nprobe=nprobe, use_gpu=True)
    build = time.perf_counter() - started
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    _, truth = exact.search(probes, 10)
    found = np.stack([index.search(p[None], 10)[1][0] for p in probes])
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
    return {"vectors": n, "factory": factory, "nprobe": nprobe, "build_s": round(build, 1),
            "recall@10": round(recall, 4), **_time(lambda p: index.search(p[None], 10), list(probes))}


def _machine() -> str:
    import faiss

    from rag.machine import machine_note

    return machine_note(faiss.get_num_gpus())
