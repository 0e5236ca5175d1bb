"""The index on disk follows the database, detects disagreement, and rebuilds from stored embeddings."""

import numpy as np
import pytest

from rag.errors import IndexMismatchError
from rag.index.collection_index import CollectionIndex
from rag.settings import IndexSettings
from rag.store import Chunk, Collection, Document, Store
from tests.conftest import make_settings


def _collection_with_chunks(store, n, dim=16):
    rng = np.random.default_rng(1)
    with store.session() as session:
        coll = store.collection(session, "c", create=True)
        coll.embedding_model, coll.embedding_dim = "m", dim
        doc = Document(collection_id=coll.id, source="/d", sha256="x", size=1, mtime_ns=1, status="ingested")
        session.add(doc)
        session.flush()
        vectors = {}
        for i in range(n):
            session.add(Chunk(document_id=doc.id, ordinal=i, text=f"t{i}", char_start=0, char_end=1,
                              token_count=1, content_hash=f"h{i}"))
            v = rng.standard_normal(dim).astype(np.float32)
            vectors[f"h{i}"] = v / np.linalg.norm(v)
        store.add_embeddings(session, "m", vectors)
    with store.session() as session:
        return session.get(Collection, coll.id)


def test_rebuild_then_open_and_verify(tmp_path):
    settings = make_settings(tmp_path)
    store = Store.open(settings.resolved_database_url)
    coll = _collection_with_chunks(store, 30)
    rebuilt = CollectionIndex.rebuild(store, settings, coll)
    assert rebuilt.manifest.generation == 1 and rebuilt.manifest.vector_count == 30
    opened = CollectionIndex.open(store, settings, coll)
    assert len(opened.index) == 30
    assert opened.verify().ok


def test_a_tampered_index_file_is_detected_and_names_the_fix(tmp_path):
    settings = make_settings(tmp_path)
    store = Store.open(settings.resolved_database_url)
    coll = _collection_with_chunks(store, 10)
    index = CollectionIndex.rebuild(store, settings, coll)
    index.path.write_bytes(index.path.read_bytes()[:-8])
    with pytest.raises(IndexMismatchError, match="rag index rebuild"):
        CollectionIndex.open(store, settings, coll)
    report = CollectionIndex(store, settings, coll, None, None).verify()
    assert not report.ok and "checksum" in report.problems[0]
    repaired = CollectionIndex.open_for_writing(store, settings, coll)
    assert repaired.manifest.generation == 2 and repaired.verify().ok


def test_chunks_committed_without_an_index_save_are_detected(tmp_path):
    settings = make_settings(tmp_path)
    store = Store.open(settings.resolved_database_url)
    coll = _collection_with_chunks(store, 5)
    with pytest.raises(IndexMismatchError, match="5 chunks"):
        CollectionIndex.open(store, settings, coll)


def test_saving_past_the_flat_limit_switches_to_ivf(tmp_path):
    settings = make_settings(tmp_path, index=IndexSettings(flat_max_vectors=100))
    store = Store.open(settings.resolved_database_url)
    coll = _collection_with_chunks(store, 400)
    index = CollectionIndex.rebuild(store, settings, coll)
    assert "IVF" in index.manifest.factory
    assert CollectionIndex.open(store, settings, coll).verify().ok
