"""`rag tune generator`: a LoRA trained on the real tiny model (SmolLM2-135M, read from its GGUF file into
PyTorch), exported as a GGUF adapter that llama.cpp applies, measured through the real answerer, gated,
used and reverted."""

from __future__ import annotations

import numpy as np
import pytest

from evals.tuning.answer_examples import AnswerExample, HeuristicAnswerQuestions
from evals.tuning.training import TrainConfig, train
from evals.tuning.tuner import KINDS, TuneOptions, TuningError, tune
from rag.answer.reader_prompt import sources_block
from rag.errors import ConfigError
from rag.generation.generators import LlamaCppGenerator
from rag.settings import EmbeddingSettings, GeneratorSettings
from rag.store.tuning import ChunkText
from rag.workspace import Workspace
from tests.conftest import make_settings
from tests.evals.test_tuning import _corpus

SOURCES = [("[1] Harbour guide\nThe lighthouse on Kestrel Island was painted blue in 1921.", "Blue. [1]"),
           ("[1] Garden leaflet\nThe glasshouse roof was rebuilt with copper in 1988.", "Copper. [1]")]


@pytest.fixture(scope="module", autouse=True)
def gguf_read_once():
    """transformers reads the tiny GGUF file into PyTorch once for this module (35 s a time on 2 cores, most of
    it parsing the tokenizer's metadata and mapping tensor names); each later load gets a deep copy of what it
    read, so every training run still starts from the untouched base."""
    import copy

    from transformers import AutoModelForCausalLM

    read = AutoModelForCausalLM.from_pretrained
    models = {}

    def from_pretrained(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if key not in models:
            models[key] = read(*args, **kwargs)
        return copy.deepcopy(models[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AutoModelForCausalLM, "from_pretrained", from_pretrained)
        yield


def _examples(generator: LlamaCppGenerator) -> list[AnswerExample]:
    made = []
    for source, target in SOURCES:
        question = "What colour?" if "blue" in source else "Which metal?"
        tokens, prefix = generator.render(_prompt(question, source))
        made.append(AnswerExample(question, "answer", 1, 1, source, target, tokens, generator.reply_tokens(target),
                                  prefix))
    return made


def _prompt(question: str, source: str):
    from rag.answer.reader_prompt import question_task, reader_prompt

    return reader_prompt(sources_block([source]), question_task(question))


def _greedy(generator: LlamaCppGenerator, question: str, source: str) -> str:
    return "".join(generator.stream(_prompt(question, source), max_tokens=12))


def test_a_trained_lora_is_exported_as_a_gguf_adapter_that_llama_cpp_applies_as_pytorch_does(tiny_model, tmp_path):
    import torch

    from evals.tuning.lora import ADAPTER, GeneratorTraining

    settings = GeneratorSettings(context_tokens=2048, temperature=0)
    base = LlamaCppGenerator(tiny_model, settings)
    examples = _examples(base) * 2
    config = TrainConfig(epochs=6, batch_size=4, learning_rate=3e-3, warmup_share=0.0, checkpoint_every=100)
    card = train(GeneratorTraining(), str(tiny_model), "sha", examples, tmp_path, config)
    assert card["steps"] == 6 and card["last_loss"] < card["first_loss"]
    adapter = tmp_path / "model" / ADAPTER
    tuned = LlamaCppGenerator(tiny_model, settings.model_copy(update={"lora_path": str(adapter)}))
    question, source = "What colour?", SOURCES[0][0]
    before = _greedy(base, question, source)
    after = _greedy(tuned, question, source)
    assert after != before and after == _greedy(tuned, question, source)  # changed, and deterministic
    assert "Blue" in after, after

    # The same logits from llama.cpp (adapter on the quantized file) and from PyTorch (LoRA on its dequantized
    # weights): the export's names, shapes, scale and llama's query/key row order are right.
    trainable = GeneratorTraining()
    model = trainable.load(str(tiny_model), str(tmp_path / "model"), "cpu", config).eval()
    tokens, _ = tuned.render(_prompt(question, source))
    tuned.prefixes.evaluate(tokens, 0)
    with torch.no_grad():
        reference = model(input_ids=torch.tensor([tokens])).logits[0, -1].float().numpy()
    ours = tuned.logits()
    assert int(np.argmax(ours)) == int(np.argmax(reference))
    assert np.corrcoef(ours, reference)[0, 1] > 0.99


def test_a_lora_run_killed_mid_way_resumes_and_ends_where_an_unbroken_run_ends(tiny_model, tmp_path):
    from safetensors.numpy import load_file

    from evals.tuning.lora import TENSORS, GeneratorTraining

    examples = _examples(LlamaCppGenerator(tiny_model, GeneratorSettings(context_tokens=2048))) * 2
    config = TrainConfig(epochs=3, batch_size=2, learning_rate=3e-3, warmup_share=0.0, checkpoint_every=1, seed=3)
    whole = train(GeneratorTraining(), str(tiny_model), "sha", examples, tmp_path / "whole", config)
    assert whole["steps"] == 6 and whole["resumed_at_step"] == 0

    def kill_at_step_4(report):
        if report.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(GeneratorTraining(), str(tiny_model), "sha", examples, tmp_path / "broken", config,
              on_step=kill_at_step_4)
    assert not (tmp_path / "broken" / "model").exists()  # nothing half-made to adopt
    resumed = train(GeneratorTraining(), str(tiny_model), "sha", examples, tmp_path / "broken", config)
    assert resumed["resumed_at_step"] == 4 and resumed["steps"] == 6
    a, b = (load_file(str(tmp_path / run / "model" / TENSORS)) for run in ("whole", "broken"))
    assert a.keys() == b.keys() and any(np.abs(v).max() > 0 for k, v in a.items() if "lora_B" in k)  # it trained
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=2e-3)


def test_heuristic_answer_questions_ask_for_what_a_sentence_of_the_chunk_says():
    import random

    text = ("Honeybees communicate the location of flowers with a waggle dance performed inside the hive. The "
            "direction of the waggle run encodes the angle between the sun and the flowers.")
    example = HeuristicAnswerQuestions().example(ChunkText(1, 2, None, text), random.Random(0))
    assert example.question.startswith("What does the text say about ") and example.question.endswith("?")
    assert example.answer in text and example.passage == text


def test_the_generator_gate_adopts_only_a_better_adapter_that_still_answers():
    kind = KINDS["generator"]

    def card(before: dict, after: dict) -> dict:
        return {"before": {"held_out": before}, "after": {"held_out": after}}

    base = {"grounded_score": 0.60, "answerable_correct": 0.50}
    worse = kind.gate(card(base, {"grounded_score": 0.55, "answerable_correct": 0.45}), 0.02)["gate"]
    assert not worse["passed"] and "below the margin" in worse["reason"]
    abstains_more = kind.gate(card(base, {"grounded_score": 0.70, "answerable_correct": 0.40}), 0.02)["gate"]
    assert not abstains_more["passed"] and "abstains more" in abstains_more["reason"]
    better = kind.gate(card(base, {"grounded_score": 0.70, "answerable_correct": 0.55}), 0.02)["gate"]
    assert better["passed"] and better["before"] == 0.60 and better["after"] == 0.70


@pytest.fixture
def tuned_workspace(tmp_path, real_embedder, monkeypatch):
    import evals.tuning.tuner as tuner

    monkeypatch.setattr(tuner, "MIN_HELD_OUT", 6)  # a short held-out part: every answer costs a real generation
    monkeypatch.setattr(tuner, "MIN_TRAIN", 16)
    settings = make_settings(tmp_path / ".rag", embedding=EmbeddingSettings(),
                             generator=GeneratorSettings(model="smollm2-135m", max_tokens=32))
    workspace = Workspace(settings, embedder=real_embedder)
    workspace.ingest([_corpus(tmp_path / "corpus", 110)], "papers")
    return workspace


def test_generator_tuning_measures_gates_and_can_be_used_and_reverted(tuned_workspace):
    workspace = tuned_workspace
    options = TuneOptions(examples=45, questions="heuristic", margin=1.0,
                          train=TrainConfig(batch_size=4, learning_rate=5e-4, max_steps=2))
    card = tune(workspace, "papers", "generator", options)
    assert card["base_sha256"] == workspace.active_model().sha256
    assert card["train_examples"] >= 16 and card["training"]["steps"] == 2
    for side in ("before", "after"):
        held = card[side]["held_out"]
        assert held["n"] == 2 * card["held_out_examples"] and 0 <= held["grounded_score"] <= 1
    assert "+ LoRA tuned-generator" in card["after"]["model"] and "LoRA" not in card["before"]["model"]
    assert not card["gate"]["passed"] and not card["adopted"]  # a gain of 1.0 is out of reach
    row = workspace.tuned_model(card["id"])
    assert row["status"] == "rejected"
    assert "LoRA" not in workspace.answerer("papers").name

    with pytest.raises(ConfigError, match="rejected by its gate"):
        workspace.use_tuned(card["id"])
    workspace.use_tuned(card["id"], force=True)
    assert workspace.answerer("papers").name.endswith(f"+ LoRA {card['model_id']}")
    tuned = workspace.generator_for("papers")
    assert tuned is not workspace.generator() and tuned.settings.lora_path.endswith("adapter.gguf")
    workspace.revert_tuned("papers", "generator")
    assert workspace.generator_for("papers") is workspace.generator()  # the base model, adapter-free
    assert "LoRA" not in workspace.answerer("papers").name
    with pytest.raises(ConfigError, match="uses no tuned generator"):
        workspace.revert_tuned("papers", "generator")


def test_thumbs_up_answers_become_training_examples_only_while_their_sentences_verify(tuned_workspace):
    from evals.tuning.answer_examples import AnswerExamples
    from rag.judges.choice import build_judge
    from rag.text import sentences

    workspace = tuned_workspace
    answerer = workspace.answerer("papers", generator=workspace.generator())
    question = "What does the text say about the treatment of the patients?"
    sources, _ = answerer.read(question, answerer.retriever.retrieve(question))
    first = sources[0]
    start, end = sentences(first.text)[0]
    quoted = first.text[start:end].strip()
    turns = [(f"{quoted} [{first.number}]", {"helpful": True}),  # kept: it verifies against its source
             ("Penguins can fly across the Atlantic in a day. [1]", {"helpful": True}),  # liked but unsupported
             (f"{quoted} [{first.number}]", {"helpful": False}),  # not liked
             ("The documents don't answer this question.", {"helpful": True})]  # an abstention
    store = workspace.store
    with store.session() as session:
        chat = store.add_chat(session, answerer.retriever.collection.id, "feedback")
        for text, _ in turns:
            store.add_turn(session, chat, "follow-up", question, text, {"abstained": "don't answer" in text})
    with store.session() as session:
        assistant = [m.id for m in store.chat_messages(session, chat) if m.role == "assistant"]
        for message_id, (_, feedback) in zip(assistant, turns):
            store.set_feedback(session, message_id, feedback)
    with store.session() as session:
        liked = store.liked_answers(session, answerer.retriever.collection.id)
    assert sorted(answer for _, answer in liked) == sorted([turns[0][0], turns[1][0]])
    assert {asked for asked, _ in liked} == {question}  # the standalone question it was retrieved with

    made = AnswerExamples(answerer, build_judge("alignment", workspace.embedder)).make([], liked)
    assert [(e.kind, e.target) for e in made] == [("feedback", turns[0][0])]
    assert made[0].sources and made[0].target_tokens and made[0].prompt_tokens[:made[0].prefix]


def test_tuning_the_generator_needs_a_model(tmp_path, real_embedder):
    settings = make_settings(tmp_path / ".rag", embedding=EmbeddingSettings())  # the extractive answerer
    workspace = Workspace(settings, embedder=real_embedder)
    with pytest.raises(TuningError, match="no generation model is installed"):
        tune(workspace, "papers", "generator", TuneOptions(questions="heuristic"))
