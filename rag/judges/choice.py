"""A judge by name: 'alignment' (the default, no model), 'llm' or 'combined' (they read with the generation
model), or a directory written by `rag eval train-judge` (fitted weights or a trained cross-encoder)."""

from __future__ import annotations

from pathlib import Path

from rag.embedder import Embedder
from rag.errors import ConfigError
from rag.generation.generators import Generator
from rag.judges.alignment import CARD, AlignmentWeights, EvidenceAlignmentJudge, Judge, read_card
from rag.judges.combined import COMBINED_WEIGHTS, CombinedJudge
from rag.judges.llm import LlmJudge


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
    from rag.judges.cross_encoder import CrossEncoderJudge  # loads torch models only when asked for

    return CrossEncoderJudge(path)
