"""`rag tune embedder|reranker|generator|list|show|use|revert`: models tuned on a collection, adopted only when
held-out evaluation improves, and switched back and forth."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from evals.tuning.training import TrainConfig
from evals.tuning.tuner import KINDS, TuneOptions, plan, tune
from rag.cli import command_group
from rag.cli.context import context

TUNE_HELP = ("Tune the retriever or the local model on a collection's own documents; adopt only what held-out "
             "evaluation proves.")


def register(app: typer.Typer) -> None:
    group = command_group(app, "tune", TUNE_HELP)
    group.command("embedder")(_tune_command("embedder", "Fine-tune the embedder on questions made from the "
                                            "collection; adopt it when held-out dense retrieval improves."))
    group.command("reranker")(_tune_command("reranker", "Train a cross-encoder reranker (from the base MiniLM) on "
                                            "questions made from the collection; adopt it when it improves "
                                            "held-out ranking."))
    group.command("generator")(_tune_command("generator", "Train a LoRA adapter of the local model on cited "
                                             "answers and abstentions made from the collection; adopt it when "
                                             "held-out grounded answers improve. Long on CPU (about 80 s a step "
                                             "with the 1.5B model on 2 cores)."))
    group.command("list")(list_tuned)
    group.command("show")(show)
    group.command("use")(use)
    group.command("revert")(revert)


class _Bars:
    """The tuner's stages as rich progress bars: steps, the last loss, time elapsed and left."""

    def __init__(self, bar: Progress):
        self.bar = bar
        self.task = None

    def stage(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[-1].total or 0)
        self.task = self.bar.add_task(name, total=total, info="")

    def advance(self, count: int = 1, info: str = "") -> None:
        self.bar.update(self.task, advance=count, info=info)


def _tune_command(kind: str, help_text: str):
    def command(
        ctx: typer.Context,
        collection: str = typer.Option(None, "--collection", "-c", help="The collection (default: the default)."),
        examples: int = typer.Option(None, help="Chunks sampled to write questions for (embedder, reranker: "
                                     "1500; generator: 200)."),
        questions: str = typer.Option("auto", help="auto (the local model where installed), model or heuristic."),
        held_out: float = typer.Option(0.2, help="Share of documents whose questions are held out."),
        epochs: int = typer.Option(None, min=1, help="Passes over the training data (reranker: 3; else 1)."),
        batch_size: int = typer.Option(None, min=2, help="Examples a step (embedder: 32; reranker: 16; "
                                       "generator: 4)."),
        learning_rate: float = typer.Option(None, help="Embedder: 3e-5; reranker: 1e-4; generator (LoRA): 2e-4."),
        max_steps: int = typer.Option(0, help="Stop after this many steps (0: all epochs)."),
        seed: int = typer.Option(0),
        margin: float = typer.Option(None, help="Gain of the held-out figure needed to adopt (nDCG@10: 0.01; "
                                     "the generator's grounded-answer score: 0.02)."),
        labelled: Path = typer.Option(None, help="A BEIR folder of this collection's corpus: also scored before "
                                      "and after (never trained on)."),
        split: str = typer.Option(None, help="qrels split of --labelled."),
        labelled_limit: int = typer.Option(0, help="Score only this many --labelled queries, evenly spread."),
        no_adopt: bool = typer.Option(False, "--no-adopt", help="Train and measure, but do not switch."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Check and show the plan; train nothing."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        app = context(ctx)
        name = app.collection_name(collection)
        defaults = KINDS[kind].defaults
        examples = examples or defaults["examples"]
        batch_size = batch_size or defaults["batch_size"]
        learning_rate = learning_rate or defaults["learning_rate"]
        epochs = epochs or defaults["epochs"]
        options = TuneOptions(examples=examples, held_out_share=held_out, questions=questions, margin=margin,
                              adopt=not no_adopt, labelled=str(labelled) if labelled else None,
                              labelled_split=split, labelled_limit=labelled_limit, train=TrainConfig(
                                  epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                                  max_steps=max_steps, seed=seed))
        if dry_run:
            result = plan(app, name, options, kind)
            if as_json:
                print(json.dumps(result, indent=2))
            else:
                for key, value in result.items():
                    if key != "options":
                        app.console.print(f"{key:>16}  {value}", highlight=False, soft_wrap=True)
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
        with Progress(*columns, console=app.console, transient=as_json, disable=as_json) as bar:
            card = tune(app, name, kind, options, _Bars(bar))
        if as_json:
            print(json.dumps(card, indent=2))
            return
        _print_card(app.console, card)

    command.__doc__ = f"{help_text} Resumable: rerun the same command after a kill."
    return command


def _print_card(console, card: dict) -> None:
    table = Table("", "base", "tuned", title=f"tuned model {card['id']} ({card['model_id']}) of {card['collection']!r}")
    for name, before, after in card["figures"]:
        table.add_row(name, _figure(before), _figure(after))
    console.print(table)
    training = card["training"]
    console.print(f"{card['train_examples']} training / {card['held_out_examples']} held-out questions "
                  f"({card['questions']}); {training['steps']} steps, {training['train_seconds']} s "
                  f"({training['seconds_per_step']} s/step); loss {training['first_loss']} -> "
                  f"{training['last_loss']}", highlight=False)
    console.print(card["gate"]["reason"], highlight=False)
    console.print(f"evaluation runs {card['runs']['before']} (base) and {card['runs']['after']} (tuned): "
                  f"`rag eval compare {card['runs']['before']} {card['runs']['after']}`", highlight=False)


def list_tuned(
    ctx: typer.Context,
    collection: str = typer.Option(None, "--collection", "-c", help="Only this collection's models."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The tuned models, newest first, with their held-out figures and status."""
    app = context(ctx)
    rows = app.tuned_models(collection)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "collection", "kind", "status", "created", "held-out before", "after", "gate")
    for row in rows:
        card = row["card"] or {}
        gate = card.get("gate") or {}
        table.add_row(str(row["id"]), row["collection"], row["kind"], row["status"], row["created"][:16],
                      _figure(gate.get("before")), _figure(gate.get("after")), gate.get("reason", ""))
    app.console.print(table)


def show(ctx: typer.Context, tuned_id: int = typer.Argument(..., help="The id `rag tune list` shows.")) -> None:
    """A tuned model's card (JSON)."""
    print(json.dumps(context(ctx).tuned_model(tuned_id), indent=2))


def use(
    ctx: typer.Context,
    tuned_id: int = typer.Argument(..., help="The id `rag tune list` shows."),
    force: bool = typer.Option(False, "--force", help="Also a model the gate rejected."),
) -> None:
    """Make the collection use this tuned model (its vectors are made first; the index is rebuilt)."""
    app = context(ctx)
    name = app.use_tuned(tuned_id, force=force)
    app.console.print(f"collection {name!r} now uses tuned model {tuned_id}", highlight=False)


def revert(
    ctx: typer.Context,
    collection: str = typer.Option(None, "--collection", "-c"),
    kind: str = typer.Option("embedder", help="embedder (back to the base model), reranker (none) or generator "
                             "(the model without adapter)."),
) -> None:
    """Stop using the collection's tuned model: the base embedder's vectors are kept, so this only rebuilds the
    index; a tuned reranker or generator adapter is simply no longer used."""
    app = context(ctx)
    name = app.collection_name(collection)
    app.revert_tuned(name, kind)
    app.console.print(f"collection {name!r} no longer uses a tuned {kind}", highlight=False)


def _figure(value) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
