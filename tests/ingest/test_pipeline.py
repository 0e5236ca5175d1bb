"""The ingestion pipeline, end to end with real parsing and a real SQLite + FAISS: incremental, safe, honest."""

import json
import os
import shutil

import numpy as np
import pytest
from sqlalchemy import func, select

from ingest.pipeline import Ingester
from rag.embedder import FakeEmbedder
from rag.index.collection_index import CollectionIndex
from rag.store import Document, Store
from tests import docgen
from tests.conftest import SAMPLE, make_settings


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLE, folder)
    return folder


def _ingester(settings, embedder=None):
    store = Store.open(settings.resolved_database_url)
    return Ingester(settings, store, embedder or FakeEmbedder()), store


def _verify(store, settings, name="docs"):
    with store.session() as session:
        coll = store.collection(session, name)
    return CollectionIndex(store, settings, coll, None, None).verify()


def test_first_run_ingests_everything_and_the_second_skips_it_all(settings, corpus):
    embedder = FakeEmbedder()
    ingester, store = _ingester(settings, embedder)
    first = ingester.run([corpus], "docs")
    assert (first.files_seen, first.ingested, first.failed) == (9, 9, [])
    assert first.chunks_added > 9 and first.chunks_embedded == first.chunks_added
    assert _verify(store, settings).ok
    embedded = embedder.texts_embedded
    second = ingester.run([corpus], "docs")
    assert (second.ingested, second.skipped, second.chunks_added) == (0, 9, 0)
    assert embedder.texts_embedded == embedded  # nothing re-embedded
    assert second.seconds < 2.0


def test_a_changed_file_replaces_its_chunks_and_reuses_unchanged_embeddings(settings, corpus):
    embedder = FakeEmbedder()
    ingester, store = _ingester(settings, embedder)
    ingester.run([corpus], "docs")
    before = embedder.texts_embedded
    path = corpus / "water-cycle.txt"
    path.write_text(path.read_text() + "\nTranspiration\n\nPlants release water vapour through their leaves.\n")
    summary = ingester.run([corpus], "docs")
    assert summary.ingested == 1 and summary.chunks_removed == 3 and summary.chunks_added == 4
    assert embedder.texts_embedded - before == 1  # only the new section's chunk (its heading included)
    assert _verify(store, settings).ok
    with store.session() as session:
        coll = store.collection(session, "docs")
    hits = store.lexical_search(coll.id, "transpiration leaves", 3)
    assert hits


def test_sync_removes_documents_whose_files_are_gone(settings, corpus):
    ingester, store = _ingester(settings)
    ingester.run([corpus], "docs")
    (corpus / "honeybees.md").unlink()
    kept = ingester.run([corpus], "docs")
    assert kept.removed == 0
    synced = ingester.run([corpus], "docs", sync=True)
    assert synced.removed == 1 and synced.chunks_removed == 3
    assert _verify(store, settings).ok


def test_a_broken_new_version_keeps_the_old_one_searchable(settings, corpus):
    ingester, store = _ingester(settings)
    ingester.run([corpus], "docs")
    (corpus / "lighthouses.pdf").write_bytes(os.urandom(3000))
    summary = ingester.run([corpus], "docs")
    assert summary.failed[0]["path"].endswith("lighthouses.pdf")
    with store.session() as session:
        coll = store.collection(session, "docs")
    assert store.lexical_search(coll.id, "Fresnel", 3), "the previous version was lost"
    assert _verify(store, settings).ok


def test_failures_are_recorded_reported_and_do_not_stop_the_run(settings, corpus, tmp_path):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "fake.pdf").write_bytes(os.urandom(3000))  # neither a PDF nor text: refused
    (corpus / "notes.xyz").write_text("unsupported")
    outside = tmp_path / "secret.txt"
    outside.write_text("zqxsecret words outside the root")
    (corpus / "link.txt").symlink_to(outside)
    ingester, store = _ingester(settings)
    summary = ingester.run([corpus], "docs")
    reasons = {os.path.basename(f["path"]): f["reason"] for f in summary.failed}
    assert summary.ingested == 9
    assert set(reasons) == {"empty.txt", "fake.pdf", "notes.xyz", "link.txt"}
    assert "outside the ingested folder" in reasons["link.txt"]
    with store.session() as session:
        coll = store.collection(session, "docs")
    assert not store.lexical_search(coll.id, "zqxsecret", 3)
    again = ingester.run([corpus], "docs")
    assert {os.path.basename(f["path"]) for f in again.failed} == set(reasons)  # still reported


