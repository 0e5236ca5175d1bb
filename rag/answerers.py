"""Which answerer a question gets: the active GGUF model (`rag.models.active_model`), else the offline
extractive one.

Used by every entry point (CLI, UI, evaluation) so that all of them say the same thing about what is active.
"""

from __future__ import annotations

from pathlib import Path

from rag.answering import Answerer, ExtractiveAnswerer
from rag.embedder import Embedder
from rag.errors import ConfigError
from rag.generation import Generator, LlamaCppGenerator
from rag.generative_answerer import GenerativeAnswerer
from rag.judge import AlignmentWeights, EvidenceAlignmentJudge, Judge, read_card
from rag.models import active_model
from rag.retrieval import Retriever
from rag.settings import AnswerSettings, Settings


def build_answerer(settings: Settings, retriever: Retriever, embedder: Embedder,
                   answer: AnswerSettings | None = None, generator: Generator | None = None
                   ) -> Answerer:
    answer = answer or settings.answer
    judge = build_judge(answer.judge, embedder)
    if generator is None:
        model = active_model(settings)
        if model is None:
            return ExtractiveAnswerer(retriever, embedder, judge, answer)
        generator = LlamaCppGenerator(model.path, settings.generator, sha256=model.sha256,
                                      cache_dir=settings.models_dir / "prompt-cache")
    return GenerativeAnswerer(retriever, generator, embedder, judge, answer, settings.generator)


def build_judge(name: str, embedder: Embedder) -> Judge:
    """'alignment' (the default, no LLM) or the directory of a judge made by `rag eval train-judge`: a trained
    cross-encoder, or alignment weights fitted on your own labelled pairs."""
    if name == "alignment":
        return EvidenceAlignmentJudge(embedder)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ConfigError(f"judge {name!r}: neither 'alignment' nor a directory; give the directory that "
                          "`rag eval train-judge --out` wrote")
    card = read_card(path)
    if card.get("kind") == "alignment":
        return EvidenceAlignmentJudge(embedder, AlignmentWeights.from_card(card))
    from rag.cross_encoder_judge import CrossEncoderJudge  # loads torch models only when asked for

    return CrossEncoderJudge(path)


def describe(answerer: Answerer) -> str:
    """One line saying which answerer is active (shown by the CLI and the UI)."""
    if isinstance(answerer, GenerativeAnswerer):
        grammar = "citations enforced by grammar" if answerer.generation.grammar else "citations checked after"
        return f"answerer: {answerer.name} ({grammar})"
    return ("answerer: extractive (no generation model installed or chosen: `rag models install`, or "
            "`rag models use FILE.gguf`)")
