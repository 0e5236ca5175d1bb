"""`rag index info|verify|rebuild`."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from rag.cli.context import context
from rag.index.collection_index import CollectionIndex, index_path

index_app = typer.Typer(no_args_is_help=True, help="Inspect, verify and rebuild vector indexes.")
CollectionOption = typer.Option(None, "--collection", "-c", help="Default: every collection.")


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")


def _collections(ctx, name):
    app = context(ctx)
    with app.store.session() as session:
        if name:
            return [app.store.collection(session, name)]
        return [app.store.collection(session, n) for n in app.store.collection_names(session)]


@index_app.command("info")
def info(ctx: typer.Context, collection: str = CollectionOption, as_json: bool = typer.Option(False, "--json")):
    """The manifest of each collection's index."""
    app = context(ctx)
    rows = []
    for coll in _collections(ctx, collection):
        with app.store.session() as session:
            manifest = app.store.current_manifest(session, coll.id)
        path = index_path(app.settings, coll)
        rows.append({
            "collection": coll.name, "generation": manifest.generation if manifest else None,
            "factory": manifest.factory if manifest else None,
            "vectors": manifest.vector_count if manifest else 0,
            "model": coll.embedding_model, "dim": coll.embedding_dim,
            "checksum": manifest.checksum if manifest else None,
            "file": str(path), "bytes": path.stat().st_size if path.exists() else None,
        })
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("collection", "generation", "factory", "vectors", "model", "file")
    for r in rows:
        table.add_row(r["collection"], str(r["generation"]), str(r["factory"]), str(r["vectors"]),
                      str(r["model"]), r["file"])
    app.console.print(table)


@index_app.command("verify")
def verify(ctx: typer.Context, collection: str = CollectionOption, as_json: bool = typer.Option(False, "--json")):
    """Check that each index file and the database agree (checksum, count, ids). Exit 1 if not."""
    app = context(ctx)
    reports = {}
    for coll in _collections(ctx, collection):
        report = CollectionIndex(app.store, app.settings, coll, None, None).verify()
        reports[coll.name] = report.__dict__
        if not as_json:
            status = "[green]ok[/]" if report.ok else "[red]MISMATCH[/]"
            app.console.print(f"{coll.name}: {status} generation {report.generation}, "
                              f"{report.chunks_in_database} chunks in the database")
            for problem in report.problems:
                app.console.print(f"  - {problem}")
            if not report.ok:
                app.console.print(f"  fix: rag index rebuild --collection {coll.name}")
    if as_json:
        print(json.dumps(reports, indent=2))
    if not all(r["ok"] for r in reports.values()):
        raise typer.Exit(1)


@index_app.command("rebuild")
def rebuild(ctx: typer.Context, collection: str = CollectionOption):
    """Rebuild indexes from the embeddings stored in the database (no re-embedding)."""
    app = context(ctx)
    for coll in _collections(ctx, collection):
        rebuilt = CollectionIndex.rebuild(app.store, app.settings, coll)
        manifest = rebuilt.manifest
        app.console.print(f"{coll.name}: rebuilt generation {manifest.generation if manifest else '-'} "
                          f"({manifest.vector_count if manifest else 0} vectors, "
                          f"{manifest.factory if manifest else 'empty'})")
