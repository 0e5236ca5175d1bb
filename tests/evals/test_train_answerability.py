"""`rag eval train-answerability`: the answerability head fitted for the active model (the real tiny model here)
on a SQuAD 2.0 file, written where the answerer finds it, and refused for a file without unanswerable questions."""

from __future__ import annotations

import json

from rag.answer.answerability_head import AnswerabilityHead, find_head
from rag.generation.model_catalog import CATALOG
from tests.ingest.test_cli import rag

FACTS = [("Harbour", "The harbour office opens at 07:30 and closes at 16:00.", "When does the harbour office open?",
          "07:30", "When does the harbour office open on Sundays in winter?"),
         ("Lighthouse", "The lighthouse was built in 1874 by the engineer Ada Morrow.",
          "Who built the lighthouse?", "Ada Morrow", "Who painted the lighthouse in 1990?"),
         ("Garden", "The glasshouse holds desert cacti, tropical orchids and alpine plants.",
          "What does the glasshouse hold?", "desert cacti", "What did the glasshouse hold before 1900?"),
         ("Ferry", "The ferry to Kestrel Island leaves every two hours from pier four.",
          "Where does the ferry leave from?", "pier four", "Where does the night ferry stop?"),
         ("Library", "Members may borrow up to 12 books for three weeks.", "How many books may members borrow?",
          "12", "How many films may members borrow?")]


def squad_v2(copies: int) -> dict:
    paragraphs = []
    for copy in range(copies):
        for title, text, asked, answer, unanswerable in FACTS:
            paragraphs.append({"context": f"{text} (Notice {copy}.)", "qas": [
                {"id": f"{title}{copy}a", "question": f"{asked} ({copy})",
                 "answers": [{"text": answer, "answer_start": text.index(answer)}], "is_impossible": False},
                {"id": f"{title}{copy}u", "question": f"{unanswerable} ({copy})", "answers": [],
                 "is_impossible": True}]})
    return {"version": "v2.0", "data": [{"title": "Notices", "paragraphs": paragraphs}]}


def test_a_head_is_fitted_for_the_active_model_and_found_by_the_answerer(tmp_path, tiny_model):
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(squad_v2(6)))
    env = {"RAG_GENERATOR__MODEL": str(tiny_model), "RAG_ANSWER__MODEL_ABSTAIN_BELOW": "0",
           "RAG_MODELS_DIR": str(tmp_path / "models")}
    result = rag(["eval", "train-answerability", str(path), "--limit", "0"], tmp_path / ".rag", **env)
    assert result.returncode == 0, result.stderr
    written = tmp_path / "models" / "heads" / f"answerability-{CATALOG['smollm2-135m'].sha256[:12]}.json"
    head = AnswerabilityHead.read(written)
    assert head.card["questions"] == 30 and head.card["dataset"] == path.name and 0 < head.decline_below < 1
    assert len(head.weights) == 576  # SmolLM2-135M's hidden size
    assert find_head(CATALOG["smollm2-135m"].sha256, (tmp_path / "models" / "heads",)) is not None


def test_a_file_without_unanswerable_questions_is_refused(tmp_path, tiny_model):
    data = squad_v2(1)
    for paragraph in data["data"][0]["paragraphs"]:
        paragraph["qas"] = paragraph["qas"][:1]
    path = tmp_path / "dev-v1.1.json"
    path.write_text(json.dumps(data))
    result = rag(["eval", "train-answerability", str(path)], tmp_path / ".rag",
                 RAG_GENERATOR__MODEL=str(tiny_model))
    assert result.returncode != 0 and "no unanswerable questions" in result.stderr
