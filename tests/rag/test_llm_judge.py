"""The judge that reads, on real models: its verdict is scored from the next-token probabilities, so it always
parses, is reproducible (SmolLM2-135M) and does not depend on what was evaluated before; and it tells supported
claims from unsupported ones (the default 1.5B model: the 135M one scores these pairs at chance with any
prompt tried, a difference of at most 0.14 either way)."""

from __future__ import annotations

import pytest

from rag.generation.generators import LlamaCppGenerator
from rag.judges.llm import LlmJudge
from rag.settings import GeneratorSettings

SOURCE = ("The harbour office of Port Lorne opens at 07:30 on weekdays and closes at 16:00. The lighthouse on "
          "the headland was built in 1874 by the engineer Ada Morrow. Ferry tickets are sold on board.")
PAIRS = [  # (supported, unsupported) about the same source
    ("The lighthouse was built in 1874.", "The lighthouse was built in 1921."),
    ("Ada Morrow built the lighthouse.", "Ada Morrow built the harbour office."),
    ("Ferry tickets are sold on board.", "Ferry tickets are sold only online."),
    ("The harbour office opens at 07:30 on weekdays.", "The harbour office is open all night."),
    ("The lighthouse was built by Ada Morrow.", "The lighthouse was built by Napoleon."),
]


@pytest.fixture(scope="module")
def generator(tiny_model):
    return LlamaCppGenerator(tiny_model, GeneratorSettings(context_tokens=2048))


def test_a_supported_claim_scores_above_an_unsupported_one(default_model):
    judge = LlmJudge(LlamaCppGenerator(default_model, GeneratorSettings(context_tokens=2048)))
    scores = [(judge.judge(good, SOURCE).score, judge.judge(bad, SOURCE).score) for good, bad in PAIRS]
    assert all(good > bad for good, bad in scores), scores
    assert sum(good >= 0.5 for good, _ in scores) >= 4 and sum(bad < 0.5 for _, bad in scores) >= 4, scores


def test_scores_are_identical_across_runs_and_with_or_without_the_reused_source(generator, tiny_model):
    judge = LlmJudge(generator)
    claim = PAIRS[0][0]
    first = judge.judge(claim, SOURCE)
    for good, bad in PAIRS[1:]:  # other claims about the same source: its evaluated tokens are reused
        judge.judge(good, SOURCE), judge.judge(bad, SOURCE)
    reused = judge.judge(claim, SOURCE)
    assert generator.evaluated_tokens < generator.count_tokens(SOURCE)  # only the claim's own tokens
    fresh = LlmJudge(LlamaCppGenerator(tiny_model, GeneratorSettings(context_tokens=2048))).judge(claim, SOURCE)
    assert first == reused == fresh


def test_a_claim_of_several_sentences_is_as_supported_as_its_weakest(generator):
    judge = LlmJudge(generator)
    both = judge.judge_text(f"{PAIRS[0][0]} {PAIRS[2][1]}", SOURCE)
    assert both.score == min(judge.judge(PAIRS[0][0], SOURCE).score, judge.judge(PAIRS[2][1], SOURCE).score)


def test_the_same_claim_scores_the_same_whether_or_not_it_was_the_last_prompt(generator):
    judge = LlmJudge(generator)
    claim, other = PAIRS[3]
    judge.judge(other, SOURCE)
    after_other = judge.judge(claim, SOURCE).score
    again = judge.judge(claim, SOURCE).score  # its whole prompt is what the context holds now
    assert generator.evaluated_tokens == 0 and again == after_other
