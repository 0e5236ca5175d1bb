"""`rag serve`: the HTTP API over the workspace. OpenAI-compatible chat completions (streamed by server-sent
events or not), models and embeddings, and native endpoints for collections, documents, answers, retrieval,
ingest jobs and evaluation runs. Every workflow is the workspace's; this module only speaks HTTP.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import anyio
from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from rag.answer.contract import Answer, describe_source
from rag.api import schemas
from rag.api.auth import grant, require, visible
from rag.api.ingest_jobs import IngestJobs
from rag.api.model_queue import ClientGone, ModelQueue, QueueFull, Ticket
from rag.api_keys import KeyGrant
from rag.errors import RagError
from rag.workspace import Workspace

PREFIX = "groundwork/"
EXTRACTIVE = ":extractive"


def create_app(workspace: Workspace) -> FastAPI:
    settings = workspace.settings.api
    app = FastAPI(title="Groundwork", version="1", summary="Grounded, cited answers from your own documents.",
                  description="Every request needs `Authorization: Bearer KEY` (`rag keys create`), except "
                  "/v1/health. Answers queue for the local model; a full queue answers 429 with Retry-After.")
    app.state.workspace = workspace
    app.state.queue = ModelQueue(settings.queue_size)
    app.state.jobs = IngestJobs(workspace)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    _limits(app, settings.max_request_kb * 1024, int(settings.upload_max_mb * 1e6))
    _errors(app)
    _openai_routes(app)
    _native_routes(app)
    return app


# -- request limits and errors -----------------------------------------------------------------
def _limits(app: FastAPI, json_limit: int, upload_limit: int) -> None:
    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        if request.method in ("POST", "PUT", "PATCH"):
            upload = request.url.path.endswith("/documents")
            limit = upload_limit if upload else json_limit
            length = request.headers.get("content-length")
            if length is None:
                return _error(411, "send a Content-Length header (chunked request bodies are not accepted)")
            if not length.isdigit() or int(length) > limit:
                what = "RAG_API__UPLOAD_MAX_MB" if upload else "RAG_API__MAX_REQUEST_KB"
                return _error(413, f"the request body is over the limit of {limit:,} bytes ({what})")
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"  # JSON and event streams are never sniffed as HTML
        return response


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    kind = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
            404: "not_found_error", 413: "request_too_large", 422: "invalid_request_error",
            429: "rate_limit_error"}.get(status, "server_error")
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        return _error(422, problems)

    @app.exception_handler(QueueFull)
    async def busy(_request, exc: QueueFull):
        return _error(429, str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(RagError)
    async def rag_error(_request, exc: RagError):
        status = 404 if "no collection named" in str(exc) or "has no document" in str(exc) else 400
        return _error(status, str(exc))


# Every error answers with the same body (OpenAI's shape); documented per route so the schema is accurate.
ERRORS = {status: {"model": schemas.ErrorOut, "description": why} for status, why in (
    (400, "The request cannot be answered as asked"), (401, "No valid API key"),
    (403, "The key's scope or collections do not allow this"), (404, "No such collection, document or job"),
    (411, "No Content-Length"), (413, "The body is over the limit"), (422, "The body does not match the schema"))}
BUSY = {**ERRORS, 429: {"model": schemas.ErrorOut, "description": "The model's queue is full: see Retry-After"}}


# -- answering with the model ------------------------------------------------------------------
def _known(workspace: Workspace, collection: str) -> str:
    if collection not in workspace.collection_names():
        raise HTTPException(404, f"no collection named {collection!r} (GET /v1/models lists them)")
    return collection


def _ticket(request: Request, answerer) -> Ticket | None:
    """A place in the model's line when a model answers (429 when the line is full); None: no model needed."""
    return request.app.state.queue.admit() if getattr(answerer, "generator", None) is not None else None


async def _answer(request: Request, ticket: Ticket | None, work, on_text=None, watch: bool = True) -> Answer:
    """Runs `work(on_text)` in a worker thread, holding the model when `ticket` is given. With `watch`, a client
    that disconnects meanwhile leaves the line or stops its generation at the next token."""
    if ticket is None:
        return await run_in_threadpool(work, on_text)

    def forward(piece: str) -> None:
        ticket.check()
        if on_text is not None:
            on_text(piece)

    async def watch_client() -> None:
        while not ticket.cancelled.is_set():
            if await request.is_disconnected():
                ticket.cancel()
            await asyncio.sleep(0.25)

    watcher = asyncio.create_task(watch_client()) if watch else None
    try:
        return await anyio.to_thread.run_sync(ticket.run, lambda: work(forward))
    finally:
        if watcher is not None:
            watcher.cancel()
        ticket.cancel()  # leaves the line if it had not (idempotent)


def _parse_model(model: str) -> tuple[str, bool]:
    name = model.removeprefix(PREFIX)
    extractive = name.endswith(EXTRACTIVE)
    return name.removesuffix(EXTRACTIVE), extractive


def _text_with_sources(answer: Answer) -> str:
    if answer.abstained or not answer.citations:
        return answer.answer
    notes = "\n".join(f"[{c.number}] {describe_source(c)}" for c in answer.citations)
    return f"{answer.answer}\n\nSources:\n{notes}"


