"""Killing the ingester (SIGKILL) at random moments never loses or duplicates a document."""

import json
import os
import random
import signal
import subprocess
import sys
import time

from rag.index.collection_index import CollectionIndex
from rag.store import Store
from tests.conftest import make_settings


def _corpus(folder, n=60):
    folder.mkdir()
    for i in range(n):
        paragraphs = [f"Document {i} section {j}: " + " ".join(f"term{i}x{j}x{k}" for k in range(40))
                      for j in range(6)]
        (folder / f"doc{i:03}.txt").write_text("\n\n".join(paragraphs))


def _start(folder, data):
    env = {**os.environ, "RAG_DATA_DIR": str(data), "RAG_EMBEDDING__MODEL": "fake",
           "RAG_INGEST__CHUNK_TOKENS": "64"}
    return subprocess.Popen([sys.executable, "-c", "from rag.cli import main; main()", "ingest", str(folder),
                             "--json", "--workers", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigkill_at_random_points_then_rerun_finishes_the_job(tmp_path):
    folder, data = tmp_path / "corpus", tmp_path / ".rag"
    _corpus(folder)
    rng = random.Random(7)
    for _ in range(4):
        process = _start(folder, data)
        time.sleep(rng.uniform(2.0, 6.0))
        process.send_signal(signal.SIGKILL)
        process.communicate()
    final = _start(folder, data)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    summary = json.loads(out)
    assert summary["failed"] == []

    settings = make_settings(data)
    store = Store.open(settings.resolved_database_url)
    with store.session() as session:
        coll = store.collection(session, "default")
        from sqlalchemy import func, select

        from rag.store import Chunk, Document

        sources = list(session.scalars(select(Document.source).where(Document.collection_id == coll.id)))
        per_doc = session.execute(select(Document.source, func.count(Chunk.id)).join(Chunk)
                                  .group_by(Document.source)).all()
    assert len(sources) == len(set(sources)) == 60
    counts = {count for _, count in per_doc}
    assert len(per_doc) == 60 and len(counts) == 1  # every document complete, none doubled
    report = CollectionIndex(store, settings, coll, None, None).verify()
    assert report.ok, report.problems
