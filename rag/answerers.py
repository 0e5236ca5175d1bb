"""Which answerer a question gets: the active GGUF model (`rag.models.active_model`), else the offline
extractive one.

Used by every entry point (CLI, UI, evaluation) so that all of them say the same thing about what is active.
"""

from __future__ import annotations

from pathlib import Path

from rag.answer_checks import ModelChecks
from rag.answering import Answerer, ExtractiveAnswerer
from rag.combined_judge import COMBINED_WEIGHTS, CombinedJudge
from rag.embedder import Embedder
from rag.errors import ConfigError
from rag.generation import Generator, LlamaCppGenerator
from rag.generative_answerer import GenerativeAnswerer
from rag.judge import CARD, AlignmentWeights, EvidenceAlignmentJudge, Judge, read_card
from rag.llm_judge import LlmJudge
from rag.models import ActiveModel, active_model
from rag.retrieval import Retriever
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
    checks = ModelChecks(generator) if answer.checks else None
    if checks and answer.judge == "alignment":  # the default judge, with the model's verdict weighed in
        judge = CombinedJudge(judge, COMBINED_WEIGHTS)
    return GenerativeAnswerer(retriever, generator, embedder, judge, answer, settings.generator, checks=checks)


def model_generator(settings: Settings, model: ActiveModel) -> LlamaCppGenerator:
    return LlamaCppGenerator(model.path, settings.generator, sha256=model.sha256,
                             cache_dir=settings.models_dir / "prompt-cache")


def reads(judge: str) -> bool:
    """Whether a judge asks the generation model (`llm`, `combined`, or fitted combined weights)."""
    card = Path(judge).expanduser() / CARD
    return judge in ("llm", "combined") or (card.is_file() and read_card(card.parent).get("kind") == "combined")


def build_judge(name: str, embedder: Embedder, generator: Generator | None = None) -> Judge:
    """'alignment' (the default, no LLM), 'llm' or 'combined' (alignment with the model's verdict; both need
    `generator`), or the directory of a judge made by `rag eval train-judge`: a trained cross-encoder, or
    alignment or combined weights fitted on your own labelled pairs."""
    if name == "alignment":
        return EvidenceAlignmentJudge(embedder)
    if reads(name):
        if generator is None:
            raise ConfigError(f"judge {name!r} reads with the generation model, and none is installed or "
                              "chosen: run `rag models install`, or use the alignment judge")
        llm = LlmJudge(generator, embedder)
        if name == "llm":
            return llm
        weights = COMBINED_WEIGHTS if name == "combined" else AlignmentWeights.from_card(
            read_card(Path(name).expanduser()))
        return CombinedJudge(EvidenceAlignmentJudge(embedder), weights, llm)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ConfigError(f"judge {name!r}: neither alignment, llm, combined nor a directory; give the "
                          "directory that `rag eval train-judge --out` wrote")
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
