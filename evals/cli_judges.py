"""`rag eval judge` and `rag eval train-judge`: judges measured against human labels, and the trainable one."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import typer

from evals.cli import eval_group, finish_run
from evals.squad import load_squad, write_squad_as_beir
from rag.cli.context import context


def register(app: typer.Typer) -> None:
    group = eval_group(app)
    group.command("judge")(judge_command)
    group.command("train-judge")(train_judge_command)
    group.command("train-answerability")(train_answerability_command)

def judge_for(app, name: str):
    """Any judge the answerer can use (`rag.judges.choice.build_judge`); the ones that read are given the active
    generation model."""
    from rag.errors import ConfigError
    from rag.judges.choice import build_judge, reads

    generator = app.generator() if reads(name) else None
    try:
        return build_judge(name, app.embedder, generator)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--judge") from exc


def judge_command(
    ctx: typer.Context,
    pairs_file: Path = typer.Argument(..., help="Faithfulness pairs: JSONL or JSONL.gz rows with context, claim, "
                                      "label (1 = supported)."),
    judge: str = typer.Option("alignment", "--judge", help="alignment | llm | combined | DIRECTORY of a "
                               "trained judge."),
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
    from evals.squad_eval import spread

    app = context(ctx)
    pairs = load_pairs(pairs_file)
    if skip_trained:
        pairs = split_pairs(pairs, skip_trained, seed)[1]
    pairs = spread(pairs, limit)
    chosen = judge_for(app, judge)
    items: list[dict] = []
    started = time.perf_counter()
    with Progress(console=app.console, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"judging {pairs_file.name}", total=len(pairs))
        result = {"dataset": pairs_file.name, **agreement(chosen, pairs, seed,
                                                          lambda n: progress.advance(task, n), items)}
    reader = getattr(chosen, "llm", None) or chosen
    generator = getattr(reader, "generator", None)  # a judge that reads names its model
    model = {"answerer": f"judge: {chosen.name}"} | ({"model_file": generator.model_path.name,
                                                        "model_sha256": generator.sha256} if generator else {})
    finish_run(app, "judge", pairs_file, result, items, time.perf_counter() - started, None, seed, as_json,
               model=model)


def train_judge_command(
    ctx: typer.Context,
    pairs_files: list[Path] = typer.Argument(None, help="Labelled pair files (JSONL or JSONL.gz)."),
    kind: str = typer.Option("cross-encoder", help="cross-encoder (fine-tunes the local MiniLM) | alignment "
                             "(fits the alignment judge's weights; needs labelled pairs) | combined (alignment "
                             "features and the active generation model's scored verdict; needs labelled pairs)."),
    collection: str = typer.Option(None, "--collection", "-c", help="Also make synthetic pairs from this "
                                   "collection's documents."),
    synthetic: int = typer.Option(2000, help="Synthetic pairs to make when --collection is given."),
    train_share: float = typer.Option(1.0, help="Train on this seeded share of each file (measure on the rest "
                                      "with `rag eval judge --skip-trained`)."),
    limit: int = typer.Option(0, help="At most N training pairs per file, evenly spread (0: all)."),
    out: Path = typer.Option(None, help="Where to save the judge (default: DATA_DIR/judges/KIND)."),
    epochs: int = typer.Option(2),
    lr: float = typer.Option(5e-5, help="Peak learning rate (linear warm-up over the first tenth, then decay)."),
    max_steps: int = typer.Option(0, help="Stop after this many steps (0: all epochs)."),
    seed: int = typer.Option(0),
) -> None:
    """Train a judge: the cross-encoder from the local MiniLM, or the alignment judge's weights. Prints its
    training card (held-out agreement and calibration); use it with `--judge DIRECTORY`."""
    from rich.progress import Progress

    from evals.faithfulness import load_pairs, split_pairs
    from evals.squad_eval import spread
    from evals.train_judge import fit_alignment, synthetic_pairs, train_judge
    from rag.embedder import resolve_model

    app = context(ctx)
    pairs, sources = [], []
    for path in pairs_files or []:
        share = spread(split_pairs(load_pairs(path), train_share, seed)[0], limit)
        pairs += [replace(p, dataset=path.name) for p in share]  # a file is one group when weighing data
        sources.append(f"{path.name} ({train_share:.0%} share, {len(share)} pairs)")
    if collection:
        with app.store.session() as session:
            coll = app.store.collection(session, collection)
            texts = app.store.document_texts(session, coll.id)
        pairs += synthetic_pairs(texts, synthetic, seed)
        sources.append(f"synthetic from collection {collection!r}")
    if not pairs:
        raise typer.BadParameter("give pair files and/or --collection")
    if kind not in ("cross-encoder", "alignment", "combined"):
        raise typer.BadParameter("use cross-encoder, alignment or combined", param_hint="--kind")
    out = out or app.settings.data_dir / "judges" / kind
    with Progress(console=app.console, transient=True) as progress:
        task = progress.add_task("training", total=None)
        if kind in ("alignment", "combined"):
            from rag.judges.alignment import EvidenceAlignmentJudge

            llm = judge_for(app, "llm") if kind == "combined" else None
            card = fit_alignment(pairs, EvidenceAlignmentJudge(app.embedder), out, seed=seed, sources=sources,
                                 llm=llm,
                                 progress=lambda done, total, _: progress.update(
                                     task, completed=done, total=total, description="aligning claims"))
        else:
            card = train_judge(pairs, out, resolve_model("default")[0], epochs=epochs, lr=lr,
                               max_steps=max_steps, seed=seed, sources=sources,
                               progress=lambda step, total, loss: progress.update(
                                   task, completed=step, total=total, description=f"training (loss {loss:.3f})"))
    print(json.dumps({"saved": str(out), **card}, indent=2))


def train_answerability_command(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A SQuAD 2.0 JSON file (answerable and unanswerable questions)."),
    limit: int = typer.Option(420, help="An evenly spread sample of N questions of the fitting half."),
    keep: float = typer.Option(0.92, min=0.5, max=1.0, help="Share of answerable questions the threshold keeps "
                               "(of their cross-validated scores)."),
    seed: int = typer.Option(0, help="Seed of the half split (`rag eval squad --skip-trained 0.5 --seed`)."),
    out: Path = typer.Option(None, help="Where to write the head (default: MODELS_DIR/heads/answerability-"
                             "SHA.json, where the answerer finds it)."),
) -> None:
    """Fit the answerability head for the active model: a logistic over the model's hidden state at its "do the
    sources state the answer?" verdict, on the half of a SQuAD 2.0 file that `rag eval squad --skip-trained 0.5`
    does not measure. Prints its card; the answerer uses it from then on (RAG_ANSWER__ANSWERABLE_BELOW unset)."""
    from rich.progress import Progress

    from evals.faithfulness import split_pairs
    from evals.squad_eval import spread
    from evals.train_answerability import train_answerability
    from rag.hashing import sha256_file

    app = context(ctx)
    dataset = load_squad(path)
    if not any(not q.answerable for q in dataset.questions):
        raise typer.BadParameter(f"{path}: no unanswerable questions; a head needs a SQuAD 2.0 file", param_hint="path")
    folder = write_squad_as_beir(path, app.settings.data_dir / "datasets")
    collection = f"beir-{folder.name}"
    app.ingest([folder / "corpus.jsonl"], collection)
    answerer = app.answerer(collection)
    questions = spread(split_pairs(dataset.questions, 0.5, seed)[0], limit)
    card = {"dataset": path.name, "dataset_sha256": sha256_file(path), "half": f"fitting half (0.5, seed {seed})",
            "limit": limit}
    with Progress(console=app.console, transient=True) as progress:
        task = progress.add_task("reading questions", total=len(questions))
        try:
            head = train_answerability(answerer, questions, keep, seed, card, lambda: progress.advance(task))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    out = out or app.settings.models_dir / "heads" / f"answerability-{head.model_sha256[:12]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(head.to_json(), encoding="utf-8")
    app.console.print_json(json.dumps(head.card | {"decline_below": head.decline_below, "written": str(out)}))
