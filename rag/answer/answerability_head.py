"""A fitted head that reads the model's own hidden state to tell whether the sources answer the question.

The answerability check asks the model "Do the sources state the answer to this question?" and reads P(yes)
from its next-token logits. Those two logits are one direction through the model's last hidden state; a
logistic over the whole state (1,536 numbers for the 1.5B model), fitted on labelled questions, reads more of
what the model has worked out, at no extra prompt tokens (`LlamaCppGenerator.score_next_hidden`).

A head belongs to one model file and one prompt: it is used only when the generator's SHA-256 and the check's
prompt are the ones it was fitted with (`rag eval train-answerability` fits one and writes it as JSON: no
pickle). Heads ship in `rag/answer/heads/`; the ones a user fits live in RAG_MODELS_DIR/heads.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer.reader_prompt import EXAMPLES, SYSTEM_PROMPT, answerable_task

SHIPPED = Path(__file__).parent / "heads"


def prompt_fingerprint() -> str:
    """What the head's inputs depend on besides the model: the check's prompt (instruction, examples, task)."""
    text = json.dumps([SYSTEM_PROMPT, [list(pair) for pair in EXAMPLES], answerable_task("{question}")])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AnswerabilityHead:
    """P(the sources answer the question) = logistic(weights . (hidden - mean) / scale + bias)."""

    model_sha256: str
    prompt_sha256: str
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    decline_below: float  # the threshold chosen when it was fitted (RAG_ANSWER__ANSWERABLE_BELOW overrides it)
    card: dict = field(default_factory=dict)  # how it was fitted, and what it scored there

    def probability(self, hidden) -> float:
        import numpy as np

        if len(hidden) != len(self.weights):
            raise ValueError(f"the hidden state has {len(hidden)} numbers, the head expects {len(self.weights)}")
        z = float(np.dot(self.weights, (np.asarray(hidden, dtype=np.float64) - self.mean) / self.scale)) + self.bias
        return 1 / (1 + math.exp(-min(max(z, -50.0), 50.0)))

    def to_json(self) -> str:
        return json.dumps({"model_sha256": self.model_sha256, "prompt_sha256": self.prompt_sha256,
                           "decline_below": self.decline_below, "bias": self.bias, "card": self.card,
                           "mean": self.mean, "scale": self.scale, "weights": self.weights})

    @classmethod
    def read(cls, path: Path) -> AnswerabilityHead:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            head = cls(**{key: data[key] for key in ("model_sha256", "prompt_sha256", "mean", "scale", "weights",
                                                     "bias", "decline_below")}, card=data.get("card", {}))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not an answerability head ({exc}); fit one again with "
                             "`rag eval train-answerability`.") from exc
        if not len(head.mean) == len(head.scale) == len(head.weights):
            raise ValueError(f"{path}: not an answerability head (its vectors differ in length)")
        return head


def find_head(model_sha256: str, folders: tuple[Path, ...] = (SHIPPED,)) -> AnswerabilityHead | None:
    """The head fitted for this model file and today's prompt; a user's own (the later folder) wins."""
    if not model_sha256:
        return None
    found = None
    fingerprint = prompt_fingerprint()
    for folder in folders:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            head = AnswerabilityHead.read(path)
            if head.model_sha256 == model_sha256 and head.prompt_sha256 == fingerprint:
                found = head
    return found
