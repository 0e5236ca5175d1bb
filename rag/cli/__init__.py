"""The `rag` command. Every command module, rag's own and those of the packages built on it (ingest, evals,
ui), is attached the same way: an entry point in the group `groundwork.commands` naming its
`register(app)`, which adds its commands, and joins a shared group (`rag eval ...`, `rag bench ...`) through
`command_group`. So rag never imports the packages above it."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

from rag import offline
from rag.cli.context import AppContext
from rag.errors import RagError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Groundwork: grounded answers from your own documents, offline.")


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = AppContext.from_environment()


def command_group(root: typer.Typer, name: str, help: str = "") -> typer.Typer:
    """The sub-command group `name` (`rag NAME ...`), made by whichever module asks first."""
    for info in root.registered_groups:
        if info.name == name:
            return info.typer_instance
    group = typer.Typer(no_args_is_help=True, help=help)
    root.add_typer(group, name=name)
    return group


def register_commands(root: typer.Typer) -> None:
    """rag's own commands first, then those of the packages built on it, each in the order its package lists."""
    entries = sorted(entry_points(group="groundwork.commands"), key=lambda e: not e.value.startswith("rag."))
    for entry in entries:
        entry.load()(root)


def main() -> None:
    offline.apply()  # before any library is imported
    register_commands(app)
    try:
        app()
    except RagError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
