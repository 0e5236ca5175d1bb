"""`rag eval retrieval|squad`, and what every evaluation command shares (`finish_run`). Each evals command
module attaches itself through the `groundwork.commands` entry point (`register`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from evals.beir import load_beir
from evals.retrieval_eval import evaluate_retrieval
from evals.squad import load_squad, write_squad_as_beir
from evals.squad_eval import evaluate_squad, spread
from rag.cli import command_group
from rag.cli.context import context

EVAL_HELP = "Measure retrieval, answers and faithfulness."


def eval_group(app: typer.Typer) -> typer.Typer:
    return command_group(app, "eval", EVAL_HELP)


def register(app: typer.Typer) -> None:
    group = eval_group(app)
    group.command("retrieval")(retrieval)
    group.command("squad")(squad)


def finish_run(app, kind: str, dataset: Path, metrics: dict, items: list[dict], seconds: float,
               collection: str | None, seed: int, as_json: bool, judge_name: str | None = None,
               quiet: bool = False, model: dict | None = None) -> int:
    """Stores the run, writes its HTML/Markdown/JSON report, and prints the metrics (JSON or a list). `model`
    says what answered or judged (`Answerer.model_info`); runs that use no model say so."""
    from evals.reports import judge_agreement_note, write_report
    from rag.runs import load_run, save_run

    metrics = {**(model or {"answerer": "none (no answers generated)"}), **metrics}

    run_id = save_run(app.store, app.settings, kind, dataset, metrics, items, seconds, collection, seed)
    note = ""
    if judge_name:
        note = judge_agreement_note(app.store, judge_name)
    paths = write_report(load_run(app.store, run_id), app.settings.data_dir / "reports", note)
    if quiet:
        return run_id
    if as_json:
        print(json.dumps({**metrics, "run": run_id}, indent=2))
        return run_id
    for name, value in metrics.items():
        app.console.print(f"{name:>40}  {value}", highlight=False)
    if note:
        app.console.print(note, highlight=False)
    app.console.print(f"run {run_id}; report: {paths['html']}", highlight=False)
    return run_id


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
    app = context(ctx)
    started = time.perf_counter()
    if folder.is_file() and folder.suffix == ".json":
        folder = write_squad_as_beir(folder, app.settings.data_dir / "datasets")
    dataset = load_beir(folder, split)
    if limit:
        dataset.queries = dict(list(dataset.queries.items())[:limit])
    collection = f"beir-{dataset.name}"
    summary = app.ingest([dataset.corpus], collection)
    retriever = app.retriever(collection)
    items: list[dict] = []
    results = {m: evaluate_retrieval(retriever, dataset, m, items) for m in method}
    seconds = time.perf_counter() - started
    flat = {f"{m}.{name}": value for m, r in results.items() for name, value in r.items()} \
        if len(method) > 1 else results[method[0]]
    run_id = finish_run(app, "retrieval", folder, flat, items, seconds, collection, 0, as_json=False, quiet=True)
    if as_json:
        print(json.dumps(results if len(method) > 1 else results[method[0]], indent=2))
        return
    from rich.table import Table

    names = ["ndcg@10", "recall@10", "recall@100", "map", "mrr", "latency_p95_ms"]
    table = Table("method", *names, title=f"{dataset.name}: {len(dataset.queries)} judged queries, "
                  f"{summary.ingested + summary.skipped} documents (run {run_id})")
    for m, r in results.items():
        table.add_row(m, *(f"{r[n]:.4f}" if n != "latency_p95_ms" else f"{r[n]:.1f}" for n in names))
    app.console.print(table)


def squad(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A SQuAD JSON file (v1.1 or v2.0)."),
    limit: int = typer.Option(0, help="An evenly spread sample of N questions (0: all)."),
    skip_trained: float = typer.Option(0.0, help="Leave out the seeded share of the questions that weights "
                                       "were fitted on (the answer checks' weights: 0.5, seed 0)."),
    seed: int = typer.Option(0, help="Seed of that split."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The answerer end to end on SQuAD: EM, F1, contains-gold; v2.0 also HasAns/NoAns and abstention."""
    from rag.judges.alignment import EvidenceAlignmentJudge

    app = context(ctx)
    started = time.perf_counter()
    folder = write_squad_as_beir(path, app.settings.data_dir / "datasets")
    collection = f"beir-{folder.name}"
    app.ingest([folder / "corpus.jsonl"], collection)
    answerer = app.answerer(collection)
    items: list[dict] = []
    questions = load_squad(path).questions
    if skip_trained:
        from evals.faithfulness import split_pairs

        questions = split_pairs(questions, skip_trained, seed)[1]
    result = evaluate_squad(answerer, spread(questions, limit), items)
    finish_run(app, "squad", path, result, items, time.perf_counter() - started, collection, seed, as_json,
               judge_name=EvidenceAlignmentJudge.name, model=answerer.model_info)


