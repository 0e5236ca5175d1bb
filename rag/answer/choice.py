"""Which answerer a question gets: the active GGUF model (`rag.generation.model_files.active_model`), else the offline
extractive one.

Used by every entry point (CLI, UI, evaluation) so that all of them say the same thing about what is active.
"""

from __future__ import annotations

from pathlib import Path

from rag.answer.answerability_head import SHIPPED as SHIPPED_HEADS
from rag.answer.answerability_head import AnswerabilityHead, find_head
from rag.answer.checks import ModelChecks
from rag.answer.contract import Answerer
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.embedder import Embedder
from rag.generation.generators import Generator, LlamaCppGenerator
from rag.generation.model_files import ActiveModel, active_model
from rag.judges.choice import build_judge
from rag.judges.combined import COMBINED_WEIGHTS, CombinedJudge
from rag.retrieval.hybrid import Retriever
from rag.settings import AnswerSettings, Settings


def build_answerer(settings: Settings, retriever: Retriever, embedder: Embedder,
                   answer: AnswerSettings | None = None, generator: Generator | None = None
                   ) -> Answerer:
    answer = answer or settings.answer
    if generator is None:
        model = active_model(settings)
        if model is None:
            return ExtractiveAnswerer(retriever, embedder, build_judge(answer.judge, embedder), answer)
        generator = model_generator(settings, model)
    judge = build_judge(answer.judge, embedder, generator)
    head = answerability_head(settings, generator) if answer.answerability_head else None
    checks = ModelChecks(generator, head=head) if answer.checks else None
    if checks and answer.judge == "alignment":  # the default judge, with the model's verdict weighed in
        judge = CombinedJudge(judge, COMBINED_WEIGHTS)
    return GenerativeAnswerer(retriever, generator, embedder, judge, answer, settings.generator, checks=checks)


def answerability_head(settings: Settings, generator: Generator) -> AnswerabilityHead | None:
    """The head fitted for this very model file (not for a LoRA-adapted one: its hidden states differ)."""
    if getattr(getattr(generator, "settings", None), "lora_path", ""):
        return None
    return find_head(getattr(generator, "sha256", ""), (SHIPPED_HEADS, settings.models_dir / "heads"))


def model_generator(settings: Settings, model: ActiveModel, adapter: Path | None = None,
                    adapter_name: str = "") -> LlamaCppGenerator:
    """The model through llama.cpp; with a LoRA adapter file when given (else RAG_GENERATOR__LORA_PATH's)."""
    generation = settings.generator
    if adapter is not None:
        generation = generation.model_copy(update={"lora_path": str(adapter)})
    return LlamaCppGenerator(model.path, generation, sha256=model.sha256,
                             cache_dir=settings.models_dir / "prompt-cache", adapter_name=adapter_name)


def describe(answerer: Answerer) -> str:
    """One line saying which answerer is active (shown by the CLI, the UI and the API)."""
    return answerer.description
