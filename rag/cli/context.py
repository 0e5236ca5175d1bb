"""What every command shares: the workspace (`rag.workspace`) built from the Settings once at the entry
point, and the console it prints to."""

from __future__ import annotations

import typer
from rich.console import Console

from rag.settings import Settings
from rag.workspace import Workspace


class AppContext(Workspace):
    def __init__(self, settings: Settings, console: Console | None = None):
        super().__init__(settings)
        self.console = console or Console()

    @classmethod
    def from_environment(cls) -> AppContext:
        return cls(Settings())


def context(ctx: typer.Context) -> AppContext:
    return ctx.find_root().obj
