"""`rag models pull` and `rag models show`: the generation model, fetched with its checksum, and what is active."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from rag.cli.context import context
from rag.errors import ModelError
from rag.models import active_model, default_model_file, download_url, hub_reachable, pull, sha256_of

models_app = typer.Typer(no_args_is_help=True, help="The local GGUF generation model.")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


@models_app.command("pull")
def pull_command(
    ctx: typer.Context,
    if_online: bool = typer.Option(False, "--if-online",
                                   help="When the hub is unreachable, say so in one line and exit 0."),
) -> None:
    """Download the pinned default model (RAG_GENERATOR__REPO/FILE) and verify its SHA-256."""
    app = context(ctx)
    url = download_url(app.settings)
    if if_online and not hub_reachable(url):
        app.console.print(f"[dim]no model hub reachable ({app.settings.generator.hub_url}): answers use the "
                          "offline extractive answerer[/]", highlight=False)
        return
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=app.console, transient=True) as progress:
        task = progress.add_task(f"pulling {app.settings.generator.file}", total=None)
        path = pull(app.settings, lambda done, total: progress.update(task, completed=done, total=total))
    app.console.print(f"model ready: {path} (SHA-256 verified)", highlight=False)


@models_app.command("show")
def show_command(ctx: typer.Context, verify: bool = typer.Option(False, "--verify",
                                                                 help="Also hash the pulled default file.")) -> None:
    """Which model answers questions, and whether the pulled default is present and intact."""
    app = context(ctx)
    settings = app.settings
    try:
        path = active_model(settings)
    except ModelError as exc:
        app.console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from exc
    app.console.print(f"active: {path or 'extractive answerer (no GGUF model)'}", highlight=False)
    default = default_model_file(settings)
    state = "present" if default.is_file() else "not pulled"
    if verify and default.is_file():
        state = "checksum OK" if sha256_of(default) == settings.generator.sha256.lower() else "CHECKSUM MISMATCH"
    app.console.print(f"default: {settings.generator.repo}/{settings.generator.file} ({state}) at {default}",
                      highlight=False)
