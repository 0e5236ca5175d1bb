"""The `rag` command. Packages that build on rag add sub-commands through the entry-point group
`groundwork.commands` (a function taking the typer app), so this package never imports them."""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points

import typer

from rag.cli.context import AppContext
from rag.errors import RagError

# Entry-point environment: keep every library offline and quiet before any of them is imported.
OFFLINE_DEFAULTS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1",
                    "UNSTRUCTURED_DISABLE_NOTICE": "1", "TOKENIZERS_PARALLELISM": "false"}

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Groundwork: grounded answers from your own documents, offline.")


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = AppContext.from_environment()


def _register_builtin() -> None:
    from rag.cli import ask, doctor, index_commands, library, models_commands, serve_commands, ui_command

    ask.register(app)
    doctor.register(app)
    index_commands.register(app)
    library.register(app)
    models_commands.register(app)
    serve_commands.register(app)
    ui_command.register(app)


def _register_plugins() -> None:
    for entry in entry_points(group="groundwork.commands"):
        entry.load()(app)


def main() -> None:
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    _register_builtin()
    _register_plugins()
    try:
        app()
    except RagError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
