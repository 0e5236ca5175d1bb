"""Removing documents and collections, keeping the vector index in step with the database."""

from __future__ import annotations

from sqlalchemy import select

from rag.collection_index import CollectionIndex, index_path
from rag.settings import Settings
from rag.store import Collection, Document, Store


def delete_documents(store: Store, settings: Settings, collection: Collection, document_ids: list[int]) -> int:
    """Delete documents (and their chunks); returns the number of chunks removed from the index."""
    index = CollectionIndex.open_for_writing(store, settings, collection)
    removed: list[int] = []
    with store.session() as session:
        for doc_id in document_ids:
            document = session.get(Document, doc_id)
            if document is None or document.collection_id != collection.id:
                continue
            removed.extend(store.delete_document_chunks(session, doc_id))
            session.delete(document)
    index.remove(removed)
    index.save()
    return len(removed)


def delete_collection(store: Store, settings: Settings, name: str) -> None:
    with store.session() as session:
        collection = store.collection(session, name)
        path = index_path(settings, collection)
        session.delete(collection)
    path.unlink(missing_ok=True)


def find_documents(store: Store, collection: Collection, pattern: str) -> list[Document]:
    """Documents whose id equals pattern, or whose source contains it."""
    with store.session() as session:
        query = select(Document).where(Document.collection_id == collection.id)
        if pattern.isdigit():
            return list(session.scalars(query.where(Document.id == int(pattern))))
        return list(session.scalars(query.where(Document.source.contains(pattern))))
