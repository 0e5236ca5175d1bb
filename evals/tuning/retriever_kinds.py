"""What `rag tune embedder` and `rag tune reranker` share and where they differ: the base MiniLM, cloze or
model questions with lexical hard negatives, held-out nDCG@10 and its gate; the embedder compared by dense
search over the collection embedded with it, the reranker by the fused order it reorders."""

from __future__ import annotations

import time
from pathlib import Path

from evals.tuning import retrieval_check
from evals.tuning.examples import Example, HeuristicQuestions
from evals.tuning.run_protocol import Progress, TuningError
from evals.tuning.training import EmbedderTraining, RerankerTraining
from rag.hashing import sha256_file
from rag.tuned_models import WEIGHTS, check_files, embed_missing, load_tuned_embedder, switch_embedding_model
from rag.workspace import Workspace


def base_checksum(workspace: Workspace) -> tuple[str, str, str]:
    """(model id, local path, SHA-256 of its weights) of the configured base embedder."""
    embedder = workspace.embedder
    path = Path(getattr(embedder, "model_path", ""))
    weights = path / WEIGHTS
    if not weights.is_file():
        raise TuningError(f"the base embedding model {embedder.model_id!r} has no {WEIGHTS} at {path}; tuning "
                          "needs a local sentence-transformers model (RAG_EMBEDDING__MODEL)")
    return embedder.model_id, str(path), sha256_file(weights)


def training_device(workspace: Workspace) -> str:
    import torch

    wanted = workspace.settings.embedding.device
    return "cuda" if wanted in ("auto", "cuda") and torch.cuda.is_available() else "cpu"


def chunk_count(workspace: Workspace, coll) -> int:
    with workspace.store.session() as session:
        return workspace.store.count_chunks(session, coll.id)


def gate(card: dict, metric: str, margin: float) -> dict:
    """Held-out nDCG@10 must gain the margin; and no method scored on a labelled set (the ground truth the user
    gave) may lose more than the margin: a model that fits the synthetic questions but not the user's real
    queries stays out."""
    before = card["before"]["held_out"]["ndcg@10"]
    after = card["after"]["held_out"]["ndcg@10"]
    delta = round(after - before, 4)
    passed = delta >= margin
    reason = (f"{metric} {before:.4f} -> {after:.4f} ({delta:+.4f}): "
              + (f"at least the margin {margin:+.4f}" if passed else
                 f"below the margin {margin:+.4f}, so the base model stays"))
    labelled_before = card["before"].get("labelled") or {}
    fell = [f"{method} {labelled_before[method]['ndcg@10']:.4f} -> {figures['ndcg@10']:.4f}"
            for method, figures in (card["after"].get("labelled") or {}).items()
            if figures["ndcg@10"] < labelled_before[method]["ndcg@10"] - max(margin, 0.0)]
    if passed and fell:
        passed = False
        reason += (f"; but nDCG@10 on the labelled set fell by more than the margin ({', '.join(fell)}), so the "
                   "base model stays")
    return {"gate": {"metric": metric, "margin": margin, "delta": delta, "passed": passed, "before": before,
                     "after": after, "reason": reason}}


class RetrieverKind:
    """What the embedder and the reranker share: the base MiniLM, cloze or model questions with lexical hard
    negatives, and held-out nDCG@10 (with a veto when a labelled set's nDCG@10 drops)."""

    heuristic = HeuristicQuestions
    examples_per_question = 1
    default_margin = 0.01
    defaults = {"examples": 1500, "batch_size": 32, "learning_rate": 3e-5, "epochs": 1}
    negatives = True
    train_type = Example

    def base(self, workspace: Workspace) -> tuple[str, str, str]:
        return base_checksum(workspace)

    def training_examples(self, workspace: Workspace, coll, questions: list[Example], progress: Progress) -> list:
        return questions

    def gate(self, card: dict, margin: float) -> dict:
        return gate(card, self.metric, margin)

    def figures(self, card: dict) -> list[list]:
        before, after = card["before"], card["after"]
        rows = [[f"held-out {name}", before["held_out"][name], after["held_out"][name]]
                for name in ("ndcg@10", "hit@10", "mrr")]
        rows += [[f"labelled {method} nDCG@10", before["labelled"][method]["ndcg@10"],
                  after["labelled"][method]["ndcg@10"]] for method in (before.get("labelled") or {})]
        return rows


