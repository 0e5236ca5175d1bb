"""A pool of parser processes (ingest.parse_worker) with a per-file timeout and memory cap.

A background thread keeps every worker busy while the caller embeds; results arrive through a bounded queue.
A worker that runs past the timeout is killed and replaced; one that dies is reported and replaced. The
timeout bounds each step: a worker reports progress after each slow step (an OCR'd page), which restarts it.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from rag import offline
from rag.settings import IngestSettings

# Tesseract's OpenMP threads would compete with the embedder for the cores; parallel OCR comes from workers.
WORKER_ENV = {**offline.ENV, "OMP_THREAD_LIMIT": "1"}
STARTUP_TIMEOUT_S = 120.0
PARSED_AHEAD = 64  # parsed files held for the embedder at most


def parser_options(ingest: IngestSettings) -> dict:
    """What a parser process needs to know of the settings (sent to it as JSON)."""
    return {"languages": ingest.languages, "pdf_strategy": ingest.pdf_strategy,
            "max_expand_bytes": ingest.parse_memory_mb * 1024 * 1024, "ocr": ingest.ocr,
            "ocr_languages": ingest.ocr_languages, "ocr_dpi": ingest.ocr_dpi, "min_page_chars": ingest.min_page_chars,
            "convert_timeout_s": ingest.convert_timeout_s, "parse_timeout_s": ingest.parse_timeout_s,
            "code_files": ingest.code_files}


class _Stopped(Exception):
    """The consumer stopped reading results; the pool shuts down."""


class ParseResult(TypedDict, total=False):
    """What a parser process returns for a file (as JSON over its pipe)."""

    elements: list[dict]  # {"text", "category", "page", ...} in reading order
    filetype: str
    parser: str
    pages: int | None
    notes: list[str]  # read by content, OCR'd, converted ...


@dataclass
class ParseOutcome:
    key: object
    path: Path
    result: ParseResult | None
    error: str | None
    seconds: float


class _Worker:
    def __init__(self, options: dict, log_file):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest.parse_worker", json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            env={**os.environ, **WORKER_ENV},
        )
        self.buffer = b""  # bytes read past the last complete line
        self.job: tuple[object, Path] | None = None
        self.started = 0.0
        self.last_progress = 0.0  # the time limit counts from the job's start or its latest reported step
        self.ready = False
        self.spawned = time.monotonic()

    def send(self, key: object, path: Path) -> None:
        self.job = (key, path)
        self.started = self.last_progress = time.monotonic()
        self.process.stdin.write((json.dumps({"path": str(path)}) + "\n").encode("utf-8"))
        self.process.stdin.flush()

    def read_messages(self) -> list[dict] | None:
        """The complete messages that have arrived; None once the process has closed its pipe (died).
        Reads the pipe itself, not through a buffered readline: a second line already sitting in a reader's
        buffer would never wake select() again (a progress message followed at once by the result)."""
        data = os.read(self.process.stdout.fileno(), 1 << 20)
        if not data:
            return None
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class ParserPool:
    def __init__(self, workers: int, timeout_s: float, memory_mb: int, options: dict, log_path: Path):
        self.workers = max(1, workers)
        self.timeout_s = timeout_s
        self.options = {**options, "memory_mb": memory_mb}
        self.memory_mb = memory_mb
        self.log_path = log_path

    def parse(self, jobs: Iterable[tuple[object, Path]]) -> Iterator[ParseOutcome]:
        """Parse (key, path) jobs; yields outcomes as they finish (not in order)."""
        # Deep enough that parsing runs ahead through a whole embedding group (~256 chunks).
        results: queue.Queue = queue.Queue(maxsize=PARSED_AHEAD)
        stop = threading.Event()
        thread = threading.Thread(target=self._run, args=(list(jobs), results, stop), daemon=True)
        thread.start()
        try:
            while True:
                item = results.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=10)

    def _run(self, jobs: list, results: queue.Queue, stop: threading.Event) -> None:
        self._stop = stop
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        pending = list(reversed(jobs))
        with open(self.log_path, "a", encoding="utf-8") as log_file:
            pool = [_Worker(self.options, log_file) for _ in range(min(self.workers, len(jobs)))]
            selector = selectors.DefaultSelector()
            for worker in pool:
                selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
            try:
                self._loop(pool, pending, selector, results, stop, log_file)
                self._put(results, None)
            except _Stopped:
                pass
            except BaseException as exc:  # hand the failure to the consumer instead of hanging it
                results.put(exc)
            finally:
                for worker in pool:
                    worker.kill()

    def _loop(self, pool, pending, selector, results, stop, log_file) -> None:
        busy = 0
        while (pending or busy) and not stop.is_set():
            for worker in pool:
                if worker.ready and worker.job is None and pending:
                    worker.send(*pending.pop())
                    busy += 1
            for key, _ in selector.select(timeout=0.5):
                worker = key.data
                messages = worker.read_messages()
                if messages is None:  # the process died
                    busy -= 1 if worker.job else 0
                    self._died(worker, results)
                    self._replace(worker, pool, selector, log_file)
                    continue
                for message in messages:
                    if "ready" in message:
                        worker.ready = True
                    elif "progress" in message:
                        worker.last_progress = time.monotonic()
                    elif worker.job is not None:
                        busy -= 1
                        self._emit(worker, message.get("ok"), message.get("error"), results)
            now = time.monotonic()
            for worker in list(pool):
                if worker.job and now - worker.last_progress > self.timeout_s:
                    busy -= 1
                    self._emit(worker, None, f"parsing took longer than {self.timeout_s:g} s "
                                              "(RAG_INGEST__PARSE_TIMEOUT_S)", results)
                    self._replace(worker, pool, selector, log_file)
                elif not worker.ready and now - worker.spawned > STARTUP_TIMEOUT_S:
                    raise RuntimeError(f"the parser process did not start; see {self.log_path}")

    def _died(self, worker: _Worker, results: queue.Queue) -> None:
        if worker.job is None:
            raise RuntimeError(f"the parser process exited at start; see {self.log_path}")
        code = worker.process.wait()
        reason = (f"the parser was killed (signal {-code}); the file may need more memory than "
                  f"{self.memory_mb} MB or it crashed the parser" if code < 0
                  else f"the parser exited with code {code}")
        self._emit(worker, None, reason, results)

    def _emit(self, worker: _Worker, result, error, results: queue.Queue) -> None:
        key, path = worker.job
        self._put(results, ParseOutcome(key, path, result, error, time.monotonic() - worker.started))
        worker.job = None

    def _put(self, results: queue.Queue, item) -> None:
        """Blocks while the consumer is behind; gives up once it has stopped listening."""
        while True:
            try:
                results.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._stop.is_set():
                    raise _Stopped from None

    def _replace(self, worker: _Worker, pool: list, selector, log_file) -> None:
        selector.unregister(worker.process.stdout)
        worker.kill()
        fresh = _Worker(self.options, log_file)
        pool[pool.index(worker)] = fresh
        selector.register(fresh.process.stdout, selectors.EVENT_READ, fresh)
