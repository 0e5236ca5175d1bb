"""The SQL store (SQLAlchemy 2.x, Alembic migrations): SQLite by default, PostgreSQL for teams."""

from rag.store.models import Chunk, Collection, Document, EvalRun, IndexGeneration, IngestRun
from rag.store.store import Store

__all__ = ["Chunk", "Collection", "Document", "EvalRun", "IndexGeneration", "IngestRun", "Store"]
