"""`rag ask "QUESTION"`: a grounded answer with numbered, checkable sources, or an honest abstention."""

from __future__ import annotations

import json

import typer

from rag.answering import ExtractiveAnswerer, describe_source
from rag.cli.context import context
from rag.judge import EvidenceAlignmentJudge
from rag.retrieval import HybridRetriever


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)


def ask(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="Your question."),
    collection: str = typer.Option(None, "--collection", "-c", help="Default: RAG_DEFAULT_COLLECTION."),
    k: int = typer.Option(0, "--k", help="Sources to retrieve (0: RAG_RETRIEVAL__K)."),
    mode: str = typer.Option(None, "--mode", help="flag | strip | abstain (default: RAG_ANSWER__MODE)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Answer from your documents only, citing each sentence's source."""
    app = context(ctx)
    settings = app.settings.answer if mode is None else app.settings.answer.model_copy(update={"mode": mode})
    if settings.mode not in ("flag", "strip", "abstain"):
        raise typer.BadParameter("use flag, strip or abstain", param_hint="--mode")
    retriever = HybridRetriever.open(app.store, app.settings, app.embedder,
                                     collection or app.settings.default_collection)
    answerer = ExtractiveAnswerer(retriever, app.embedder, EvidenceAlignmentJudge(app.embedder), settings)
    answer = answerer.answer(question, k=k or None)
    if as_json:
        print(json.dumps(answer.to_json(), indent=2, default=str))
        return
    console = app.console
    console.print("[dim]answerer: extractive (offline; no GGUF model configured)[/]")
    if answer.abstained:
        console.print(f"[bold]{answer.answer}[/]")
        if answer.closest:
            console.print("\nClosest passages found:")
        for c in answer.closest[:3]:
            console.print(f"  [{c.number}] {describe_source(c)}: {c.text[:200]}", markup=False, highlight=False)
        return
    for sentence in answer.sentences:
        mark = "" if sentence.supported else "  [yellow](not supported by its source)[/]"
        console.print(f"{sentence.text} [bold]\\[{', '.join(map(str, sentence.cited))}][/]{mark}", highlight=False)
    console.print(f"\ngroundedness {answer.groundedness:.2f}\n\nSources:")
    for citation in answer.citations:
        support = next((s.evidence for s in answer.sentences if citation.number in s.cited), "")
        console.print(f"  [{citation.number}] {describe_source(citation)}", markup=False, highlight=False)
        console.print(f"      \u201c{support}\u201d", markup=False, highlight=False)
