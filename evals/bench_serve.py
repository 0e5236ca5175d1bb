"""`rag bench serve`: the HTTP API under load on loopback (JSON).

A server in this process over the workspace; the sample corpus ingested first; then, while an upload of
`--ingest-files` documents is ingested in the background, `--clients` concurrent clients send `--retrievals`
retrieval requests, `--embeddings` embedding requests and `--answers` chat completions (the active answerer,
or `--answerer extractive`). A client told 429 waits the Retry-After it was given and tries again (at most
`--attempts` times), as the documented contract says. Reports p50/p95 per endpoint, status counts, the model
queue's wait and answer time, and how long the server's SQL statements took while the ingest was writing (a
read held up by the writer's lock would show there; SQLite in WAL mode lets readers through).
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from pathlib import Path

import typer

from evals.bench_query import SAMPLE_QUESTIONS, _machine, _record
from ingest.bench import bench_group
from rag.cli.context import context


def register(app: typer.Typer) -> None:
    bench_group(app).command("serve")(bench_serve)


def _summary(seconds: list[float], counted: str = "requests") -> dict:
    if not seconds:
        return {counted: 0}
    ordered = sorted(seconds)
    return {counted: len(ordered), "p50_s": round(statistics.median(ordered), 3),
            "p95_s": round(ordered[min(int(len(ordered) * 0.95), len(ordered) - 1)], 3),
            "max_s": round(ordered[-1], 3)}


def _statements(timed: list[tuple[float, str]]) -> dict:
    """The SQL statements' times, with the slowest of those over a second named by their first words."""
    slow = sorted(((seconds, " ".join(sql.split())[:100]) for seconds, sql in timed if seconds > 1.0), reverse=True)
    return {**_summary([seconds for seconds, _ in timed], "statements"), "over_1s": len(slow),
            "slowest_over_1s": [{"seconds": round(seconds, 3), "sql": sql} for seconds, sql in slow[:5]]}


def _documents(corpus: Path, count: int) -> list[tuple[str, bytes]]:
    """`count` documents from a BEIR corpus.jsonl (one text file each), else made from the sample questions."""
    files = []
    if corpus.is_file():
        with corpus.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                files.append((f"doc-{record['_id']}.txt", f"{record.get('title', '')}\n\n{record['text']}".encode()))
                if len(files) == count:
                    break
    return files


