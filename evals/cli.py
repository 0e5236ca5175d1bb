"""`rag eval ...` commands. Registered through the `groundwork.commands` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from evals.beir import load_beir
from evals.retrieval_eval import evaluate_retrieval
from evals.squad import load_squad, write_squad_as_beir
from evals.squad_eval import evaluate_squad, spread
from rag.cli.context import context
from rag.retrieval import HybridRetriever

eval_app = typer.Typer(no_args_is_help=True, help="Measure retrieval, answers and faithfulness.")


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")


@eval_app.command("retrieval")
def retrieval(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="A BEIR folder (corpus.jsonl, queries.jsonl, qrels/*.tsv) or a "
                                  "SQuAD JSON file (its paragraphs become the corpus)."),
    split: str = typer.Option(None, help="qrels split (default: test, else the only one)."),
    limit: int = typer.Option(0, help="Score only the first N judged queries (0: all)."),
    method: list[str] = typer.Option(["lexical", "dense", "hybrid"], help="Repeat for several."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """nDCG@10, recall@10/100, MAP, MRR of each method; the corpus is ingested into `beir-NAME` if needed."""
    from ingest.pipeline import Ingester

    app = context(ctx)
    if folder.is_file() and folder.suffix == ".json":
        folder = write_squad_as_beir(folder, app.settings.data_dir / "datasets")
    dataset = load_beir(folder, split)
    if limit:
        dataset.queries = dict(list(dataset.queries.items())[:limit])
    collection = f"beir-{dataset.name}"
    summary = Ingester(app.settings, app.store, app.embedder).run([dataset.corpus], collection)
    retriever = HybridRetriever.open(app.store, app.settings, app.embedder, collection)
    results = {m: evaluate_retrieval(retriever, dataset, m) for m in method}
    if as_json:
        print(json.dumps(results if len(method) > 1 else results[method[0]], indent=2))
        return
    from rich.table import Table

    names = ["ndcg@10", "recall@10", "recall@100", "map", "mrr", "latency_p95_ms"]
    table = Table("method", *names, title=f"{dataset.name}: {len(dataset.queries)} judged queries, "
                  f"{summary.ingested + summary.skipped} documents")
    for m, r in results.items():
        table.add_row(m, *(f"{r[n]:.4f}" if n != "latency_p95_ms" else f"{r[n]:.1f}" for n in names))
    app.console.print(table)


@eval_app.command("squad")
def squad(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A SQuAD JSON file (v1.1 or v2.0)."),
    limit: int = typer.Option(0, help="An evenly spread sample of N questions (0: all)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The answerer end to end on SQuAD: EM, F1, contains-gold; v2.0 also HasAns/NoAns and abstention."""
    from ingest.pipeline import Ingester
    from rag.answerers import build_answerer

    app = context(ctx)
    folder = write_squad_as_beir(path, app.settings.data_dir / "datasets")
    collection = f"beir-{folder.name}"
    Ingester(app.settings, app.store, app.embedder).run([folder / "corpus.jsonl"], collection)
    retriever = HybridRetriever.open(app.store, app.settings, app.embedder, collection)
    answerer = build_answerer(app.settings, retriever, app.embedder)
    result = evaluate_squad(answerer, spread(load_squad(path).questions, limit))
    if as_json:
        print(json.dumps(result, indent=2))
        return
    for name, value in result.items():
        app.console.print(f"{name:>40}  {value}")


def build_judge(app, name: str):
    """'alignment' (the default, no LLM), 'llm' (the active GGUF model), or a trained cross-encoder judge's
    directory."""
    from rag.judge import EvidenceAlignmentJudge

    if name == "alignment":
        return EvidenceAlignmentJudge(app.embedder)
    if name == "llm":
        from rag.generation import LlamaCppGenerator
        from rag.llm_judge import LlmJudge
        from rag.models import active_model

        path = active_model(app.settings)
        if path is None:
            raise typer.BadParameter("no GGUF model is configured: set RAG_GENERATOR__MODEL_PATH or run "
                                     "`rag models pull`", param_hint="--judge")
        return LlmJudge(LlamaCppGenerator(path, app.settings.generator))
    if Path(name).is_dir():
        from rag.cross_encoder_judge import CrossEncoderJudge

        return CrossEncoderJudge(name)
    raise typer.BadParameter("use alignment, llm, or a trained judge's directory", param_hint="--judge")


