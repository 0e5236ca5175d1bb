"""`rag docs list|show|rm` and `rag collections list|rm`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from rag.cli.context import context
from rag.library import delete_collection, delete_documents, find_documents, flagged_pages
from rag.sources import source_file

docs_app = typer.Typer(no_args_is_help=True, help="The documents of a collection.")
collections_app = typer.Typer(no_args_is_help=True, help="Collections of documents.")


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")
    app.add_typer(collections_app, name="collections")


def _collection_option():
    return typer.Option(None, "--collection", "-c", help="Default: RAG_DEFAULT_COLLECTION.")


@docs_app.command("list")
def docs_list(ctx: typer.Context, collection: str = _collection_option(),
              as_json: bool = typer.Option(False, "--json")):
    """Every document with its status, type, pages, chunks and error."""
    app = context(ctx)
    records = app.documents(collection)
    if as_json:
        print(json.dumps(records, indent=2))
        return
    table = Table("id", "source", "status", "type", "pages", "chunks", "flagged pages", "error",
                  title=f"collection {app.collection_name(collection)}")
    table.columns[1].overflow = "fold"
    for r in records:
        status = "[green]ingested[/]" if r["status"] == "ingested" and not r["error"] else f"[red]{r['status']}[/]"
        kind = source_file(r["source"]).suffix.lstrip(".") or str(r["type"] or "")
        table.add_row(str(r["id"]), _short(r["source"]), status, kind, str(r["pages"] or ""),
                      str(r["chunks"]), _pages(r["flagged_pages"]), r["error"] or "")
    app.console.print(table)


def _pages(flagged: dict[str, str]) -> str:
    pages = list(flagged)
    return ", ".join(pages[:8]) + (f" (+{len(pages) - 8})" if len(pages) > 8 else "")


def _short(source: str) -> str:
    """A source path relative to the working directory when it lies below it."""
    path = Path(source)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else source


@docs_app.command("show")
def docs_show(ctx: typer.Context, document: str = typer.Argument(..., help="Document id or part of its path."),
              collection: str = _collection_option(), chunks: bool = typer.Option(False, help="Print the chunks.")):
    """One document's record, per-page statistics and (optionally) its chunks."""
    app = context(ctx)
    with app.store.session() as session:
        coll = app.store.collection(session, collection or app.settings.default_collection)
    for doc in find_documents(app.store, coll, document):
        app.console.print(f"[bold]{doc.source}[/] (id {doc.id})")
        for key in ("status", "error", "title", "filetype", "parser", "sha256", "size", "page_count"):
            app.console.print(f"  {key}: {getattr(doc, key)}", highlight=False)
        for note in doc.notes or []:
            app.console.print(f"  note: {note}", highlight=False, markup=False)
        _page_quality(app, doc.page_stats)
        with app.store.session() as session:
            rows = app.store.document_chunks(session, doc.id)
        app.console.print(f"  chunks: {len(rows)}")
        for c in rows if chunks else []:
            where = f"p.{c.page_start}" if c.page_start else ""
            app.console.print(f"  [{c.ordinal}] #{c.id} {where} {' > '.join(c.section_path or [])} "
                              f"chars {c.char_start}-{c.char_end}, {c.token_count} tokens", highlight=False)
            app.console.print("    " + c.text[:300].replace("\n", " "), highlight=False, markup=False)


def _page_quality(app, page_stats: dict | None) -> None:
    """OCR confidence per OCR'd page, and the pages to check (little text, doubtful OCR)."""
    if not page_stats:
        return
    ocr = {page: info["ocr_confidence"] for page, info in page_stats.items() if "ocr_confidence" in info}
    if ocr:
        app.console.print(f"  OCR'd pages: {len(ocr)} of {len(page_stats)}; confidence per page: "
                          + ", ".join(f"{page}: {value:.0f}" for page, value in ocr.items()), highlight=False)
    flagged = flagged_pages(page_stats, app.settings.ingest)
    app.console.print(f"  pages to check: {', '.join(f'{p} ({why})' for p, why in flagged.items()) or 'none'}",
                      highlight=False)


@docs_app.command("rm")
def docs_rm(ctx: typer.Context, document: str = typer.Argument(..., help="Document id or part of its path."),
            collection: str = _collection_option(), yes: bool = typer.Option(False, "--yes", "-y")):
    """Remove documents (by id or path fragment) and their chunks from the store and the index."""
    app = context(ctx)
    with app.store.session() as session:
        coll = app.store.collection(session, collection or app.settings.default_collection)
    matches = find_documents(app.store, coll, document)
    if not matches:
        app.console.print(f"no document matches {document!r} in collection {coll.name}")
        raise typer.Exit(1)
    for doc in matches:
        app.console.print(f"  {doc.id} {doc.source}")
    if not yes and not typer.confirm(f"remove these {len(matches)} document(s)?"):
        raise typer.Exit(1)
    removed = delete_documents(app.store, app.settings, coll, [d.id for d in matches])
    app.console.print(f"removed {len(matches)} document(s), {removed} chunk(s)")


@collections_app.command("list")
def collections_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")):
    """Collections with their document and chunk counts and embedding model."""
    app = context(ctx)
    rows = [c.to_json() for c in app.collections()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("collection", "documents", "chunks", "embedding model")
    for r in rows:
        table.add_row(r["name"], str(r["documents"]), str(r["chunks"]), str(r["model"] or ""))
    app.console.print(table)


@collections_app.command("rm")
def collections_rm(ctx: typer.Context, name: str, yes: bool = typer.Option(False, "--yes", "-y")):
    """Remove a collection with all its documents, chunks and its index."""
    app = context(ctx)
    if not yes and not typer.confirm(f"remove collection {name!r} and everything in it?"):
        raise typer.Exit(1)
    delete_collection(app.store, app.settings, name)
    app.console.print(f"removed collection {name}")
