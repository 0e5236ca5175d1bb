"""Listing, showing and reporting stay small whatever the size of the documents (a real SQLite store)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from rag.store import Chunk, Document, Store

TEXT_MB = 60
CHUNKS = 600
# Runs the command and prints its peak resident memory (the child's own, in MB) on the last line.
MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024); sys.exit(r.returncode)")


def _library_with_a_book(data_dir) -> None:
    """One document of TEXT_MB MB of text in CHUNKS chunks, and a small one beside it."""
    store = Store.open(f"sqlite:///{data_dir / 'groundwork.db'}")
    page = "The committee reviewed the annual budget and approved the plan. " * 16
    text = (page * (TEXT_MB * 1_000_000 // len(page)))
    step = len(text) // CHUNKS
    with store.session() as session:
        coll = store.collection(session, "library", create=True)
        for name, body, chunks in (("book.pdf", text, CHUNKS), ("note.txt", page, 1)):
            doc = Document(collection_id=coll.id, source=f"/docs/{name}", sha256="0" * 64, size=len(body),
                           mtime_ns=0, filetype="pdf", status="ingested", title=name, page_count=chunks,
                           text=body, page_stats={str(n): {"chars": 2000, "elements": 3} for n in range(chunks)})
            session.add(doc)
            session.flush()
            session.add_all(Chunk(document_id=doc.id, ordinal=n, text=body[n * step:n * step + 1000],
                                  section_path=["Budget"], page_start=n, page_end=n, char_start=n * step,
                                  char_end=n * step + 1000, token_count=200, content_hash=f"{doc.id}-{n}")
                            for n in range(chunks))
    store.close()


def _rag_peak_mb(args, data_dir) -> tuple[subprocess.CompletedProcess, int]:
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_EMBEDDING__MODEL": "fake",
           "RAG_GENERATOR__MODEL": "extractive"}
    result = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-c", "from rag.cli import main; main()",
                             *args], capture_output=True, text=True, env=env, timeout=300)
    *output, peak = result.stdout.rstrip("\n").split("\n")
    return subprocess.CompletedProcess(args, result.returncode, "\n".join(output), result.stderr), int(peak)


def test_listing_and_showing_a_library_with_a_large_book_stays_small(tmp_path):
    data = tmp_path / ".rag"
    data.mkdir()
    _library_with_a_book(data)
    listed, peak = _rag_peak_mb(["docs", "list", "-c", "library", "--json"], data)
    assert listed.returncode == 0, listed.stderr
    rows = {Path(r["source"]).name: r for r in json.loads(listed.stdout)}
    assert rows["book.pdf"]["chunks"] == CHUNKS and rows["note.txt"]["chunks"] == 1
    assert "text" not in rows["book.pdf"] and rows["book.pdf"]["flagged_pages"] == {}
    # The text alone is TEXT_MB; a query that carried it once per chunk would need CHUNKS times that.
    assert peak < 400, f"rag docs list peaked at {peak} MB"
    shown, peak = _rag_peak_mb(["docs", "show", "book", "-c", "library"], data)
    assert shown.returncode == 0 and f"chunks: {CHUNKS}" in shown.stdout, shown.stderr
    assert peak < 400, f"rag docs show peaked at {peak} MB"
    table, peak = _rag_peak_mb(["docs", "list", "-c", "library"], data)
    assert table.returncode == 0 and "collection library" in table.stdout and peak < 400
