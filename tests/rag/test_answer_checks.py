"""The model's scored checks in the answer path: a question its sources do not answer is declined before
anything is generated, each sentence's verdict is weighed into the judge, and an answer that does not answer the
question is reported (declined in abstain mode). Scripted verdicts here; the real models in
test_llm_judge.py and test_generative_answerer.py."""

from __future__ import annotations

import pytest

from rag.answer.checks import ModelChecks
from rag.answer.generative import GenerativeAnswerer
from rag.generation.generators import ScriptedGenerator
from rag.judges.alignment import EvidenceAlignmentJudge
from rag.judges.combined import COMBINED_WEIGHTS, CombinedJudge
from rag.settings import AnswerSettings, GeneratorSettings
from tests.rag.test_generative_answerer import LEAVE, corpus  # noqa: F401  (the module's fixture)


def checked(corpus, real_embedder, responses, verdicts, mode="flag"):  # noqa: F811
    _, retriever = corpus
    generator = ScriptedGenerator(list(responses), verdicts=list(verdicts))
    judge = CombinedJudge(EvidenceAlignmentJudge(real_embedder), COMBINED_WEIGHTS)
    return GenerativeAnswerer(retriever, generator, real_embedder, judge, AnswerSettings(mode=mode),
                              GeneratorSettings(), checks=ModelChecks(generator)), generator


def test_sources_that_do_not_state_the_answer_are_declined_before_generating(corpus, real_embedder):  # noqa: F811
    answerer, generator = checked(corpus, real_embedder, ["never generated [1]."], [0.01])
    answer = answerer.answer(LEAVE)
    assert answer.abstained and answer.answerable is not None and answer.answerable < 0.5
    assert answer.closest and "generate_s" not in answer.timings and "answerable_s" in answer.timings
    assert generator.responses == ["never generated [1]."]  # the model was asked one scored question only
    assert "declined before generating" in answer.warnings[0]


def test_each_sentence_weighs_the_models_verdict(corpus, real_embedder):  # noqa: F811
    hits = corpus[1].retrieve(LEAVE)
    n = next(i for i, h in enumerate(hits, 1) if "27 days" in h.text)
    sentence = f"Every employee receives 27 days of paid annual leave [{n}]."
    trusted, _ = checked(corpus, real_embedder, [sentence], [0.99, 0.99, 0.99])
    doubted, _ = checked(corpus, real_embedder, [sentence], [0.99, 0.99, 0.001])  # answerable, relevant, supported
    yes, no = trusted.answer(LEAVE), doubted.answer(LEAVE)
    assert yes.sentences[0].score > no.sentences[0].score
    assert yes.sentences[0].supported and yes.answerable > 0.5 and yes.relevance == pytest.approx(0.99)


def test_an_answer_that_does_not_answer_the_question_is_reported_or_declined(corpus, real_embedder):  # noqa: F811
    hits = corpus[1].retrieve(LEAVE)
    n = next(i for i, h in enumerate(hits, 1) if "27 days" in h.text)
    sentence = f"Every employee receives 27 days of paid annual leave [{n}]."
    flagged, _ = checked(corpus, real_embedder, [sentence], [0.99, 0.02, 0.99])
    answer = flagged.answer(LEAVE)
    assert not answer.abstained and answer.relevance == pytest.approx(0.02)
    assert any("may not answer the question" in w for w in answer.warnings)
    refused, _ = checked(corpus, real_embedder, [sentence], [0.99, 0.02, 0.99], mode="abstain")
    declined = refused.answer(LEAVE)
    assert declined.abstained and declined.relevance == pytest.approx(0.02) and declined.closest


def test_the_checks_ask_about_the_same_sources_the_answer_read(corpus, real_embedder):  # noqa: F811
    hits = corpus[1].retrieve(LEAVE)
    n = next(i for i, h in enumerate(hits, 1) if "27 days" in h.text)
    answerer, generator = checked(corpus, real_embedder, [f"27 days [{n}]."], [0.9, 0.9, 0.9])
    answerer.answer(LEAVE)
    contexts = {p.context for p in generator.prompts}
    assert len(generator.prompts) == 4 and len(contexts) == 1  # answerable, answer, relevant, supported
    assert generator.prompts[0].system == generator.prompts[1].system
