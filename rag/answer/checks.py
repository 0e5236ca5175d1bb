"""The checks a careful reader makes, asked of the generation model in the answer's own prompt and scored from
its next-token probabilities: do the sources state the answer (before generating), does each sentence follow
from the sources it cites, does the answer answer the question.

Each check is the reader prompt with the answer's sources as context, so llama.cpp reuses their evaluated state
and a check costs only its own few dozen tokens. Answerability is read from the model's hidden state at its
verdict by a head fitted for that model file (`rag.answer.answerability_head`); for a model without one, the
verdict and the evidence score are combined by a logistic fitted on development questions (`ANSWERABILITY`).
Support feeds the combined judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rag.answer.answerability_head import AnswerabilityHead
from rag.answer.reader_prompt import YES_NO, answerable_task, answers_task, reader_prompt, supported_task
from rag.generation.generators import Generator
from rag.judges.llm import logit, p_yes


@dataclass(frozen=True)
class AnswerabilityWeights:
    """P(the sources answer the question) from the model's verdict (log-odds) and the best evidence score."""

    llm_logit: float
    evidence: float
    bias: float

    def probability(self, p_model: float, evidence: float) -> float:
        z = self.bias + self.llm_logit * logit(p_model) + self.evidence * evidence
        return 1 / (1 + math.exp(-z))


# Fitted on 79 SQuAD 2.0 dev questions (an evenly spread sample of the half that `rag eval squad
# --skip-trained 0.5` leaves out, seed 0) with the default 1.5B model: the model's verdict alone tells answerable
# from unanswerable with ROC AUC 0.78, the evidence score 0.58, both 0.76 (5-fold). Their threshold
# (DECLINE_BELOW, 0.25) keeps 84 % of that sample's answerable questions (5-fold scores); on the
# sample corpus it declines "Who is the chief executive ...?" (0.04) but not the near miss "How many days of
# sick leave ...?" (0.31); declining a question the documents answer is a failure too. 0.45, which balanced
# NoAns accuracy against HasAns gold-in-answer on that sample, declined 43 % of SQuAD v1.1 questions.
ANSWERABILITY = AnswerabilityWeights(llm_logit=1.307, evidence=0.047, bias=-2.38)


DECLINE_BELOW = 0.25  # with the verdict weights above, where no head fits the model


class ModelChecks:
    def __init__(self, generator: Generator, answerability: AnswerabilityWeights = ANSWERABILITY,
                 head: AnswerabilityHead | None = None):
        self.generator = generator
        self.weights = answerability
        self.head = head if head is not None and hasattr(generator, "score_next_hidden") else None
        self.decline_below = self.head.decline_below if self.head else DECLINE_BELOW

    def answerable(self, block: str, question: str, evidence: float) -> tuple[float, float]:
        """(probability that the sources answer the question, the model's own P(yes)). With a head fitted for
        this model, the probability is the head's reading of the model's hidden state at its verdict."""
        if self.head:
            p_model, hidden = self.verdict_state(block, question)
            return round(self.head.probability(hidden), 4), round(p_model, 4)
        p_model = p_yes(self.generator, block, answerable_task(question))
        return round(self.weights.probability(p_model, evidence), 4), round(p_model, 4)

    def verdict_state(self, block: str, question: str):
        """The model's P(yes) to the answerability question and its hidden state there: what a head reads, in
        the answer path and when one is fitted (`evals.train_answerability`), from this one place."""
        choices, hidden = self.generator.score_next_hidden(reader_prompt(block, answerable_task(question)), YES_NO)
        return choices["yes"], hidden

    def supported(self, block: str, sentence: str, cited: list[int]) -> float:
        """P(the cited sources say the sentence is true): the prompt the combined judge was fitted with."""
        return round(p_yes(self.generator, block, supported_task(sentence, cited)), 4)

    def relevant(self, block: str, question: str, answer: str) -> float:
        return round(p_yes(self.generator, block, answers_task(question, answer)), 4)
