"""`rag tune embedder`: training data from the collection, resumable seeded training, the adoption gate,
use and revert — with the real MiniLM model, a real SQLite store and a real FAISS index."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from evals.tuning.examples import Example, HeuristicQuestions, held_out_document
from evals.tuning.training import TrainConfig, train_embedder
from evals.tuning.tuner import TuneOptions, TuningError, tune_embedder
from rag.embedder import resolve_model
from rag.errors import ConfigError
from rag.settings import EmbeddingSettings
from rag.store.tuning import ChunkText
from rag.workspace import Workspace
from tests.conftest import make_settings

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "data" / "retrieval" / "scifact" / "corpus.jsonl"
BASE_PATH = resolve_model("default")[0]
QUICK = TrainConfig(batch_size=8, max_seq_length=64, max_steps=2, checkpoint_every=1)


def _corpus(folder: Path, count: int, start: int = 0) -> Path:
    if not SCIFACT.exists():
        pytest.skip(f"{SCIFACT} not found (CI has ../shared beside the project)")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "abstracts.jsonl"
    with SCIFACT.open(encoding="utf-8") as source, path.open("w", encoding="utf-8") as out:
        for number, line in enumerate(source):
            if number == count:
                break
            if number < start:
                continue
            row = json.loads(line)
            out.write(json.dumps({"_id": row["_id"], "title": row["title"], "text": row["text"]}) + "\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return _corpus(tmp_path_factory.mktemp("corpus"), 160)


def _workspace(tmp_path: Path, real_embedder) -> Workspace:
    settings = make_settings(tmp_path / ".rag", embedding=EmbeddingSettings())
    return Workspace(settings, embedder=real_embedder)


def test_cloze_questions_are_a_sentence_taken_out_of_a_passage_still_about_it():
    text = ("Honeybees communicate the location of flowers with a waggle dance performed inside the hive. "
            "The direction of the waggle run encodes the angle between the sun and the flowers, and its duration "
            "encodes the distance from the hive to the flowers. Foragers that watch the dance fly out and find "
            "the flowers within minutes, even several kilometres away from the hive.")
    example = HeuristicQuestions().example(ChunkText(1, 7, ["Bees"], text), random.Random(0))
    assert example is not None and example.question in text
    assert example.question not in example.passage and example.passage.startswith("Bees\n")
    unrelated = ("Quarterly revenue of the group rose by twelve percent last year. Most domestic cats sleep for "
                 "sixteen hours during a typical day. The bridge over the northern river opened to traffic in "
                 "spring. Volcanic soil often supports vineyards that produce distinctive mineral wines. Chess "
                 "tournaments sometimes use clocks with increments for every single move.")
    assert HeuristicQuestions().example(ChunkText(2, 8, None, unrelated), random.Random(0)) is None


def test_model_written_questions_are_kept_only_when_the_judge_finds_the_answer_in_the_chunk(real_embedder):
    from evals.tuning.examples import ModelQuestions
    from rag.generation.generators import ScriptedGenerator
    from rag.judges.alignment import EvidenceAlignmentJudge

    text = ("Honeybees communicate the location of flowers with a waggle dance performed inside the hive. "
            "The duration of the waggle run encodes the distance from the hive to the flowers.")
    generator = ScriptedGenerator([
        "Question: How do honeybees communicate the location of flowers?\nAnswer: with a waggle dance",
        "Question: What is the capital of France?\nAnswer: Paris is the capital of France",
        "I cannot write a question about this.",
    ])
    writer = ModelQuestions(generator, EvidenceAlignmentJudge(real_embedder))
    chunk = ChunkText(1, 7, None, text)
    kept = writer.example(chunk, random.Random(0))
    assert kept is not None and kept.answer == "with a waggle dance" and kept.passage == text
    assert writer.example(chunk, random.Random(0)) is None  # an answer the chunk does not support
    assert writer.example(chunk, random.Random(0)) is None  # no question in the reply
    assert "Passage:" in generator.prompts[0].user and text in generator.prompts[0].user


def test_the_split_is_by_document_seeded_and_near_the_share():
    held = [d for d in range(2000) if held_out_document(d, seed=3, share=0.2)]
    assert held == [d for d in range(2000) if held_out_document(d, seed=3, share=0.2)]
    assert 0.17 < len(held) / 2000 < 0.23
    assert held != [d for d in range(2000) if held_out_document(d, seed=4, share=0.2)]


def _examples(count: int = 24) -> list[Example]:
    rows = []
    with SCIFACT.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if number == count + 1:
                break
            rows.append(json.loads(line))
    return [Example(rows[i]["title"], rows[i]["text"][:300], i, i, rows[i + 1]["text"][:300]) for i in range(count)]


def _weights(folder: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model" / "model.safetensors"))


def test_training_killed_and_resumed_ends_where_an_unbroken_run_ends(tmp_path):
    if not SCIFACT.exists():
        pytest.skip(f"{SCIFACT} not found")
    examples = _examples()
    config = TrainConfig(batch_size=8, max_seq_length=48, max_steps=3, checkpoint_every=1, seed=5)
    whole = train_embedder(BASE_PATH, "base", examples, tmp_path / "whole", config)
    assert whole["steps"] == 3 and whole["resumed_at_step"] == 0

    def kill_at_step_2(report):
        if report.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_embedder(BASE_PATH, "base", examples, tmp_path / "broken", config, on_step=kill_at_step_2)
    assert (tmp_path / "broken" / "checkpoint" / "state.json").exists()
    resumed = train_embedder(BASE_PATH, "base", examples, tmp_path / "broken", config)
    assert resumed["resumed_at_step"] == 2 and resumed["steps"] == 3
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "broken")
    base = _weights_of_base()
    name = next(k for k in a if k.endswith("query.weight"))
    assert not np.allclose(a[name], base[name])  # it trained
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=2e-3)
    # A checkpoint of other data is not resumed from.
    other = train_embedder(BASE_PATH, "base", examples[::-1], tmp_path / "whole", config)
    assert other["resumed_at_step"] == 0


def _weights_of_base() -> dict:
    from safetensors.numpy import load_file

    return load_file(str(Path(BASE_PATH) / "model.safetensors"))


def test_a_collection_too_small_to_tune_is_refused_with_the_reason(tmp_path, real_embedder):
    workspace = _workspace(tmp_path, real_embedder)
    workspace.ingest([_corpus(tmp_path / "small", 10)], "tiny")
    with pytest.raises(TuningError, match="at least 100"):
        tune_embedder(workspace, "tiny", TuneOptions(questions="heuristic", train=QUICK))


def test_the_gate_refuses_a_model_that_fits_the_questions_but_loses_on_the_labelled_set():
    from evals.tuning.retriever_kinds import gate

    def card(dense_after: float) -> dict:
        labelled = {"dense": {"ndcg@10": 0.68}, "hybrid": {"ndcg@10": 0.73}}
        return {"before": {"held_out": {"ndcg@10": 0.71}, "labelled": labelled},
                "after": {"held_out": {"ndcg@10": 0.78},
                          "labelled": {**labelled, "dense": {"ndcg@10": dense_after}}}}

    assert gate(card(0.675), "held-out dense nDCG@10", 0.01)["gate"]["passed"] is True  # within the margin
    refused = gate(card(0.646), "held-out dense nDCG@10", 0.01)["gate"]
    assert refused["passed"] is False and "dense 0.6800 -> 0.6460" in refused["reason"]
    assert "base model stays" in refused["reason"]


def test_gate_adopt_use_revert(tmp_path, corpus, real_embedder):
    workspace = _workspace(tmp_path, real_embedder)
    workspace.ingest([corpus], "papers")
    question = "Which cells were studied?"
    base_hits = [h.chunk_id for h in workspace.retriever("papers").retrieve(question, k=5, method="dense")]

    # A gate it cannot pass: trained and measured, not adopted, its vectors dropped.
    rejected = tune_embedder(workspace, "papers", TuneOptions(questions="heuristic", margin=1.0, train=QUICK))
    assert rejected["gate"]["passed"] is False and rejected["adopted"] is False
    assert "base model stays" in rejected["gate"]["reason"]
    assert rejected["before"]["held_out"]["n"] == rejected["held_out_examples"] >= 20
    assert workspace.collections()[0].embedding_model == real_embedder.model_id
    listed = {row["id"]: row for row in workspace.tuned_models("papers")}
    assert listed[rejected["id"]]["status"] == "rejected"
    with pytest.raises(ConfigError, match="--force"):
        workspace.use_tuned(rejected["id"])
    runs = {run["id"]: run for run in workspace.eval_runs()}
    assert runs[rejected["runs"]["before"]]["kind"] == "tune-embedder-before"

    # A gate it passes (margin -1): adopted, the index rebuilt from the tuned vectors, queries use them.
    adopted = tune_embedder(workspace, "papers", TuneOptions(questions="heuristic", margin=-1.0, train=QUICK))
    assert adopted["adopted"] is True
    # Its questions were made the same way (writer, sample, seed, split), so they are the first run's.
    assert rejected["questions_from"] is None and adopted["questions_from"] == rejected["id"]
    assert adopted["held_out_examples"] == rejected["held_out_examples"]
    model_id = adopted["model_id"]
    assert workspace.collections()[0].embedding_model == model_id
    retriever = workspace.retriever("papers")
    assert retriever.embedder.model_id == model_id and retriever.index.manifest.embedding_model == model_id
    tuned_hits = [h.chunk_id for h in retriever.retrieve(question, k=5, method="dense")]
    assert tuned_hits  # searched in the tuned vectors (a stale index would raise on open)
    report = workspace.retriever("papers").index.verify()
    assert report.ok, report.problems
    # New documents are embedded with the collection's tuned model.
    summary = workspace.ingest([_corpus(tmp_path / "more", 170, start=160)], "papers")
    assert summary.ingested == 10 and summary.chunks_embedded > 0
    assert workspace.retriever("papers").index.verify().ok
    store = workspace.store
    with store.session() as session:
        coll = store.collection(session, "papers")
        ids, _ = store.collection_vectors(session, coll.id, model_id)
        assert len(ids) == store.count_chunks(session, coll.id)

    workspace.revert_tuned("papers")
    assert workspace.collections()[0].embedding_model == real_embedder.model_id
    assert workspace.retriever("papers").index.verify().ok
    # Base-model search again (the reverted index equals one built from the base vectors, new chunks included).
    from evals.tuning.retrieval_check import retriever_with

    reverted = [h.chunk_id for h in workspace.retriever("papers").retrieve(question, k=5, method="dense")]
    assert reverted == [h.chunk_id for h in retriever_with(store, workspace.settings, real_embedder, coll)
                        .retrieve(question, k=5, method="dense")]
    assert set(base_hits) & set(reverted)
    assert {r["id"]: r["status"] for r in workspace.tuned_models()}[adopted["id"]] == "retired"
    workspace.use_tuned(adopted["id"])
    assert workspace.collections()[0].embedding_model == model_id


def test_a_killed_tuning_run_resumes_and_nothing_is_adopted_half_way(tmp_path, corpus, real_embedder):
    workspace = _workspace(tmp_path, real_embedder)
    workspace.ingest([corpus], "papers")
    options = TuneOptions(questions="heuristic", margin=-1.0,
                          train=TrainConfig(batch_size=8, max_seq_length=64, max_steps=3, checkpoint_every=1))

    class KillDuringTraining:
        stage_name = ""
        seen: dict = {}

        def stage(self, name, total):
            self.stage_name = name

        def advance(self, count=1, info=""):
            if self.stage_name.startswith("training") and info:
                self.seen["status"] = workspace.tuned_models("papers")[0]["status"]
                with pytest.raises(TuningError, match="already running") as twice:
                    tune_embedder(workspace, "papers", options)  # the same command while this one trains
                self.seen["twice"] = str(twice.value)
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tune_embedder(workspace, "papers", options, KillDuringTraining())
    assert KillDuringTraining.seen["status"] == "training" and "already running" in KillDuringTraining.seen["twice"]
    [row] = workspace.tuned_models("papers")
    assert row["status"] == "interrupted"  # marked training, but no process trains it
    assert workspace.collections()[0].embedding_model == real_embedder.model_id  # nothing adopted
    card = tune_embedder(workspace, "papers", options)
    assert card["id"] == row["id"] and card["resumed"] is True and card["adopted"] is True
    assert card["training"]["resumed_at_step"] == 1


def test_a_tuned_reranker_is_used_by_retrieval_once_adopted_and_dropped_on_revert(tmp_path, corpus, real_embedder):
    from evals.tuning.tuner import tune

    workspace = _workspace(tmp_path, real_embedder)
    workspace.ingest([corpus], "papers")
    assert workspace.retriever("papers").reranker is None
    card = tune(workspace, "papers", "reranker", TuneOptions(questions="heuristic", margin=-1.0, train=QUICK))
    assert card["adopted"] and card["before"]["held_out"]["method"] == "held-out dense"
    assert card["after"]["held_out"]["method"] == "held-out dense + reranker"
    retriever = workspace.retriever("papers")
    assert retriever.reranker is not None and f"reranker-{card['id']}" in str(retriever.reranker.path)
    hits = retriever.retrieve("Which cells were studied?", k=5)
    assert len(hits) == 5 and hits == sorted(hits, key=lambda h: -h.score)  # ordered by the cross-encoder
    assert workspace.collections()[0].embedding_model == real_embedder.model_id  # the embedder is untouched
    workspace.revert_tuned("papers", "reranker")
    assert workspace.retriever("papers").reranker is None
