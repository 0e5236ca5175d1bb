"""Request and response bodies of the HTTP API (the OpenAPI document is generated from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from rag.answer.contract import Answer


class ContentPart(BaseModel):
    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model: str = Field(..., description="groundwork/COLLECTION (the active answerer) or "
                       "groundwork/COLLECTION:extractive; see GET /v1/models.")
    messages: list[ChatMessage] = Field(..., min_length=1, description="The last user message is the question; "
                                        "the user message before it makes a follow-up standalone. System "
                                        "messages are ignored: answers keep to the documents.")
    stream: bool = False
    # Accepted for compatibility; answers are written greedily to the server's own limits.
    temperature: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    top_p: float | None = None
    n: int | None = Field(None, ge=1, le=1)
    stream_options: dict[str, Any] | None = None
    user: str | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    groundwork: Answer = Field(description="The answer with its citations, verified sentences and "
                               "groundedness: the same object as `rag ask --json`.")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "groundwork"
    description: str = ""


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class EmbeddingRequest(BaseModel):
    input: str | list[str] = Field(..., description="A text or a list of texts.")
    model: str = Field("groundwork/embedding", description="Ignored: the collection's embedding model answers.")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="base64: each vector as little-endian float32 bytes (what the openai client asks for).")
    user: str | None = None


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: Usage


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=4000)
    collection: str | None = None
    k: int | None = Field(None, ge=1, le=50)
    mode: Literal["flag", "strip", "abstain"] | None = None
    answerer: Literal["model", "extractive"] = "model"


class RetrieveRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=4000)
    collection: str | None = None
    k: int | None = Field(None, ge=1, le=100)


class RetrievedHit(BaseModel):
    chunk_id: int
    score: float
    text: str
    document_id: int
    source: str
    title: str | None
    page_start: int | None
    page_end: int | None
    section_path: list[str]
    ocr_confidence: float | None = None


class CollectionOut(BaseModel):
    name: str
    documents: int
    chunks: int
    model: str | None


class DocumentOut(BaseModel):
    id: int
    source: str
    status: str
    type: str | None
    pages: int | None
    title: str | None
    error: str | None
    chunks: int
    notes: list[str] | None
    flagged_pages: dict[str, str]


class JobOut(BaseModel):
    id: int
    collection: str
    files: list[str]
    state: Literal["queued", "running", "done", "failed"]
    error: str | None
    failed: list[dict[str, str]]
    summary: dict[str, Any] | None
    queued_at: float
    finished_at: float | None


class Deleted(BaseModel):
    documents: int
    chunks: int


class RunOut(BaseModel):
    id: int
    kind: str
    dataset: str
    collection: str | None
    metrics: dict[str, Any]
    seconds: float
    created_at: Any


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    answerer: str
    queue: dict[str, Any]
    ingesting: bool


class ErrorBody(BaseModel):
    message: str
    type: str
    code: int


class ErrorOut(BaseModel):
    error: ErrorBody
