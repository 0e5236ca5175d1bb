"""`rag serve` (the HTTP API) and `rag keys create|list|revoke` (who may call it)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from rag.api_keys import SCOPES, create_key, list_keys, revoke_key
from rag.cli.context import context

keys_app = typer.Typer(no_args_is_help=True, help="API keys for `rag serve` (only their hashes are stored).")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")


def serve(ctx: typer.Context,
          address: str = typer.Option(None, help="Default: RAG_API__ADDRESS (127.0.0.1: this machine only)."),
          port: int = typer.Option(None, help="Default: RAG_API__PORT.")) -> None:
    """The HTTP API: OpenAI-compatible /v1/chat/completions, /v1/models, /v1/embeddings, and native
    endpoints (docs at /docs, schema at /openapi.json)."""
    import uvicorn

    from rag.api.app import create_app

    app = context(ctx)
    settings = app.settings.api
    if not list_keys(app.store):
        app.console.print("[yellow]no API key yet:[/] every request will get 401. Make one with "
                          "`rag keys create NAME --scope write`.")
    uvicorn.run(create_app(app), host=address or settings.address, port=port or settings.port,
                log_level="info", server_header=False)


@keys_app.command("create")
def keys_create(ctx: typer.Context, name: str = typer.Argument(..., help="Who or what the key is for."),
                scope: str = typer.Option("read", help=f"One of {', '.join(SCOPES)}: read asks and lists; write "
                                          "also uploads and deletes documents; admin also manages collections."),
                collection: list[str] = typer.Option(None, "--collection", "-c",
                                                     help="Collections it may touch (repeat); default: all.")):
    """Makes a key and prints it once: store it now, only its hash is kept."""
    app = context(ctx)
    key = create_key(app.store, name, scope, collection or None)
    app.console.print(f"key for {name!r} (scope {scope}, collections: {', '.join(collection) if collection else 'all'}):")
    print(key)


@keys_app.command("list")
def keys_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")):
    """The keys: name, prefix, scope, collections, when made and last used (never the key)."""
    app = context(ctx)
    records = list_keys(app.store)
    if as_json:
        print(json.dumps([r.__dict__ for r in records], indent=2, default=str))
        return
    table = Table("id", "name", "prefix", "scope", "collections", "created", "last used", "revoked")
    for r in records:
        table.add_row(str(r.id), r.name, r.prefix, r.scope, ", ".join(r.collections or ["all"]),
                      f"{r.created_at:%Y-%m-%d %H:%M}" if r.created_at else "",
                      f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "", "yes" if r.revoked else "")
    app.console.print(table)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key: str = typer.Argument(..., help="The key's id, prefix or name.")):
    """Revokes a key at once (requests with it get 401)."""
    app = context(ctx)
    count = revoke_key(app.store, key)
    if not count:
        app.console.print(f"no unrevoked key with id, prefix or name {key!r} (`rag keys list`)")
        raise typer.Exit(1)
    app.console.print(f"revoked {count} key(s)")
