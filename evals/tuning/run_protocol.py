"""What every tuner run shares with its callers: the error that stops a run, and the progress it reports."""

from __future__ import annotations

from typing import Protocol

from rag.errors import RagError


class TuningError(RagError):
    """A tuning run that cannot go on; the message says why and what to do."""


class Progress(Protocol):
    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, count: int = 1, info: str = "") -> None: ...