def _usage(answerer) -> schemas.Usage:
    """Tokens of the last generation (read while the model is still held); zeros for the extractive answerer."""
    generator = getattr(answerer, "generator", None)
    prompt, completion = getattr(generator, "evaluated_tokens", 0), getattr(generator, "generated_tokens", 0)
    return schemas.Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _openai_routes(app: FastAPI) -> None:
    @app.get("/v1/models", response_model=schemas.ModelList, responses=ERRORS, tags=["openai"])
    def models(key: KeyGrant = Depends(grant)):
        """Each collection, answered by the active answerer, and by the extractive one."""
        workspace: Workspace = app.state.workspace
        require(key, "read")
        names = visible(key, workspace.collection_names())
        cards = []
        for name in names:
            cards.append(schemas.ModelCard(id=f"{PREFIX}{name}", description=f"answers from collection {name}"))
            cards.append(schemas.ModelCard(id=f"{PREFIX}{name}{EXTRACTIVE}",
                                           description=f"quoted sentences from collection {name}, no model"))
        return schemas.ModelList(data=cards)

    @app.post("/v1/chat/completions", response_model=schemas.ChatCompletion, tags=["openai"],
              responses={**BUSY, 200: {"content": {"text/event-stream": {}}}})
    async def chat_completions(body: schemas.ChatCompletionRequest, request: Request,
                               key: KeyGrant = Depends(grant)):
        """A grounded, cited answer to the last user message. The text ends with numbered source notes; the
        `groundwork` field carries the citations, verified sentences and groundedness."""
        workspace: Workspace = app.state.workspace
        collection, extractive = _parse_model(body.model)
        require(key, "read", collection)
        await run_in_threadpool(_known, workspace, collection)
        asked = [m.text() for m in body.messages if m.role == "user" and m.text().strip()]
        if not asked:
            raise HTTPException(400, "no user message with text to answer")
        question, previous = asked[-1], (asked[-2] if len(asked) > 1 else None)
        answerer = await run_in_threadpool(workspace.answerer, collection, extractive=extractive)

        usage = {}

        def work(on_text):
            answer = answerer.answer(workspace.standalone(answerer, question, previous), on_text=on_text)
            usage["usage"] = _usage(answerer)
            return answer

        created, ident = int(time.time()), f"chatcmpl-{uuid.uuid4().hex[:24]}"
        ticket = _ticket(request, answerer)
        if not body.stream:
            answer = await _answer(request, ticket, work)
            return schemas.ChatCompletion(
                id=ident, created=created, model=body.model, usage=usage["usage"], groundwork=answer,
                choices=[schemas.Choice(message=schemas.AssistantMessage(content=_text_with_sources(answer)))])
        return StreamingResponse(_stream(request, ticket, work, ident, created, body.model),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/embeddings", response_model=schemas.EmbeddingList, responses=ERRORS, tags=["openai"])
    def embeddings(body: schemas.EmbeddingRequest, key: KeyGrant = Depends(grant)):
        """Vectors from the embedding model the collections use (never waits behind answers)."""
        workspace: Workspace = app.state.workspace
        require(key, "read")
        texts = [body.input] if isinstance(body.input, str) else body.input
        limit = workspace.settings.api.max_embedding_inputs
        if not texts or len(texts) > limit:
            raise HTTPException(400, f"give 1 to {limit} texts (RAG_API__MAX_EMBEDDING_INPUTS)")
        vectors = workspace.embedder.embed(texts)
        tokens = sum(workspace.embedder.count_tokens(t) for t in texts)
        return schemas.EmbeddingList(
            model=workspace.settings.embedding.model, usage=schemas.Usage(prompt_tokens=tokens, total_tokens=tokens),
            data=[schemas.EmbeddingItem(index=i, embedding=_encoded(v, body.encoding_format))
                  for i, v in enumerate(vectors)])


def _encoded(vector, encoding: str) -> list[float] | str:
    import base64

    import numpy as np

    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.tolist()


async def _stream(request: Request, ticket: Ticket | None, work, ident: str, created: int, model: str
                  ) -> AsyncIterator[str]:
    """Server-sent events: the answer's pieces as the model writes them, then the source notes and the verified
    answer (`groundwork`), then [DONE]. Each event is JSON, so nothing in it is ever markup."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue = asyncio.Queue()

    def event(delta: dict, finish: str | None = None, extra: dict | None = None) -> str:
        chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **(extra or {})}
        return f"data: {json.dumps(chunk)}\n\n"

    # The response itself notices a disconnect (and stops this generator), so no second watcher reads the socket.
    task = asyncio.ensure_future(_answer(request, ticket, work, lambda p: loop.call_soon_threadsafe(
        pieces.put_nowait, p), watch=False))
    task.add_done_callback(lambda _t: loop.call_soon_threadsafe(pieces.put_nowait, None))
    yield event({"role": "assistant", "content": ""})
    written = []
    try:
        while (piece := await pieces.get()) is not None:
            written.append(piece)
            yield event({"content": piece})
        if task.exception() is not None:
            raise task.exception()
        answer = task.result()
    except (RagError, ClientGone) as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error', 'code': 500}})}\n\n"
        return
    finally:
        if ticket is not None:
            ticket.cancel()  # a client gone mid-answer stops the generation at its next token
    draft = "".join(written).strip()
    if not draft or (answer.abstained and draft != answer.answer):
        tail = answer.answer if not draft else f"\n\n{answer.answer}"
    else:
        tail = ""
    tail += _text_with_sources(answer)[len(answer.answer):]
    yield event({"content": tail} if tail else {}, "stop", {"groundwork": answer.to_json()})
    yield "data: [DONE]\n\n"


def _native_routes(app: FastAPI) -> None:
    @app.get("/v1/health", response_model=schemas.Health, tags=["native"])
    def health():
        """No key needed: the server is up, which answerer answers, the model's queue, ingest under way."""
        workspace: Workspace = app.state.workspace
        model = workspace.active_model()
        return schemas.Health(answerer=model.path.name if model else "extractive", queue=app.state.queue.status(),
                              ingesting=app.state.jobs.busy())

    @app.get("/v1/collections", response_model=list[schemas.CollectionOut], responses=ERRORS, tags=["native"])
    def collections(key: KeyGrant = Depends(grant)):
        require(key, "read")
        workspace: Workspace = app.state.workspace
        return [c.to_json() for c in workspace.collections() if visible(key, [c.name])]

    @app.get("/v1/collections/{collection}/documents", response_model=list[schemas.DocumentOut], responses=ERRORS,
             tags=["native"])
    def documents(collection: str, key: KeyGrant = Depends(grant)):
        """Every document with status, pages, chunks, error, notes and the pages to check (never the text)."""
        require(key, "read", collection)
        return app.state.workspace.documents(collection)

    @app.post("/v1/collections/{collection}/documents", response_model=schemas.JobOut, status_code=202,
              responses=ERRORS, tags=["native"])
    async def upload(collection: str, files: list[UploadFile] = File(...), key: KeyGrant = Depends(grant)):
        """Stores the files (names cannot leave the upload folder) and ingests them in the background: poll
        GET /v1/jobs/{id} for the state and the files that could not be read, with why."""
        require(key, "write", collection)
        workspace: Workspace = app.state.workspace
        saved = []
        for file in files:
            data = await file.read()
            saved.append(await run_in_threadpool(workspace.save_upload, file.filename or "upload", data))
        job = app.state.jobs.submit(collection, saved, [p.name for p in saved])
        return job.to_json()

    @app.delete("/v1/collections/{collection}/documents/{document_id}", response_model=schemas.Deleted,
                responses=ERRORS, tags=["native"])
    def delete_document(collection: str, document_id: int, key: KeyGrant = Depends(grant)):
        require(key, "write", collection)
        chunks = app.state.workspace.delete_documents(collection, [document_id])
        return schemas.Deleted(documents=1, chunks=chunks)

    @app.get("/v1/jobs/{job_id}", response_model=schemas.JobOut, responses=ERRORS, tags=["native"])
    def job(job_id: int, key: KeyGrant = Depends(grant)):
        found = app.state.jobs.get(job_id)
        if found is None:
            raise HTTPException(404, f"no ingest job {job_id} (jobs are kept while the server runs)")
        require(key, "read", found.collection)
        return found.to_json()

    @app.post("/v1/ask", response_model=Answer, responses=BUSY, tags=["native"])
    async def ask(body: schemas.AskRequest, request: Request, key: KeyGrant = Depends(grant)):
        """The same object as `rag ask --json`."""
        workspace: Workspace = app.state.workspace
        collection = workspace.collection_name(body.collection)
        require(key, "read", collection)
        await run_in_threadpool(_known, workspace, collection)
        answerer = await run_in_threadpool(workspace.answerer, collection, mode=body.mode,
                                           extractive=body.answerer == "extractive")
        answer = await _answer(request, _ticket(request, answerer),
                               lambda on_text: answerer.answer(body.question, k=body.k, on_text=on_text))
        return answer.to_json()

    @app.post("/v1/retrieve", response_model=list[schemas.RetrievedHit], responses=ERRORS, tags=["native"])
    def retrieve(body: schemas.RetrieveRequest, key: KeyGrant = Depends(grant)):
        """Ranked passages only (hybrid retrieval; never waits behind answers)."""
        workspace: Workspace = app.state.workspace
        collection = workspace.collection_name(body.collection)
        require(key, "read", collection)
        hits = workspace.retriever(_known(workspace, collection)).retrieve(body.query, k=body.k)
        return [schemas.RetrievedHit(**{f: getattr(h, f) for f in schemas.RetrievedHit.model_fields}) for h in hits]

    @app.get("/v1/eval/runs", response_model=list[schemas.RunOut], responses=ERRORS, tags=["native"])
    def eval_runs(limit: int = 100, key: KeyGrant = Depends(grant)):
        """The newest evaluation runs with their metrics (`rag eval report ID` writes the full report)."""
        require(key, "read")
        return app.state.workspace.eval_runs(min(max(limit, 1), 1000))
