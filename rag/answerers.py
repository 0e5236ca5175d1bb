"""Which answerer a question gets: the configured (or pulled) GGUF model, else the offline extractive one.

Used by every entry point (CLI, UI, evaluation) so that all of them say the same thing about what is active.
"""

from __future__ import annotations

from rag.answering import Answerer, ExtractiveAnswerer
from rag.embedder import Embedder
from rag.generation import Generator, LlamaCppGenerator
from rag.generative_answerer import GenerativeAnswerer
from rag.judge import EvidenceAlignmentJudge
from rag.models import active_model
from rag.retrieval import Retriever
from rag.settings import AnswerSettings, Settings


def build_answerer(settings: Settings, retriever: Retriever, embedder: Embedder,
                   answer: AnswerSettings | None = None, generator: Generator | None = None
                   ) -> Answerer:
    answer = answer or settings.answer
    judge = EvidenceAlignmentJudge(embedder)
    if generator is None:
        path = active_model(settings)
        if path is None:
            return ExtractiveAnswerer(retriever, embedder, judge, answer)
        generator = LlamaCppGenerator(path, settings.generator)
    return GenerativeAnswerer(retriever, generator, embedder, judge, answer, settings.generator)


def describe(answerer: Answerer) -> str:
    """One line saying which answerer is active (shown by the CLI and the UI)."""
    if isinstance(answerer, GenerativeAnswerer):
        grammar = "citations enforced by grammar" if answerer.generation.grammar else "citations checked after"
        return f"answerer: {answerer.name} ({grammar})"
    return ("answerer: extractive (offline; no GGUF model configured: set RAG_GENERATOR__MODEL_PATH or run "
            "`rag models pull`)")
