"""SQuAD JSON loading (v1.1 and v2.0 layout) and its paragraphs as a BEIR retrieval set."""

import json

from evals.beir import load_beir
from evals.squad import load_squad, write_squad_as_beir

SQUAD = {"version": "v2.0", "data": [{"title": "Nikola_Tesla", "paragraphs": [
    {"context": "Nikola Tesla was born in 1856 in Smiljan.", "qas": [
        {"id": "q1", "question": "When was Tesla born? ", "answers": [{"text": "1856", "answer_start": 24}],
         "is_impossible": False},
        {"id": "q2", "question": "When did Tesla die in Smiljan?", "answers": [], "is_impossible": True}]},
    {"context": "He moved to New York in 1884.", "qas": [
        {"id": "q3", "question": "Where did he move in 1884?", "answers": [{"text": "New York", "answer_start": 12}]}]},
]}]}


def test_questions_answers_and_answerability(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(SQUAD))
    data = load_squad(path)
    assert len(data.paragraphs) == 2 and [q.id for q in data.questions] == ["q1", "q2", "q3"]
    q1, q2, q3 = data.questions
    assert q1.answers == ["1856"] and q1.answerable and q1.question == "When was Tesla born?"
    assert not q2.answerable and q2.answers == []
    assert q3.answerable and q3.title == "Nikola Tesla"


def test_paragraphs_become_a_beir_set_of_answerable_questions(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(SQUAD))
    folder = write_squad_as_beir(path, tmp_path / "datasets")
    dataset = load_beir(folder)
    assert set(dataset.queries) == {"q1", "q3"}
    assert dataset.qrels == {"q1": {"a0p0": 1}, "q3": {"a0p1": 1}}
    assert write_squad_as_beir(path, tmp_path / "datasets") == folder  # written once


def test_rag_eval_squad_scores_answers_and_abstentions(tmp_path):
    from tests.ingest.test_cli import rag

    path = tmp_path / "dev.json"
    path.write_text(json.dumps(SQUAD))
    result = rag(["eval", "squad", str(path), "--json"], tmp_path / ".rag", RAG_EMBEDDING__MODEL="default")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["n"] == 3 and scores["contains_gold"] == 1.0  # both answerable questions found their answer
    for key in ("exact_match", "f1", "hasans_accuracy", "noans_accuracy", "calibrated_abstain_below",
                "abstention_precision", "abstention_recall", "latency_p95_ms"):
        assert key in scores
    assert 0 < scores["f1"] < 1  # sentence answers overlap the short gold spans only partly
