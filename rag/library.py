"""Removing documents and collections, keeping the vector index in step with the database."""

from __future__ import annotations

from rag.index.collection_index import CollectionIndex, index_path
from rag.settings import IngestSettings, Settings
from rag.store import Collection, Document, Store


def delete_documents(store: Store, settings: Settings, collection: Collection, document_ids: list[int]) -> int:
    """Delete documents (and their chunks); returns the number of chunks removed from the index."""
    index = CollectionIndex.open_for_writing(store, settings, collection)
    removed: list[int] = []
    with store.session() as session:
        for doc_id in document_ids:
            removed.extend(store.delete_document(session, collection.id, doc_id) or [])
    index.remove(removed)
    index.save()
    return len(removed)


def delete_collection(store: Store, settings: Settings, name: str) -> None:
    with store.session() as session:
        collection = store.collection(session, name)
        path = index_path(settings, collection)
        store.delete_collection(session, collection)
    path.unlink(missing_ok=True)


def find_documents(store: Store, collection: Collection, pattern: str) -> list[Document]:
    """Documents whose id equals pattern, or whose source contains it."""
    with store.session() as session:
        return store.find_documents(session, collection.id, pattern)


def flagged_pages(page_stats: dict | None, settings: IngestSettings) -> dict[str, str]:
    """Pages a reader should check, with why: little text (a figure, a scan without OCR) or a doubtful OCR."""
    flagged = {}
    for page, info in (page_stats or {}).items():
        confidence = info.get("ocr_confidence")
        if confidence is not None and confidence < settings.ocr_min_confidence:
            flagged[page] = f"OCR confidence {confidence:.0f}"
        elif info.get("chars", 0) < settings.min_page_chars:
            flagged[page] = f"{info.get('chars', 0)} characters"
    return flagged
