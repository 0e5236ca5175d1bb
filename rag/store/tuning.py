"""The store's queries for tuned models and the embeddings a model change needs (mixed into `Store`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from rag.store.tables import Chunk, Collection, Document, Embedding, TunedModel, utcnow


@dataclass(frozen=True)
class ChunkText:
    chunk_id: int
    document_id: int
    section_path: list[str] | None
    text: str


class TuningQueries:
    def add_tuned_model(self, session: Session, **fields) -> TunedModel:
        row = TunedModel(**fields)
        session.add(row)
        session.flush()
        return row

    def tuned_models(self, session: Session, collection_id: int | None = None,
                     kind: str | None = None) -> list[TunedModel]:
        """Newest first, detached from the session."""
        query = select(TunedModel).order_by(TunedModel.id.desc())
        if collection_id is not None:
            query = query.where(TunedModel.collection_id == collection_id)
        if kind is not None:
            query = query.where(TunedModel.kind == kind)
        found = list(session.scalars(query))
        for row in found:
            session.expunge(row)
        return found

    def collection_by_id(self, session: Session, collection_id: int) -> Collection:
        return session.get(Collection, collection_id)

    def collection_names_by_id(self, session: Session) -> dict[int, str]:
        return dict(session.execute(select(Collection.id, Collection.name)).all())

    def tuned_model(self, session: Session, tuned_id: int) -> TunedModel | None:
        return session.get(TunedModel, tuned_id)

    def tuned_by_model_id(self, session: Session, model_id: str) -> TunedModel | None:
        return session.scalar(select(TunedModel).where(TunedModel.model_id == model_id))

    def adopted_model(self, session: Session, collection_id: int, kind: str) -> TunedModel | None:
        return session.scalar(select(TunedModel).where(
            TunedModel.collection_id == collection_id, TunedModel.kind == kind, TunedModel.status == "adopted"))

    def set_adopted(self, session: Session, collection_id: int, kind: str, tuned_id: int | None) -> None:
        """Makes `tuned_id` the collection's model of that kind (None: back to the base model)."""
        session.execute(update(TunedModel).where(
            TunedModel.collection_id == collection_id, TunedModel.kind == kind, TunedModel.status == "adopted",
        ).values(status="retired"))
        if tuned_id is not None:
            session.execute(update(TunedModel).where(TunedModel.id == tuned_id)
                            .values(status="adopted", adopted_at=utcnow()))

    def set_tuned_status(self, session: Session, tuned_id: int, status: str, card: dict | None = None) -> None:
        values = {"status": status} | ({"card": card} if card is not None else {})
        session.execute(update(TunedModel).where(TunedModel.id == tuned_id).values(**values))

    def chunks_to_embed(self, session: Session, collection_id: int, model: str,
                        batch: int = 256) -> Iterator[list[tuple[str, list | None, str]]]:
        """(content hash, section path, text) of the collection's chunks with no vector from `model` yet, in
        batches; only those columns are read, so a collection of any size streams in bounded memory."""
        missing = (select(Chunk.content_hash, Chunk.section_path, Chunk.text)
                   .join(Document, Document.id == Chunk.document_id)
                   .outerjoin(Embedding, (Embedding.content_hash == Chunk.content_hash) & (Embedding.model == model))
                   .where(Document.collection_id == collection_id, Embedding.content_hash.is_(None))
                   .order_by(Chunk.id))
        seen: set[str] = set()
        rows: list[tuple[str, list | None, str]] = []
        for content_hash, section_path, text in session.execute(missing.execution_options(yield_per=batch)):
            if content_hash in seen:
                continue
            seen.add(content_hash)
            rows.append((content_hash, section_path, text))
            if len(rows) == batch:
                yield rows
                rows = []
        if rows:
            yield rows

    def delete_model_embeddings(self, session: Session, model: str) -> None:
        session.execute(delete(Embedding).where(Embedding.model == model))

    def chunk_ids(self, session: Session, collection_id: int) -> list[int]:
        return list(session.scalars(select(Chunk.id).join(Document, Document.id == Chunk.document_id)
                                    .where(Document.collection_id == collection_id).order_by(Chunk.id)))

    def chunk_texts_by_id(self, session: Session, chunk_ids: list[int]) -> list[ChunkText]:
        """The chunks of those ids, in the order given (ids that do not exist are left out)."""
        found: dict[int, ChunkText] = {}
        for start in range(0, len(chunk_ids), 500):
            rows = session.execute(select(Chunk.id, Chunk.document_id, Chunk.section_path, Chunk.text)
                                   .where(Chunk.id.in_(chunk_ids[start:start + 500])))
            found.update((row[0], ChunkText(*row)) for row in rows)
        return [found[i] for i in chunk_ids if i in found]

    def chunk_documents(self, session: Session, collection_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, their document ids) of the collection, as int64 arrays."""
        rows = session.execute(select(Chunk.id, Chunk.document_id).join(Document, Document.id == Chunk.document_id)
                               .where(Document.collection_id == collection_id).order_by(Chunk.id)).all()
        pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]
