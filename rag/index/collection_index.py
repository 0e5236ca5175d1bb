"""A collection's vector index on disk, kept in step with the database.

The database is the source of truth (chunks and their embeddings); the FAISS file is derived from it.
Saving writes a temp file, fsyncs it, records the manifest (model, dimension, factory string, vector count,
generation, checksum) and swaps the file in with os.replace inside the same database transaction, so a
crash at any point leaves either the old pair or a mismatch that `open` detects.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import EmbeddingModelMismatchError, IndexMismatchError
from rag.hashing import sha256_file
from rag.index.faiss_index import FaissIndex, choose_factory, needs_reshape
from rag.settings import Settings
from rag.store import Collection, IndexGeneration, Store

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    """What `rag index verify` found."""

    ok: bool
    problems: list[str]
    generation: int | None
    vectors_in_file: int | None
    chunks_in_database: int


def index_path(settings: Settings, collection: Collection) -> Path:
    return settings.index_dir / f"collection-{collection.id}.faiss"


def check_model(collection: Collection, model_id: str) -> None:
    if collection.embedding_model and collection.embedding_model != model_id:
        raise EmbeddingModelMismatchError(
            f"collection {collection.name!r} was embedded with {collection.embedding_model!r} but the "
            f"configured model is {model_id!r}. Set RAG_EMBEDDING__MODEL back, or ingest into a new "
            "collection with --collection."
        )


class CollectionIndex:
    def __init__(self, store: Store, settings: Settings, collection: Collection, index: FaissIndex | None,
                 manifest: IndexGeneration | None):
        self.store = store
        self.settings = settings
        self.collection = collection
        self.index = index
        self.manifest = manifest
        self.path = index_path(settings, collection)

    @property
    def _options(self) -> dict:
        return {"nprobe": self.settings.index.ivf_nprobe, "use_gpu": self.settings.index.use_gpu}

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, store: Store, settings: Settings, collection: Collection) -> CollectionIndex:
        """Open for reading; raises IndexMismatchError (fix: `rag index rebuild`) if file and database disagree."""
        with store.session() as session:
            manifest = store.current_manifest(session, collection.id)
            chunks = store.count_chunks(session, collection.id)
        opened = cls(store, settings, collection, None, manifest)
        problems = opened._quick_problems(manifest, chunks)
        if problems:
            raise IndexMismatchError(
                f"the vector index of collection {collection.name!r} does not match the database: "
                f"{'; '.join(problems)}. Run `rag index rebuild --collection {collection.name}`."
            )
        if manifest is not None:
            opened.index = FaissIndex.from_bytes(opened.path.read_bytes(), manifest.factory, **opened._options)
        return opened

    @classmethod
    def open_for_writing(cls, store: Store, settings: Settings, collection: Collection) -> CollectionIndex:
        """Open for an ingest: whatever a crash left behind is repaired from the stored embeddings."""
        try:
            opened = cls.open(store, settings, collection)
        except IndexMismatchError as exc:
            log.warning("%s Repairing it from the stored embeddings.", exc)
            return cls.rebuild(store, settings, collection)
        return opened

    def _quick_problems(self, manifest: IndexGeneration | None, chunks: int) -> list[str]:
        if manifest is None:
            return [f"no index saved yet but {chunks} chunks stored"] if chunks else []
        if not self.path.exists():
            return [f"index file {self.path} is missing"]
        problems = []
        if sha256_file(self.path) != manifest.checksum:
            problems.append(f"{self.path.name} is not generation {manifest.generation} (checksum differs)")
        if manifest.embedding_model != (self.collection.embedding_model or ""):
            problems.append(f"index holds {manifest.embedding_model!r} vectors, the collection uses "
                            f"{self.collection.embedding_model!r}")
        if manifest.vector_count != chunks:
            problems.append(f"index has {manifest.vector_count} vectors, database has {chunks} chunks")
        return problems

    # -- changing ------------------------------------------------------------------------------
    def ensure_index(self, dim: int) -> FaissIndex:
        if self.index is None:
            exact = choose_factory(0, 1, self.settings.index.exact_storage)
            self.index = FaissIndex.build(dim, np.empty(0, np.int64), np.empty((0, dim), np.float32), exact,
                                          **self._options)
        return self.index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.ensure_index(vectors.shape[1]).add(ids, vectors)

    def remove(self, ids: list[int] | np.ndarray) -> None:
        if self.index is not None and len(ids):
            self.index.remove(np.asarray(ids, dtype=np.int64))

    def save(self) -> IndexGeneration | None:
        """Persist atomically with a new manifest; reshapes (Flat <-> IVF) when the size calls for it."""
        if self.index is None:
            return None
        if needs_reshape(self.index.factory, len(self.index), self.settings.index.flat_max_vectors,
                         self.settings.index.exact_storage):
            return self.rebuild(self.store, self.settings, self.collection).manifest
        return self._write(self.index)

    def _write(self, index: FaissIndex) -> IndexGeneration:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = index.to_bytes()
        tmp = self.path.with_suffix(".faiss.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with self.store.session() as session:
            current = self.store.current_manifest(session, self.collection.id)
            manifest = IndexGeneration(
                collection_id=self.collection.id,
                generation=(current.generation + 1) if current else 1,
                embedding_model=self.collection.embedding_model or "",
                dim=index.dim,
                factory=index.factory,
                vector_count=len(index),
                checksum=hashlib.sha256(data).hexdigest(),
            )
            self.store.add_manifest(session, manifest)
            os.replace(tmp, self.path)  # inside the transaction: a crash here is detected on open
            _fsync_dir(self.path.parent)
        self.manifest = manifest
        return manifest

    @classmethod
    def rebuild(cls, store: Store, settings: Settings, collection: Collection) -> CollectionIndex:
        """Rebuild from the embeddings stored in the database (no re-embedding)."""
        with store.session() as session:
            ids, vectors = store.collection_vectors(session, collection.id, collection.embedding_model or "")
            chunks = store.count_chunks(session, collection.id)
        if len(ids) != chunks:
            raise IndexMismatchError(
                f"{chunks - len(ids)} chunks of collection {collection.name!r} have no stored embedding for "
                f"{collection.embedding_model!r}; re-ingest the affected files with `rag ingest`."
            )
        rebuilt = cls(store, settings, collection, None, None)
        if len(ids) == 0 and not collection.embedding_dim:
            return rebuilt
        dim = vectors.shape[1] if len(ids) else int(collection.embedding_dim)
        factory = choose_factory(len(ids), settings.index.flat_max_vectors, settings.index.exact_storage)
        rebuilt.index = FaissIndex.build(dim, ids, vectors, factory, **rebuilt._options)
        rebuilt._write(rebuilt.index)
        return rebuilt

    # -- checking ------------------------------------------------------------------------------
    def verify(self) -> IndexReport:
        """Full check: checksum, vector count and the exact id sets of file and database."""
        with self.store.session() as session:
            manifest = self.store.current_manifest(session, self.collection.id)
            db_ids = self.store.collection_chunk_ids(session, self.collection.id)
        problems = self._quick_problems(manifest, len(db_ids))
        in_file = None
        if manifest is not None and self.path.exists() and not problems:
            index = FaissIndex.from_bytes(self.path.read_bytes(), manifest.factory, **self._options)
            in_file = len(index)
            file_ids = index.ids()
            missing = np.setdiff1d(db_ids, file_ids)
            extra = np.setdiff1d(file_ids, db_ids)
            if len(missing):
                problems.append(f"{len(missing)} chunks are not in the index")
            if len(extra):
                problems.append(f"{len(extra)} index entries have no chunk")
        return IndexReport(
            ok=not problems,
            problems=problems,
            generation=manifest.generation if manifest else None,
            vectors_in_file=in_file,
            chunks_in_database=len(db_ids),
        )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
