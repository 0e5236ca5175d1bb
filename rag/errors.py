"""The errors Groundwork raises. Each message names the cause and, where there is one, the fix."""


class RagError(Exception):
    """Base class of every error Groundwork raises on purpose."""


class ConfigError(RagError):
    """A setting is missing or wrong."""


class StoreError(RagError):
    """The database cannot be opened or is not in the expected state."""


class IndexMismatchError(RagError):
    """The vector index on disk and the database disagree; `rag index rebuild` repairs it."""


class EmbeddingModelMismatchError(RagError):
    """A collection was embedded with one model and is being used with another."""


class ParseError(RagError):
    """A file could not be turned into text. `reason` is shown to the user."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ModelError(RagError):
    """A generation model cannot be found, loaded or used."""


class ContextOverflowError(RagError):
    """A prompt and its answer do not fit the model's context window."""
