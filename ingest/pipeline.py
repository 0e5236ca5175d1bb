"""The ingestion pipeline: discover -> skip unchanged -> parse (worker processes) -> chunk -> embed -> store.

The database is the source of truth. A group of documents (their chunks, embeddings and full-text rows) is
committed in one transaction; the vector index follows from the committed rows and is saved at the end.
Killed at any moment, a rerun finds committed documents unchanged, redoes the rest, and repairs the index
from the stored embeddings, so nothing is lost or duplicated.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TypedDict

import numpy as np

from ingest.chunking import ChunkedDocument, Chunker
from ingest.discover import discover
from ingest.filetypes import JSONL_TYPES
from ingest.jsonl import file_error, is_dataset, read_jsonl
from ingest.parser_pool import ParserPool, parser_options
from rag.embedder import Embedder
from rag.hashing import sha256_file
from rag.index.collection_index import CollectionIndex, check_model
from rag.settings import Settings
from rag.sources import source_file
from rag.store import Chunk, Collection, Store

EMBED_GROUP_CHUNKS = 256  # chunks gathered before one embed call + one commit
class FileFailure(TypedDict):
    """A file that could not be ingested, and why (in the summary, the JSON and the API's job status)."""

    path: str
    reason: str


class FileNotes(TypedDict):
    """A file ingested with remarks (read by content, OCR'd, converted...)."""

    path: str
    notes: list[str]


# Progress events: ("start", {"files", "skipped"}) once, then ("documents", {"documents", "chunks"}) per group.
Progress = Callable[[str, dict[str, int]], None]


@dataclass
class IngestSummary:
    collection: str
    files_seen: int = 0
    ingested: int = 0
    skipped: int = 0
    failed: list[FileFailure] = field(default_factory=list)
    noted: list[FileNotes] = field(default_factory=list)  # ingested, with notes
    removed: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    would_ingest: list[str] = field(default_factory=list)  # --dry-run

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "would_ingest" or v}


@dataclass
class _Pending:
    """A parsed, chunked document waiting for its group's embed and commit."""

    source: str
    sha256: str
    size: int
    mtime_ns: int
    filetype: str
    parser: str
    doc: ChunkedDocument
    previous_id: int | None
    notes: list[str] = field(default_factory=list)