class _LoadClients:
    """Concurrent API clients over a shuffled list of requests; what they saw, counted under one lock."""

    KINDS = ("retrieve", "embeddings", "chat")

    def __init__(self, key: str, model: str, attempts: int):
        self.key, self.model, self.attempts = key, model, attempts
        self.latencies: dict[str, list[float]] = {name: [] for name in (*self.KINDS, "retrieve_during_ingest")}
        self.statuses: dict[str, dict[str, int]] = {name: {} for name in self.KINDS}
        self.errors: list[str] = []
        self.gave_up = dict.fromkeys(self.KINDS, 0)
        self.ingesting = threading.Event()
        self._lock = threading.Lock()

    def http(self):
        import httpx

        return httpx.Client(headers={"Authorization": f"Bearer {self.key}"}, timeout=600)

    def request(self, http, url: str, kind: str, i: int):
        question = SAMPLE_QUESTIONS[i % len(SAMPLE_QUESTIONS)]
        if kind == "retrieve":
            return http.post(f"{url}/v1/retrieve", json={"query": question, "collection": "bench-serve"})
        if kind == "embeddings":
            return http.post(f"{url}/v1/embeddings", json={"input": [question] * 8})
        return http.post(f"{url}/v1/chat/completions",
                         json={"model": self.model, "messages": [{"role": "user", "content": question}]})

    def run(self, url: str, todo: list[tuple[str, int]]) -> None:
        """One client: each request in turn, retried after the Retry-After it is given while told 429."""
        import httpx

        with self.http() as http:
            for kind, i in todo:
                for attempt in range(self.attempts):
                    during = self.ingesting.is_set()
                    t = time.perf_counter()
                    try:
                        response = self.request(http, url, kind, i)
                    except httpx.HTTPError as exc:
                        with self._lock:
                            self.errors.append(f"{kind}: {exc!r}")
                        break
                    self._count(kind, response, time.perf_counter() - t, during)
                    if response.status_code != 429:
                        break
                    if attempt == self.attempts - 1:
                        with self._lock:
                            self.gave_up[kind] += 1
                        break
                    time.sleep(float(response.headers.get("Retry-After", "1")))

    def during_ingest(self, http, url: str, job: dict | None, work: list, clients: int) -> tuple[dict, float]:
        """`clients` threads share `work` while the ingest `job` runs; its last state and the load's seconds."""
        self.ingesting.set()
        threads = [threading.Thread(target=self.run, args=(url, work[n::clients])) for n in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        state: dict = {}
        while job is not None and self.ingesting.is_set():
            state = http.get(f"{url}/v1/jobs/{job['id']}").json()
            if state["state"] in ("done", "failed"):
                self.ingesting.clear()
            time.sleep(0.5)
        for thread in threads:
            thread.join()
        return state, time.perf_counter() - started

    def _count(self, kind: str, response, took: float, during: bool) -> None:
        with self._lock:
            codes = self.statuses[kind]
            codes[str(response.status_code)] = codes.get(str(response.status_code), 0) + 1
            if response.status_code == 200:
                self.latencies[kind].append(took)
                if kind == "retrieve" and during and self.ingesting.is_set():
                    self.latencies["retrieve_during_ingest"].append(took)
            elif response.status_code != 429:
                self.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")


def bench_serve(
    ctx: typer.Context,
    clients: int = typer.Option(32, help="Concurrent clients."),
    retrievals: int = typer.Option(320, help="POST /v1/retrieve requests in all."),
    embeddings: int = typer.Option(64, help="POST /v1/embeddings requests in all."),
    answers: int = typer.Option(24, help="POST /v1/chat/completions requests in all."),
    answerer: str = typer.Option("model", help="model (the active answerer) | extractive"),
    ingest_files: int = typer.Option(200, help="Documents uploaded and ingested while the load runs."),
    corpus: Path = typer.Option(Path("../shared/data/retrieval/scifact/corpus.jsonl"),
                                help="Where the uploaded documents come from (BEIR corpus.jsonl)."),
    sample: Path = typer.Option(Path("data/sample"), help="The documents the questions are about."),
    attempts: int = typer.Option(30, help="Tries per request when told 429 (waiting Retry-After between)."),
) -> None:
    """Latency per endpoint, 429s and the model queue's wait while an ingest runs (one JSON object)."""
    from rag.api.background import serving
    from rag.api_keys import create_key, revoke_key

    app = context(ctx)
    started = time.perf_counter()
    app.ingest([sample], "bench-serve")
    key_name = f"bench-serve-{int(time.time())}"
    key = create_key(app.store, key_name, "write", ["bench-serve", "bench-serve-ingest"])
    model = "groundwork/bench-serve" + (":extractive" if answerer == "extractive" else "")
    uploads = _documents(corpus, ingest_files)
    load = _LoadClients(key, model, attempts)
    work = ([("retrieve", i) for i in range(retrievals)] + [("embeddings", i) for i in range(embeddings)]
            + [("chat", i) for i in range(answers)])
    random.Random(0).shuffle(work)
    try:
        with app.store.statement_seconds(load.ingesting.is_set) as statements, serving(app) as url:
            with load.http() as http:
                load.request(http, url, "chat", 0)  # loads the model: a cold start is not load
                job = http.post(f"{url}/v1/collections/bench-serve-ingest/documents",
                                files=[("files", f) for f in uploads]).json() if uploads else None
                ingest_state, load_seconds = load.during_ingest(http, url, job, work, clients)
                queue = http.get(f"{url}/v1/health").json()["queue"]
    finally:
        revoke_key(app.store, key_name)
    result = {
        "benchmark": "serve", "machine": _machine(), "clients": clients, "answerer": model,
        "load_seconds": round(load_seconds, 1),
        "endpoints": {name: {**_summary(load.latencies[name]), "statuses": load.statuses[name]}
                      for name in load.KINDS},
        "retrieve_during_ingest": _summary(load.latencies["retrieve_during_ingest"]),
        "sql_statements_during_ingest": _statements(statements),
        "queue": queue, "gave_up_after_429s": load.gave_up, "errors": load.errors[:20],
        "error_count": len(load.errors), "ingest": _ingest_summary(uploads, ingest_state),
    }
    print(json.dumps(result, indent=2))
    _record(app, sample, result, time.perf_counter() - started, kind="bench-serve")


def _ingest_summary(uploads: list, state: dict) -> dict:
    finished = state.get("finished_at")
    return {"files": len(uploads), "state": state.get("state"),
            "seconds": round(finished - state["queued_at"], 1) if finished else None,
            "failed": len(state.get("failed") or [])}
