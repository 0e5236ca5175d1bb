"""The optional reranking stage: a sentence-transformers CrossEncoder read from a configured directory.

None ships offline (the fine-tuning work trains one); when RAG_RETRIEVAL__RERANKER is empty the stage is
skipped and retrieval returns the fused order.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from rag.errors import ConfigError
from rag.retrieval.hybrid import Hit


class CrossEncoderReranker:
    def __init__(self, path: str, device: str = "cpu", batch_size: int = 32):
        self.path = Path(path).expanduser()
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def model(self):
        from sentence_transformers import CrossEncoder

        if not (self.path / "config.json").is_file():
            raise ConfigError(f"{self.path}: RAG_RETRIEVAL__RERANKER names no CrossEncoder model directory "
                              "(config.json missing). Point it at a saved CrossEncoder, or leave it empty.")
        return CrossEncoder(str(self.path), device=self.device, local_files_only=True)

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """Hits ordered by the cross-encoder's score, which replaces their fused score."""
        if not hits:
            return hits
        scores = self.model.predict([(query, h.text) for h in hits], batch_size=self.batch_size,
                                    show_progress_bar=False)
        for hit, score in zip(hits, scores):
            hit.score = float(score)
        return sorted(hits, key=lambda h: (-h.score, h.chunk_id))
