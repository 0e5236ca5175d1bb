"""Grounded answers: every sentence cited and verified, honest abstention, modes, and the judge itself."""

import json

import pytest

from rag.answer.contract import ABSTENTION
from rag.answer.evidence import apply_mode, verify
from rag.answer.extractive import ExtractiveAnswerer
from rag.judges.alignment import EvidenceAlignmentJudge
from rag.retrieval.hybrid import HybridRetriever
from rag.settings import AnswerSettings
from rag.store import Store
from tests.conftest import SAMPLE, make_settings
from tests.ingest.test_cli import rag


@pytest.fixture(scope="module")
def answerer(tmp_path_factory, real_embedder, sample_copy):
    settings = make_settings(sample_copy(tmp_path_factory.mktemp("answers") / ".rag", real_embedder),
                             embedding=real_embedder.settings)
    store = Store.open(settings.resolved_database_url)
    retriever = HybridRetriever.open(store, settings, real_embedder, "sample")
    return ExtractiveAnswerer(retriever, real_embedder, EvidenceAlignmentJudge(real_embedder), AnswerSettings())


@pytest.mark.parametrize("question, expected, source", [
    ("How many days of paid annual leave do employees get?", "27 days", "northwind-handbook.docx"),
    ("When will the map tile server be offline?", "14 November", "maintenance-window.eml"),
    ("How long is the synodic month?", "29.5 days", "moon-phases.html"),
    ("Who decoded the waggle dance?", "Karl von Frisch", "honeybees.md"),
])
def test_answers_come_from_the_right_source_with_citations(answerer, question, expected, source):
    answer = answerer.answer(question)
    assert not answer.abstained and expected in answer.answer
    assert answer.citations and all(c.document.endswith(source) for c in answer.citations if
                                    any(expected in s.text for s in answer.sentences if c.number in s.cited))
    for sentence in answer.sentences:
        assert sentence.cited and sentence.supported and sentence.evidence
    assert answer.groundedness == 1.0 and "[1]" in answer.answer or "[2]" in answer.answer


@pytest.mark.parametrize("question", ["What is the capital of Australia?",
                                      "Who won the 1998 football world cup?"])
def test_questions_the_documents_do_not_cover_are_declined(answerer, question):
    answer = answerer.answer(question)
    assert answer.abstained and answer.answer == ABSTENTION and answer.citations == []
    assert answer.closest  # the closest passages are still shown


def test_citations_only_point_at_retrieved_sources(answerer):
    answer = answerer.answer("What did the Q3 review say about revenue?")
    numbers = {c.number for c in answer.citations}
    assert all(set(s.cited) <= numbers for s in answer.sentences)


def test_the_judge_rejects_changed_numbers_and_unrelated_claims(real_embedder):
    judge = EvidenceAlignmentJudge(real_embedder)
    source = "Every employee receives 27 days of paid annual leave. Core hours are 10:00 to 15:00."
    good = judge.judge("Employees receive 27 days of paid annual leave.", source)
    assert good.supported and good.evidence.startswith("Every employee") and good.evidence_start == 0
    assert not judge.judge("Employees receive 35 days of paid annual leave.", source).supported
    assert not judge.judge("The Moon orbits the Earth every 27 days.", source).supported


def test_modes_flag_strip_and_abstain(real_embedder):
    judge = EvidenceAlignmentJudge(real_embedder)
    sources = {1: "The hiking map series sold 41,000 copies."}
    checked = verify([("The hiking map series sold 41,000 copies.", [1]),
                      ("The series was printed in Norway in 1990.", [1])], sources, judge)
    assert [s.supported for s in checked] == [True, False]
    from rag.answer.contract import Citation

    citations = [Citation(1, 7, "/d.pptx", "Q3", 2, sources[1])]
    flagged = apply_mode("q", checked, citations, AnswerSettings(mode="flag"), "t", {})
    assert len(flagged.sentences) == 2 and flagged.groundedness == 0.5 and not flagged.abstained
    stripped = apply_mode("q", checked, citations, AnswerSettings(mode="strip"), "t", {})
    assert len(stripped.sentences) == 1 and "Norway" not in stripped.answer
    refused = apply_mode("q", checked, citations, AnswerSettings(mode="abstain", min_supported=0.75), "t", {})
    assert refused.abstained and refused.answer == ABSTENTION


def test_rag_ask_json(tmp_path):
    data = tmp_path / ".rag"
    rag(["ingest", str(SAMPLE), "-c", "s", "--json"], data, RAG_EMBEDDING__MODEL="default")
    result = rag(["ask", "How many days of paid annual leave?", "-c", "s", "--json"], data,
                 RAG_EMBEDDING__MODEL="default")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    for key in ("answer", "abstained", "groundedness", "citations", "sentences", "answerer", "timings"):
        assert key in answer
    assert "27 days" in answer["answer"] and answer["answerer"] == "extractive"
    citation = answer["citations"][0]
    assert citation["chunk_id"] > 0 and citation["document"].endswith("northwind-handbook.docx")
