"""`rag ingest`: parse, chunk, embed and index files, incrementally. Registered through an entry point."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.pipeline import IngestSummary
from rag.cli.context import context


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or folders to ingest."),
    collection: str = typer.Option(None, "--collection", "-c", help="Default: RAG_DEFAULT_COLLECTION."),
    sync: bool = typer.Option(False, "--sync", help="Remove documents whose files are gone."),
    workers: int = typer.Option(0, "--workers", "-w", help="Parser processes (0: RAG_INGEST__WORKERS)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be ingested; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary object."),
) -> None:
    """Ingest documents. Unchanged files are skipped; changed files replace their old chunks."""
    app = context(ctx)
    name = collection or app.settings.default_collection
    if as_json or dry_run:
        summary = app.ingest(paths, name, sync=sync, dry_run=dry_run, workers=workers or None)
    else:
        summary = _run_with_progress(app, paths, name, sync, workers)
    if as_json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        _print_summary(app.console, summary, dry_run)
    if summary.failed and summary.ingested == 0 and summary.skipped == 0:
        raise typer.Exit(1)


def _run_with_progress(app, paths, name, sync, workers) -> IngestSummary:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[chunks]} chunks, {task.fields[rate]:.1f} chunks/s"), TimeElapsedColumn())
    with Progress(*columns, console=app.console, transient=False) as bar:
        task = bar.add_task("files", total=None, chunks=0, rate=0.0)
        started = time.perf_counter()
        state = {"chunks": 0}

        def on_progress(event: str, data: dict) -> None:
            if event == "start":
                bar.update(task, total=data["files"])
                return
            state["chunks"] += data["chunks"]
            rate = state["chunks"] / max(time.perf_counter() - started, 1e-6)
            bar.update(task, advance=data["documents"], chunks=state["chunks"], rate=rate)

        return app.ingest(paths, name, on_progress, sync=sync, workers=workers or None)


def _print_summary(console, summary: IngestSummary, dry_run: bool) -> None:
    if dry_run:
        console.print(f"dry run: {len(summary.would_ingest)} file(s) would be ingested, "
                      f"{summary.skipped} unchanged")
        for path in summary.would_ingest:
            console.print(f"  {path}", highlight=False)
    table = Table(title=f"ingest into {summary.collection!r}", show_header=False)
    for label, value in (("files seen", summary.files_seen), ("ingested", summary.ingested),
                         ("unchanged (skipped)", summary.skipped), ("failed", len(summary.failed)),
                         ("removed (--sync)", summary.removed), ("chunks added", summary.chunks_added),
                         ("chunks removed", summary.chunks_removed), ("chunks embedded", summary.chunks_embedded),
                         ("seconds", f"{summary.seconds:.2f}")):
        table.add_row(label, str(value))
    console.print(table)
    if summary.noted:
        notes = Table("file", "note", title="ingested, with notes")
        for item in summary.noted:
            notes.add_row(item["path"], "\n".join(item["notes"]))
        console.print(notes)
    if summary.failed:
        failures = Table("file", "reason", title="[red]not ingested[/]")
        for item in summary.failed:
            failures.add_row(item["path"], item["reason"])
        console.print(failures)