@eval_app.command("judge")
def judge_command(
    ctx: typer.Context,
    pairs_file: Path = typer.Argument(..., help="Faithfulness pairs: JSONL or JSONL.gz rows with context, claim, "
                                      "label (1 = supported)."),
    judge: str = typer.Option("alignment", "--judge", help="alignment | llm | DIRECTORY of a trained judge."),
    limit: int = typer.Option(0, help="Only the first N pairs (0: all)."),
    seed: int = typer.Option(0, help="Seed of the calibration/test split."),
    skip_trained: float = typer.Option(0.0, help="Leave out the share a judge was trained on "
                                       "(`train-judge --train-share`, same seed)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """How well a judge agrees with human labels: ROC AUC, and balanced accuracy at a threshold chosen on the
    other half of the pairs."""
    from rich.progress import Progress

    from evals.faithfulness import agreement, load_pairs, split_pairs

    app = context(ctx)
    pairs = load_pairs(pairs_file)
    if skip_trained:
        pairs = split_pairs(pairs, skip_trained, seed)[1]
    pairs = pairs[:limit] if limit else pairs
    chosen = build_judge(app, judge)
    with Progress(console=app.console, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"judging {pairs_file.name}", total=len(pairs))
        result = {"dataset": pairs_file.name, **agreement(chosen, pairs, seed,
                                                          lambda n: progress.advance(task, n))}
    if as_json:
        print(json.dumps(result, indent=2))
        return
    for name, value in result.items():
        app.console.print(f"{name:>26}  {value}")


@eval_app.command("train-judge")
def train_judge_command(
    ctx: typer.Context,
    pairs_files: list[Path] = typer.Argument(None, help="Labelled pair files (JSONL or JSONL.gz)."),
    collection: str = typer.Option(None, "--collection", "-c", help="Also make synthetic pairs from this "
                                   "collection's documents."),
    synthetic: int = typer.Option(2000, help="Synthetic pairs to make when --collection is given."),
    train_share: float = typer.Option(1.0, help="Train on this seeded share of each file (measure on the rest "
                                      "with `rag eval judge --skip-trained`)."),
    out: Path = typer.Option(None, help="Where to save the judge (default: DATA_DIR/judges/cross-encoder)."),
    epochs: int = typer.Option(1),
    max_steps: int = typer.Option(0, help="Stop after this many steps (0: all epochs)."),
    seed: int = typer.Option(0),
) -> None:
    """Train the cross-encoder judge from the local MiniLM; prints its training card (held-out agreement and
    calibration)."""
    from rich.progress import Progress
    from sqlalchemy import select

    from evals.faithfulness import load_pairs, split_pairs
    from evals.train_judge import synthetic_pairs, train_judge
    from rag.embedder import resolve_model
    from rag.store import Document

    app = context(ctx)
    pairs, sources = [], []
    for path in pairs_files or []:
        pairs += split_pairs(load_pairs(path), train_share, seed)[0]
        sources.append(f"{path.name} ({train_share:.0%})")
    if collection:
        with app.store.session() as session:
            coll = app.store.collection(session, collection)
            texts = list(session.scalars(select(Document.text).where(Document.collection_id == coll.id)))
        pairs += synthetic_pairs([t for t in texts if t], synthetic, seed)
        sources.append(f"synthetic from collection {collection!r}")
    if not pairs:
        raise typer.BadParameter("give pair files and/or --collection")
    out = out or app.settings.data_dir / "judges" / "cross-encoder"
    with Progress(console=app.console, transient=True) as progress:
        task = progress.add_task("training", total=None)
        card = train_judge(pairs, out, resolve_model("default")[0], epochs=epochs, max_steps=max_steps, seed=seed,
                           sources=sources, progress=lambda step, total, loss: progress.update(
                               task, completed=step, total=total, description=f"training (loss {loss:.3f})"))
    print(json.dumps({"saved": str(out), **card}, indent=2))