def test_jsonl_lines_are_documents(settings, tmp_path):
    rows = [{"_id": "d1", "title": "Tides", "text": "Tides are caused by the Moon."},
            {"_id": "d2", "text": "Bees dance."}, {"text": "no id"}, "not an object"]
    path = tmp_path / "data" / "corpus.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    ingester, store = _ingester(settings)
    summary = ingester.run([path.parent], "docs")
    assert summary.ingested == 2
    [failure] = summary.failed  # one entry for the file, quoting its bad lines
    assert failure["path"] == str(path.resolve())
    assert failure["reason"].startswith("3 of 5 lines could not be ingested: line 3 has none of the id fields")
    assert "line 4 is not a JSON object" in failure["reason"] and "line 5 is not valid JSON" in failure["reason"]
    rows[1]["text"] = "Bees dance to share where food is."
    path.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n")
    again = ingester.run([path.parent], "docs", sync=True)
    assert (again.ingested, again.skipped, again.failed) == (1, 1, [])
    assert _verify(store, settings).ok
    with store.session() as session:  # the file's failure entry is gone with its bad lines
        assert session.scalar(select(func.count(Document.id)).where(Document.status == "failed")) == 0


def test_dry_run_changes_nothing(settings, corpus):
    ingester, store = _ingester(settings)
    summary = ingester.run([corpus], "fresh", dry_run=True)
    assert len(summary.would_ingest) == 9 and summary.ingested == 0
    with store.session() as session:
        from rag.store import Collection

        assert session.query(Collection).count() == 0


def test_a_different_embedding_model_is_a_clear_error(settings, corpus):
    from rag.errors import EmbeddingModelMismatchError

    ingester, store = _ingester(settings)
    ingester.run([corpus / "honeybees.md"], "docs")
    other = FakeEmbedder()
    other.model_id = "another-model"
    with pytest.raises(EmbeddingModelMismatchError, match="RAG_EMBEDDING__MODEL"):
        Ingester(settings, store, other).run([corpus], "docs")


def test_the_real_model_finds_the_right_sample_passage(tmp_path, real_embedder):
    settings = make_settings(tmp_path / ".rag", embedding=real_embedder.settings)
    ingester, store = _ingester(settings, real_embedder)
    summary = ingester.run([SAMPLE], "sample")
    assert summary.ingested == 9 and not summary.failed
    with store.session() as session:
        coll = store.collection(session, "sample")
    index = CollectionIndex.open(store, settings, coll)
    _, ids = index.index.search(real_embedder.embed(["How many days of annual leave do employees get?"]), 3)
    with store.session() as session:
        from rag.store import Chunk

        top = session.get(Chunk, int(ids[0][0]))
    assert "27 days" in top.text
    assert np.all(ids[0] >= 0)


def test_the_pipeline_runs_the_same_on_postgresql(tmp_path, corpus, database_url):
    """Incremental ingest, lexical search and the index agree on both databases (SQLite and PostgreSQL)."""
    settings = make_settings(tmp_path / ".rag", database_url=database_url)
    ingester, store = _ingester(settings)
    first = ingester.run([corpus], "docs")
    assert first.ingested == 9 and not first.failed
    assert ingester.run([corpus], "docs").skipped == 9
    with store.session() as session:
        coll = store.collection(session, "docs")
    top = store.lexical_search(coll.id, "Fresnel lens lighthouse", 3)
    with store.session() as session:
        from rag.store import Chunk

        assert "Fresnel" in session.get(Chunk, top[0][0]).text
    assert _verify(store, settings).ok
