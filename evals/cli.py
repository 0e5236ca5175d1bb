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
    from rag.answering import ExtractiveAnswerer
    from rag.judge import EvidenceAlignmentJudge

    app = context(ctx)
    folder = write_squad_as_beir(path, app.settings.data_dir / "datasets")
    collection = f"beir-{folder.name}"
    Ingester(app.settings, app.store, app.embedder).run([folder / "corpus.jsonl"], collection)
    retriever = HybridRetriever.open(app.store, app.settings, app.embedder, collection)
    answerer = ExtractiveAnswerer(retriever, app.embedder, EvidenceAlignmentJudge(app.embedder),
                                  app.settings.answer)
    result = evaluate_squad(answerer, spread(load_squad(path).questions, limit))
    if as_json:
        print(json.dumps(result, indent=2))
        return
    for name, value in result.items():
        app.console.print(f"{name:>40}  {value}")
