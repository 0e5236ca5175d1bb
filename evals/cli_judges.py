"""`rag eval judge` and `rag eval train-judge`: judges measured against human labels, and the trainable one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from evals.cli import eval_app, finish_run
from rag.cli.context import context


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
    limit: int = typer.Option(0, help="An evenly spread sample of N pairs (0: all)."),
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
    if limit and limit < len(pairs):
        pairs = [pairs[int(i * len(pairs) / limit)] for i in range(limit)]
    chosen = build_judge(app, judge)
    items: list[dict] = []
    started = time.perf_counter()
    with Progress(console=app.console, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"judging {pairs_file.name}", total=len(pairs))
        result = {"dataset": pairs_file.name, **agreement(chosen, pairs, seed,
                                                          lambda n: progress.advance(task, n), items)}
    finish_run(app, "judge", pairs_file, result, items, time.perf_counter() - started, None, seed, as_json)


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
