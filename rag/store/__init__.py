"""The SQL store (SQLAlchemy 2.x, Alembic migrations): SQLite by default, PostgreSQL for teams."""

from rag.store.store import Store
from rag.store.tables import Chunk, Collection, Document, EvalRun, IndexGeneration, IngestRun

__all__ = ["Chunk", "Collection", "Document", "EvalRun", "IndexGeneration", "IngestRun", "Store"]
