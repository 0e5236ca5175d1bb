"""Our retrieval and answering plug into LangChain (langchain-core) apps."""

from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough

from rag.answer.extractive import ExtractiveAnswerer
from rag.judges.alignment import EvidenceAlignmentJudge
from rag.langchain import GroundworkRetriever, answer_runnable
from rag.retrieval.hybrid import HybridRetriever
from rag.settings import AnswerSettings
from rag.store import Store
from tests.conftest import make_settings


def test_retriever_and_answer_runnable(tmp_path, real_embedder, sample_copy):
    settings = make_settings(sample_copy(tmp_path / ".rag", real_embedder), embedding=real_embedder.settings)
    store = Store.open(settings.resolved_database_url)
    hybrid = HybridRetriever.open(store, settings, real_embedder, "sample")
    retriever = GroundworkRetriever(retriever=hybrid, k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("paid annual leave")
    assert len(docs) == 3 and "27 days" in docs[0].page_content
    meta = docs[0].metadata
    assert meta["source"].endswith("northwind-handbook.docx") and meta["chunk_id"] == int(docs[0].id)
    assert meta["section_path"][-1] == "Leave"

    answerer = ExtractiveAnswerer(hybrid, real_embedder, EvidenceAlignmentJudge(real_embedder), AnswerSettings())
    chain = RunnablePassthrough() | answer_runnable(answerer)
    result = chain.invoke("How long is the synodic month?")
    assert "29.5 days" in result["answer"] and result["citations"][0]["document"].endswith("moon-phases.html")
