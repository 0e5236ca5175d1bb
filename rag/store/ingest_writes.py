"""The store's reads and writes for ingestion (mixed into `Store`): documents by source, their replacement
with new chunks, failures kept with their reason, and the record of each ingest run."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rag.store.tables import Chunk, Collection, Document, IngestRun, utcnow


class IngestWrites:
    def collection_exists(self, session: Session, name: str) -> bool:
        return session.scalar(select(Collection.id).where(Collection.name == name)) is not None

    def documents_by_source(self, session: Session, collection_id: int) -> dict[str, Document]:
        return {d.source: d for d in session.scalars(select(Document).where(Document.collection_id == collection_id))}

    def touch_document(self, session: Session, document_id: int, size: int, mtime_ns: int) -> None:
        document = session.get(Document, document_id)
        document.size, document.mtime_ns = size, mtime_ns

    def remove_document(self, session: Session, document_id: int) -> list[int]:
        """Deletes a document and its chunks; the chunk ids removed (for the index)."""
        removed = self.delete_document_chunks(session, document_id)
        session.delete(session.get(Document, document_id))
        return removed

    def set_embedding_model(self, session: Session, collection: Collection, model: str, dim: int) -> None:
        stored = session.get(Collection, collection.id)
        stored.embedding_model, stored.embedding_dim = model, dim
        collection.embedding_model, collection.embedding_dim = model, dim

    def replace_document(self, session: Session, collection_id: int, source: str, previous_id: int | None,
                         fields: dict, chunks: list[Chunk]) -> tuple[Document, list[int]]:
        """The document (new, or the previous version updated) with `fields` and exactly these chunks; the ids
        of the chunks it had before (for the index)."""
        document = session.get(Document, previous_id) if previous_id else None
        removed: list[int] = []
        if document is None:
            document = Document(collection_id=collection_id, source=source)
            session.add(document)
        else:
            removed = self.delete_document_chunks(session, document.id)
        for name, value in fields.items():
            setattr(document, name, value)
        session.flush()
        for chunk in chunks:
            chunk.document_id = document.id
        session.add_all(chunks)
        return document, removed

    def record_failed_document(self, session: Session, collection_id: int, source: str, previous: Document | None,
                               fields: dict, reason: str) -> None:
        """A file that could not be read: recorded with its reason; an earlier good version stays searchable."""
        if previous is not None and previous.status == "ingested":
            session.get(Document, previous.id).error = f"the latest version could not be ingested: {reason}"
            return
        document = session.get(Document, previous.id) if previous else None
        if document is None:
            document = Document(collection_id=collection_id, source=source)
            session.add(document)
        for name, value in fields.items():
            setattr(document, name, value)
        document.status, document.error, document.text = "failed", reason, None

    def start_ingest_run(self, session: Session, collection_id: int) -> int:
        run = IngestRun(collection_id=collection_id, status="running")
        session.add(run)
        session.flush()
        return run.id

    def finish_ingest_run(self, session: Session, run_id: int, **fields) -> None:
        run = session.get(IngestRun, run_id)
        run.status, run.finished_at = "done", utcnow()
        for name, value in fields.items():
            setattr(run, name, value)
