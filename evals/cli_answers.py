"""`rag eval answers DATASET`: the active answerer on an evaluation set (JSONL format in evals/answers_eval.py)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from evals.cli import eval_group, finish_run
from rag.cli.context import context



def register(app: typer.Typer) -> None:
    eval_group(app).command("answers")(answers_command)

def answers_command(
    ctx: typer.Context,
    dataset: Path = typer.Argument(..., help="Evaluation set: JSONL (see evals/answers_eval.py) or SQuAD JSON."),
    collection: str = typer.Option(None, "--collection", "-c", help="Answer from this collection (default: "
                                   "the SQuAD file's own paragraphs, or RAG_DEFAULT_COLLECTION)."),
    corpus: Path = typer.Option(None, help="Documents to ingest into the collection first (unchanged ones are "
                                "skipped)."),
    limit: int = typer.Option(0, help="An evenly spread sample of N questions (0: all)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Faithfulness, citation precision/recall, abstention, reference-answer scores and latency per stage."""
    from rich.progress import Progress

    from evals.answers_eval import evaluate_answers, load_questions
    from evals.squad_eval import spread
    from rag.judges.alignment import EvidenceAlignmentJudge

    app = context(ctx)
    started = time.perf_counter()
    questions = spread(load_questions(dataset), limit)
    if dataset.suffix == ".json" and collection is None:
        from evals.squad import write_squad_as_beir

        folder = write_squad_as_beir(dataset, app.settings.data_dir / "datasets")
        collection, corpus = f"beir-{folder.name}", folder / "corpus.jsonl"
    collection = collection or app.settings.default_collection
    if corpus is not None:
        app.ingest([corpus], collection)
    answerer = app.answerer(collection)
    judge = EvidenceAlignmentJudge(app.embedder)
    with Progress(console=app.console, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"answering {dataset.name}", total=len(questions))
        metrics, items = evaluate_answers(answerer, judge, questions, lambda n: progress.advance(task, n))
    finish_run(app, "answers", dataset, metrics, items, time.perf_counter() - started, collection, 0, as_json,
               judge_name=judge.name, model=answerer.model_info)
