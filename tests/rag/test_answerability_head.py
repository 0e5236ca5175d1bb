"""The answerability head: a logistic over the model's hidden state at its verdict, used only for the model file
and prompt it was fitted with. The hidden state comes from the real tiny model; the fit runs on made-up states."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evals.train_answerability import fit_head
from rag.answer.answerability_head import SHIPPED, AnswerabilityHead, find_head, prompt_fingerprint
from rag.answer.checks import DECLINE_BELOW, ModelChecks
from rag.answer.reader_prompt import YES_NO, answerable_task, reader_prompt, sources_block
from rag.generation.generators import LlamaCppGenerator, ScriptedGenerator
from rag.generation.model_catalog import find
from rag.settings import GeneratorSettings
from tests.rag.test_generative_answerer import corpus  # noqa: F401  (the module's fixture)

BLOCK = sources_block(["[1] Handbook\nEvery employee receives 27 days of paid annual leave."])


def made_up(n=200, dim=24, seed=0):
    """States where answerable questions lean one way along a hidden direction, with overlap."""
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.5
    states = rng.normal(size=(n, dim)) + np.outer(np.where(labels, 0.8, -0.8), rng.normal(size=dim) / 2)
    return states, [{"answerable": bool(a), "p_model": 0.5, "evidence": 0.5} for a in labels]


def test_a_fitted_head_separates_and_keeps_the_share_of_answerable_questions_asked():
    states, rows = made_up()
    head = fit_head(states, rows, "ab" * 32, keep=0.9)
    labels = np.array([r["answerable"] for r in rows])
    scores = np.array([head.probability(s) for s in states])
    assert scores[labels].mean() > scores[~labels].mean() + 0.2
    assert 0.85 <= (scores[labels] >= head.decline_below).mean() <= 1.0
    assert head.card["cv_auc"] > 0.75 and head.prompt_sha256 == prompt_fingerprint()


def test_a_head_is_used_only_for_its_own_model_file_and_prompt(tmp_path):
    states, rows = made_up()
    head = fit_head(states, rows, "ab" * 32, keep=0.9)
    (tmp_path / "mine.json").write_text(head.to_json())
    found = find_head("ab" * 32, (tmp_path,))
    assert found is not None and found.probability(states[0]) == pytest.approx(head.probability(states[0]))
    assert find_head("cd" * 32, (tmp_path,)) is None and find_head("", (tmp_path,)) is None
    stale = json.loads(head.to_json()) | {"prompt_sha256": "0" * 64}  # fitted with another prompt
    (tmp_path / "mine.json").write_text(json.dumps(stale))
    assert find_head("ab" * 32, (tmp_path,)) is None


def test_a_broken_head_file_is_named_with_the_fix(tmp_path):
    (tmp_path / "broken.json").write_text('{"model_sha256": "ab"}')
    with pytest.raises(ValueError, match=r"broken\.json.*train-answerability"):
        find_head("ab" * 32, (tmp_path,))


def test_the_shipped_head_fits_the_default_model_and_todays_prompt():
    head = find_head(find("default").sha256, (SHIPPED,))
    assert head is not None, "the check's prompt changed: refit with `rag eval train-answerability`"
    assert len(head.weights) == 1536 and 0 < head.decline_below < 1
    assert head.card["cv_auc"] > head.card["verdict_auc"]


def test_without_a_head_the_verdict_weights_and_their_threshold_decide():
    checks = ModelChecks(ScriptedGenerator([], verdicts=[0.9]))
    assert checks.head is None and checks.decline_below == DECLINE_BELOW
    probability, p_model = checks.answerable(BLOCK, "How many days of leave?", 0.8)
    assert p_model == pytest.approx(0.9) and 0 < probability < 1


def test_the_hidden_state_comes_with_the_same_verdict(tiny_model):
    generator = LlamaCppGenerator(tiny_model, GeneratorSettings(context_tokens=2048))
    prompt = reader_prompt(BLOCK, answerable_task("How many days of paid annual leave do employees get?"))
    plain = generator.score_next(prompt, YES_NO)["yes"]
    choices, hidden = generator.score_next_hidden(prompt, YES_NO)
    again, hidden_again = generator.score_next_hidden(prompt, YES_NO)
    assert hidden.shape == (generator.llm.n_embd(),) and np.isfinite(hidden).all() and np.abs(hidden).sum() > 0
    assert choices["yes"] == pytest.approx(plain, abs=0.02)  # the last token evaluated alone, not in its batch
    assert np.array_equal(hidden, hidden_again) and again == choices
    other = generator.score_next_hidden(reader_prompt(BLOCK, answerable_task("Who founded the company?")), YES_NO)[1]
    assert not np.allclose(hidden, other)
    assert generator.score_next(prompt, YES_NO)["yes"] == pytest.approx(plain, abs=0.02)  # embeddings switched off


def test_checks_read_the_head_when_one_fits_the_model(tiny_model):
    generator = LlamaCppGenerator(tiny_model, GeneratorSettings(context_tokens=2048))
    dim = generator.llm.n_embd()
    lean = AnswerabilityHead("x", prompt_fingerprint(), [0.0] * dim, [1.0] * dim, [0.0] * dim, bias=3.0,
                             decline_below=0.4)
    checks = ModelChecks(generator, head=lean)
    probability, p_model = checks.answerable(BLOCK, "How many days of leave?", 0.8)
    assert checks.decline_below == 0.4 and probability == pytest.approx(1 / (1 + np.exp(-3.0)), abs=1e-4)
    assert 0 < p_model < 1


def test_the_answerer_reads_the_shipped_head_for_the_default_model_unless_turned_off(corpus, real_embedder,  # noqa: F811
                                                                                     default_model):
    from rag.answer.choice import build_answerer
    from rag.settings import AnswerSettings

    settings, retriever = corpus
    generator = LlamaCppGenerator(default_model, GeneratorSettings(), sha256=find("default").sha256)
    on = build_answerer(settings, retriever, real_embedder, AnswerSettings(), generator)
    off = build_answerer(settings, retriever, real_embedder, AnswerSettings(answerability_head=False), generator)
    assert on.checks.head is not None and on.checks.decline_below == on.checks.head.decline_below
    assert off.checks.head is None and off.checks.decline_below == DECLINE_BELOW