class EmbedderKind(RetrieverKind):
    """The embedder: trained with hard negatives, the collection embedded with it, dense search compared."""

    name = "embedder"
    metric = "held-out dense nDCG@10"
    trainable = EmbedderTraining()

    def prepare(self, workspace: Workspace, row, coll, progress: Progress):
        tuned = load_tuned_embedder(workspace.settings, row)
        progress.stage("embedding the collection with the tuned model", chunk_count(workspace, coll))
        embed_missing(workspace.store, tuned, coll, lambda n: progress.advance(n))
        embed_missing(workspace.store, workspace.embedder, coll, lambda n: progress.advance(n))  # chunks added since
        return tuned

    def measure(self, workspace: Workspace, coll, tuned, held_out: list[Example], dataset, items: list[dict]
                ) -> dict:
        embedder = tuned or workspace.embedder
        result = {"model": embedder.model_id,
                  "held_out": retrieval_check.held_out_dense(workspace.store, embedder, coll, held_out, items)}
        if dataset is not None:
            result["labelled"] = retrieval_check.labelled(workspace.store, workspace.settings, embedder, coll,
                                                          dataset, ("dense", "hybrid"), None, items)
        return result

    def adopt(self, workspace: Workspace, coll, tuned, row) -> None:
        switch_embedding_model(workspace.store, workspace.settings, coll, tuned, row)

    def reject(self, workspace: Workspace, row) -> None:  # its vectors go; `rag tune use --force` makes them again
        with workspace.store.session() as session:
            workspace.store.delete_model_embeddings(session, row.model_id)


class RerankerKind(RetrieverKind):
    """The reranker: a cross-encoder from the base MiniLM, compared with the fused order it would reorder."""

    name = "reranker"
    metric = "held-out reranked nDCG@10"
    trainable = RerankerTraining()
    # A cross-encoder starts from a fresh head: at the embedder's one epoch at 3e-5 its loss stayed at ln 2
    # (SciFact, 951 questions, 30 steps); at 1e-4 and batch 16 it learns over about three epochs (in a trial,
    # held-out pairs told apart 0.58 -> 0.70 -> 0.77 after 50 / 100 / 150 steps; the README has the full run).
    defaults = {"examples": 1500, "batch_size": 16, "learning_rate": 1e-4, "epochs": 3}

    def prepare(self, workspace: Workspace, row, coll, progress: Progress):
        from rag.retrieval.reranker import CrossEncoderReranker

        embed_missing(workspace.store, workspace.embedder, coll)  # the base vectors its candidates come from
        return CrossEncoderReranker(str(check_files(workspace.settings, row)), training_device(workspace))

    def measure(self, workspace: Workspace, coll, tuned, held_out: list[Example], dataset, items: list[dict]
                ) -> dict:
        store, settings = workspace.store, workspace.settings
        candidates = settings.retrieval.rerank_candidates
        result = {"model": "none (fused order)" if tuned is None else str(tuned.path),
                  "held_out": retrieval_check.held_out_dense(store, workspace.embedder, coll, held_out, items,
                                                             reranker=tuned, candidates=candidates)}
        started = time.perf_counter()
        if dataset is not None:
            result["labelled"] = retrieval_check.labelled(store, settings, workspace.embedder, coll, dataset,
                                                          ("hybrid",), tuned, items)
            result["labelled_seconds_per_query"] = round((time.perf_counter() - started) / len(dataset.queries), 3)
        return result

    def adopt(self, workspace: Workspace, coll, tuned, row) -> None:
        with workspace.store.session() as session:
            workspace.store.set_adopted(session, coll.id, self.name, row.id)

    def reject(self, workspace: Workspace, row) -> None:
        pass
