"""Uploads ingested in the background, one job at a time (one writer), with their status and per-file errors.

Jobs live in memory for the server's lifetime; what they stored is in the database either way.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.workspace import Workspace


@dataclass
class IngestJob:
    id: int
    collection: str
    files: list[str]
    state: str = "queued"  # queued | running | done | failed
    error: str | None = None
    summary: dict | None = None
    failed: list[dict] = field(default_factory=list)  # {"file", "reason"} per file that could not be read
    queued_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def to_json(self) -> dict:
        return {"id": self.id, "collection": self.collection, "files": self.files, "state": self.state,
                "error": self.error, "failed": self.failed, "summary": self.summary,
                "queued_at": self.queued_at, "finished_at": self.finished_at}


class IngestJobs:
    def __init__(self, workspace: Workspace, keep: int = 500):
        self.workspace = workspace
        self.keep = keep
        self._jobs: dict[int, IngestJob] = {}
        self._ids = itertools.count(1)
        self._todo: queue.Queue[tuple[IngestJob, list[Path]]] = queue.Queue()
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="ingest-jobs", daemon=True)
        self._worker.start()

    def submit(self, collection: str, paths: list[Path], names: list[str]) -> IngestJob:
        job = IngestJob(next(self._ids), collection, names)
        with self._lock:
            self._jobs[job.id] = job
            for old in sorted(self._jobs)[:-self.keep]:
                if self._jobs[old].state in ("done", "failed"):
                    del self._jobs[old]
        self._todo.put((job, paths))
        return job

    def get(self, job_id: int) -> IngestJob | None:
        return self._jobs.get(job_id)

    def busy(self) -> bool:
        return any(j.state in ("queued", "running") for j in list(self._jobs.values()))

    def _work(self) -> None:
        while True:
            job, paths = self._todo.get()
            job.state = "running"
            try:
                summary = self.workspace.ingest(paths, job.collection)
                job.summary = summary.to_json()
                job.failed = [{"file": Path(f["path"]).name, "reason": f["reason"]} for f in summary.failed]
                job.state = "done"
            except Exception as exc:  # noqa: BLE001 - reported in the job's status, the server keeps serving
                job.state, job.error = "failed", str(exc)
            job.finished_at = time.time()
