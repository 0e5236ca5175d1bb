"""`rag doctor`: the report of `rag.doctor` as a table or JSON; exit 1 on a problem."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from rag.cli.context import context


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Versions, paths, models, FAISS build and GPUs, and a package-ownership check. Exit 1 on a problem."""
    app = context(ctx)
    info = app.doctor_report()
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        table = Table("check", "value", show_header=False, title="rag doctor")
        table.add_row("python", info["python"])
        table.add_row("machine", info["machine"])
        for name, ver in info["versions"].items():
            table.add_row(name, ver)
        table.add_row("data dir", info["data_dir"])
        table.add_row("database", info["database_url"])
        model = info["embedding_model"]
        table.add_row("embedding model", f"{model['id']}\n  from {model['path']}\n  precision {model['precision']}"
                      f" (CPU bf16: {'yes' if model['cpu_bf16'] else 'no'})")
        faiss = info["faiss"]
        table.add_row("faiss", f"{faiss['version']} ({faiss['build']} build), GPUs: {faiss['gpus']}")
        table.add_row("unstructured NLP", info["unstructured_nlp"])
        for name, value in info["converters"].items():
            table.add_row(name, value)
        packages = "\n".join(info["package_problems"]) or "rag, ingest, evals, ui belong to groundwork-rag"
        table.add_row("import packages", packages)
        app.console.print(table)
    if info["package_problems"]:
        raise typer.Exit(1)
