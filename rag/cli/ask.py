"""`rag ask "QUESTION"`: a grounded answer with numbered, checkable sources, or an honest abstention."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from rag.answer.choice import describe
from rag.answer.contract import describe_source
from rag.cli.context import context
from rag.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("chat")(chat)


def _answerer(app, collection: str | None, mode: str | None):
    try:
        return app.answerer(collection, mode=mode)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mode") from exc


class _Streamed:
    """Writes a generated answer to the console as it comes (the verified version follows)."""

    def __init__(self, console):
        self.console, self.written = console, False

    def __call__(self, piece: str) -> None:
        self.written = True
        self.console.out(piece, end="", highlight=False)

    def end(self) -> bool:
        if self.written:  # a question declined before the model was asked streams nothing
            self.console.out("")
        return self.written


def _answer(answerer, console, question: str, k: int | None = None, stream: bool = True):
    """Streams a generated answer as it is written; extractive answers are composed at once."""
    streamed = _Streamed(console) if stream and getattr(answerer, "generator", None) is not None else None
    answer = answerer.answer(question, k=k, on_text=streamed)
    return answer, streamed.end() if streamed else False


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
    answerer = _answerer(app, collection, mode)
    if as_json:
        answer, _ = _answer(answerer, app.console, question, k or None, stream=False)
        print(json.dumps(answer.to_json(), indent=2, default=str))
        return
    app.console.print(f"[dim]{escape(describe(answerer))}[/]")
    answer, streamed = _answer(answerer, app.console, question, k or None)
    print_answer(app.console, answer, streamed)


def chat(
    ctx: typer.Context,
    collection: str = typer.Option(None, "--collection", "-c", help="Default: RAG_DEFAULT_COLLECTION."),
    mode: str = typer.Option(None, "--mode", help="flag | strip | abstain (default: RAG_ANSWER__MODE)."),
) -> None:
    """An interactive session: follow-up questions are made standalone; the session is stored."""
    app = context(ctx)
    answerer = _answerer(app, collection, mode)
    console = app.console
    console.print(f"[dim]{escape(describe(answerer))}[/]")
    console.print(f"[dim]Ask about collection {answerer.retriever.collection.name!r}. "
                  "/new starts a new chat, /quit (or Ctrl-D) ends.[/]")
    session_id = None
    while True:
        try:
            question = console.input("[bold]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if question in ("/quit", "/exit"):
            break
        if question == "/new":
            session_id = None
            console.print("[dim]new chat[/]")
            continue
        if not question:
            continue
        streamed = _Streamed(console) if getattr(answerer, "generator", None) is not None else None
        turn = app.chat_turn(question, collection, session_id, mode=mode, on_text=streamed, on_standalone=lambda q:
                             console.print(f"[dim](searching for: {escape(q)})[/]", highlight=False))
        session_id = turn.session_id
        answer, streamed = turn.answer, streamed.end() if streamed else False
        print_answer(console, answer, streamed)
        console.print()


def print_answer(console, answer, streamed: bool = False) -> None:
    """The verified answer: each sentence with its sources (unsupported ones marked), then the sources with
    the sentence that supports each. After a streamed draft, the verified sentences are shown again."""
    if streamed:
        console.print("\n[dim]verified:[/]")
    for warning in answer.warnings:
        console.print(f"[yellow]note:[/] {escape(warning)}", highlight=False)
    if answer.abstained:
        console.print(f"[bold]{answer.answer}[/]")
        if answer.closest:
            console.print("\nClosest passages found:")
        for c in answer.closest[:3]:
            console.print(f"  [{c.number}] {describe_source(c)}: {c.text[:200]}", markup=False, highlight=False)
        return
    for sentence in answer.sentences:
        mark = "" if sentence.supported else "  [yellow](not supported by its source)[/]"
        console.print(f"{escape(sentence.text)} [bold]\\[{', '.join(map(str, sentence.cited))}][/]{mark}",
                      highlight=False)
    relevance = "" if answer.relevance is None else f", answers the question {answer.relevance:.2f}"
    console.print(f"\ngroundedness {answer.groundedness:.2f}{relevance}\n\nSources:")
    for citation in answer.citations:
        support = next((s.evidence for s in answer.sentences if citation.number in s.cited), "")
        console.print(f"  [{citation.number}] {describe_source(citation)}", markup=False, highlight=False)
        console.print(f"      \u201c{support}\u201d", markup=False, highlight=False)
