"""What every command shares: the Settings built once at the entry point, and lazily opened resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import typer
from rich.console import Console

from rag.embedder import Embedder, build_embedder
from rag.settings import Settings
from rag.store import Store


@dataclass
class AppContext:
    settings: Settings
    console: Console = field(default_factory=Console)

    @classmethod
    def from_environment(cls) -> AppContext:
        return cls(Settings())

    @cached_property
    def store(self) -> Store:
        return Store.open(self.settings.resolved_database_url)

    @cached_property
    def embedder(self) -> Embedder:
        return build_embedder(self.settings.embedding)


def context(ctx: typer.Context) -> AppContext:
    return ctx.find_root().obj