class Ingester:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder, progress: Progress | None = None):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.progress = progress or (lambda event, data: None)
        self.chunker = Chunker(embedder.count_tokens, settings.ingest.chunk_tokens, settings.ingest.chunk_overlap)

    # -- the run -------------------------------------------------------------------------------
    def run(self, paths: list[Path], collection: str, *, sync: bool = False, dry_run: bool = False,
            workers: int | None = None) -> IngestSummary:
        started = time.perf_counter()
        summary = IngestSummary(collection)
        timings = {"discover": 0.0, "parse": 0.0, "chunk": 0.0, "embed": 0.0, "store": 0.0, "index": 0.0}
        found = discover(paths, self.settings.ingest.code_files)
        summary.files_seen = len(found.files)
        summary.failed += [{"path": str(p), "reason": r} for p, r in found.refused]
        with self.store.session() as session:
            exists = self.store.collection_exists(session, collection)
            coll = self.store.collection(session, collection, create=True) if exists or not dry_run else None
            known = {}
            if coll is not None:
                check_model(coll, self.embedder.model_id)
                known = self.store.documents_by_source(session, coll.id)
        to_parse, jsonl_files, seen = self._plan(found.files, known, summary)
        timings["discover"] = time.perf_counter() - started
        if dry_run:
            summary.would_ingest = [str(p) for _, p in to_parse] + [str(p) for p in jsonl_files]
            summary.seconds = time.perf_counter() - started
            return summary

        index = CollectionIndex.open_for_writing(self.store, self.settings, coll)
        run = self._start_run(coll)
        self.progress("start", {"files": len(to_parse) + len(jsonl_files), "skipped": summary.skipped})
        group: list[_Pending] = []
        documents = chain(self._jsonl_documents(jsonl_files, known, seen, summary, timings),
                          self._parsed_documents(to_parse, known, summary, timings, workers))
        for pending in documents:
            group.append(pending)
            if sum(len(p.doc.chunks) for p in group) >= EMBED_GROUP_CHUNKS:
                self._commit_group(coll, group, index, summary, timings)
                group = []
        self._commit_group(coll, group, index, summary, timings)
        if sync:
            self._remove_missing(coll, known, seen, found.roots, index, summary)
        t = time.perf_counter()
        if summary.chunks_added or summary.chunks_removed or index.manifest is None:
            index.save()
        timings["index"] += time.perf_counter() - t
        summary.seconds = time.perf_counter() - started
        summary.timings = {k: round(v, 3) for k, v in timings.items()}
        self._finish_run(run, summary)
        return summary

    # -- planning: what changed ----------------------------------------------------------------
    def _plan(self, files, known, summary):
        to_parse, jsonl_files, seen = [], [], set()
        limit = self.settings.ingest.max_file_mb * 1e6
        for path in files:
            if path.suffix.lower() in JSONL_TYPES and is_dataset(path, self.settings.ingest):
                jsonl_files.append(path)
                continue
            source = str(path)
            seen.add(source)
            stat = path.stat()
            if stat.st_size > limit:
                summary.failed.append({"path": source, "reason": f"the file is {stat.st_size / 1e6:.0f} MB, over "
                                       f"the {limit / 1e6:.0f} MB limit (RAG_INGEST__MAX_FILE_MB)"})
                continue
            doc = known.get(source)
            if doc is not None and doc.status == "failed" and (doc.size, doc.mtime_ns) == (stat.st_size,
                                                                                            stat.st_mtime_ns):
                summary.failed.append({"path": source, "reason": f"{doc.error} (unchanged since the last run)"})
                continue
            if doc is not None and doc.status == "ingested" and not doc.error:
                if (doc.size, doc.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                    summary.skipped += 1
                    continue
                sha = sha256_file(path)
                if sha == doc.sha256:
                    self._touch(doc.id, stat)
                    summary.skipped += 1
                    continue
                to_parse.append(((sha, stat), path))
            else:
                to_parse.append(((sha256_file(path), stat), path))
        return to_parse, jsonl_files, seen

    def _touch(self, document_id: int, stat: os.stat_result) -> None:
        with self.store.session() as session:
            self.store.touch_document(session, document_id, stat.st_size, stat.st_mtime_ns)

    # -- producing documents -------------------------------------------------------------------
    def _parsed_documents(self, to_parse, known, summary, timings, workers):
        if not to_parse:
            return
        ingest = self.settings.ingest
        pool = ParserPool(
            workers=workers or ingest.workers or max(1, (os.cpu_count() or 2) - 1),
            timeout_s=ingest.parse_timeout_s,
            memory_mb=ingest.parse_memory_mb,
            options=parser_options(ingest),
            log_path=self.settings.data_dir / "logs" / "parser.log",
        )
        for outcome in pool.parse(to_parse):
            timings["parse"] += outcome.seconds
            sha, stat = outcome.key
            source = str(outcome.path)
            previous = known.get(source)
            if outcome.error:
                self._record_failure(source, sha, stat, outcome.error, previous, summary)
                continue
            t = time.perf_counter()
            doc = self.chunker.chunk(outcome.result["elements"])
            doc.page_count = outcome.result.get("pages") or doc.page_count
            timings["chunk"] += time.perf_counter() - t
            if outcome.result.get("notes"):
                summary.noted.append({"path": source, "notes": outcome.result["notes"]})
            yield _Pending(source, sha, stat.st_size, stat.st_mtime_ns, outcome.result["filetype"],
                           outcome.result["parser"], doc, previous.id if previous else None,
                           outcome.result.get("notes") or [])

    def _jsonl_documents(self, files, known, seen, summary, timings):
        for path in files:
            stat = path.stat()
            errors, lines = [], 0
            for record in read_jsonl(path, self.settings.ingest):
                lines += 1
                if record.error:
                    errors.append(record.error)
                    continue
                seen.add(record.source)
                previous = known.get(record.source)
                if previous is not None and previous.sha256 == record.sha256 and previous.status == "ingested":
                    summary.skipped += 1
                    continue
                t = time.perf_counter()
                doc = self.chunker.chunk(record.elements)
                timings["chunk"] += time.perf_counter() - t
                yield _Pending(record.source, record.sha256, stat.st_size, stat.st_mtime_ns, "jsonl",
                               "groundwork-jsonl", doc, previous.id if previous else None)
            # The file's bad lines are one failure of the file, not one per line.
            source, previous = str(path), known.get(str(path))
            if errors:
                seen.add(source)
                self._record_failure(source, sha256_file(path), stat, file_error(errors, lines), previous, summary)
            elif previous is not None and previous.status == "failed":  # its bad lines were fixed
                with self.store.session() as session:
                    self.store.remove_document(session, previous.id)
                del known[source]

    # -- committing ----------------------------------------------------------------------------
    def _commit_group(self, coll: Collection, group: list[_Pending], index: CollectionIndex,
                      summary: IngestSummary, timings: dict) -> None:
        if not group:
            return
        model = self.embedder.model_id
        t = time.perf_counter()
        by_hash = {c.content_hash: c.embed_text for p in group for c in p.doc.chunks}
        with self.store.session() as session:
            vectors = self.store.vectors_for(session, model, list(by_hash))
        new_hashes = [h for h in by_hash if h not in vectors]
        fresh = {}
        if new_hashes:
            embedded = self.embedder.embed([by_hash[h] for h in new_hashes])
            fresh = dict(zip(new_hashes, embedded))
            vectors.update(fresh)
        timings["embed"] += time.perf_counter() - t
        summary.chunks_embedded += len(fresh)

        t = time.perf_counter()
        removed_ids: list[int] = []
        added: list[Chunk] = []
        with self.store.session() as session:
            if coll.embedding_model is None:
                self.store.set_embedding_model(session, coll, model, self.embedder.dim)
            self.store.add_embeddings(session, model, fresh)
            for p in group:
                chunks = [_chunk_row(spec) for spec in p.doc.chunks]
                _, removed = self.store.replace_document(session, coll.id, p.source, p.previous_id, {
                    "sha256": p.sha256, "size": p.size, "mtime_ns": p.mtime_ns, "filetype": p.filetype,
                    "parser": p.parser, "status": "ingested", "error": None,
                    "title": p.doc.title or source_file(p.source).stem, "text": p.doc.text,
                    "page_count": p.doc.page_count, "page_stats": p.doc.page_stats or None,
                    "notes": p.notes or None}, chunks)
                removed_ids.extend(removed)
                added.extend(chunks)
            session.flush()
        timings["store"] += time.perf_counter() - t

        t = time.perf_counter()
        index.remove(removed_ids)
        ids = np.fromiter((c.id for c in added), dtype=np.int64, count=len(added))
        index.add(ids, np.stack([vectors[c.content_hash] for c in added]) if added else ids)
        timings["index"] += time.perf_counter() - t
        summary.ingested += len(group)
        summary.chunks_added += len(added)
        summary.chunks_removed += len(removed_ids)
        self.progress("documents", {"documents": len(group), "chunks": len(added)})

    def _record_failure(self, source, sha, stat, reason, previous, summary) -> None:
        """A file that fails is recorded with its reason; an earlier good version stays searchable."""
        summary.failed.append({"path": source, "reason": reason})
        with self.store.session() as session:
            coll = self.store.collection(session, summary.collection)
            self.store.record_failed_document(session, coll.id, source, previous, {
                "sha256": sha, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}, reason)
            if previous is not None and previous.status == "ingested":
                return
        self.progress("documents", {"documents": 1, "chunks": 0})

    def _remove_missing(self, coll, known, seen, roots, index, summary) -> None:
        gone = [d for s, d in known.items() if s not in seen and _under(str(source_file(s)), roots)]
        removed: list[int] = []
        with self.store.session() as session:
            for doc in gone:
                removed.extend(self.store.remove_document(session, doc.id))
        index.remove(removed)
        summary.removed += len(gone)
        summary.chunks_removed += len(removed)

    # -- run bookkeeping -----------------------------------------------------------------------
    def _start_run(self, coll: Collection) -> int:
        with self.store.session() as session:
            return self.store.start_ingest_run(session, coll.id)

    def _finish_run(self, run_id: int, summary: IngestSummary) -> None:
        with self.store.session() as session:
            self.store.finish_ingest_run(
                session, run_id, seconds=summary.seconds, files_seen=summary.files_seen, ingested=summary.ingested,
                skipped=summary.skipped, failed=len(summary.failed), errors=summary.failed,
                chunks_added=summary.chunks_added, chunks_removed=summary.chunks_removed, timings=summary.timings)


def _chunk_row(spec) -> Chunk:
    """A chunk's row; its document is set when the document is stored (`Store.replace_document`)."""
    return Chunk(ordinal=spec.ordinal, text=spec.text, section_path=spec.section_path,
                 page_start=spec.page_start, page_end=spec.page_end, char_start=spec.char_start,
                 char_end=spec.char_end, token_count=spec.token_count, content_hash=spec.content_hash,
                 ocr_confidence=spec.ocr_confidence)


def _under(source: str, roots: list[Path]) -> bool:
    path = Path(source)
    return any(path == root or path.is_relative_to(root) for root in roots)


def ingest_paths(workspace, paths: list[Path], collection: str, progress: Progress | None = None,
                 **options) -> IngestSummary:
    """`Workspace.ingest` (entry point `groundwork.ingest`): the files ingested with the workspace's resources."""
    embedder = workspace.embedder_for(collection)
    return Ingester(workspace.settings, workspace.store, embedder, progress).run(paths, collection, **options)
