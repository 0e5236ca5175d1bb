"""LangChain integration: our hybrid retrieval as a `BaseRetriever`, and a runnable that answers with citations.

    from rag.langchain import GroundworkRetriever, answer_runnable
    docs = GroundworkRetriever(retriever=hybrid).invoke("How many days of leave?")
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from pydantic import ConfigDict

from rag.answer.contract import Answerer
from rag.retrieval.hybrid import Hit, HybridRetriever


def to_document(hit: Hit) -> Document:
    return Document(
        page_content=hit.context or hit.text,
        metadata={"chunk_id": hit.chunk_id, "document_id": hit.document_id, "source": hit.source,
                  "title": hit.title, "page_start": hit.page_start, "page_end": hit.page_end,
                  "section_path": hit.section_path, "char_start": hit.char_start, "char_end": hit.char_end,
                  "score": hit.score, "dense_rank": hit.dense_rank, "lexical_rank": hit.lexical_rank},
        id=str(hit.chunk_id),
    )


class GroundworkRetriever(BaseRetriever):
    """Hybrid (dense + full-text) retrieval over a Groundwork collection, for LangChain apps."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    retriever: HybridRetriever
    k: int | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        return [to_document(hit) for hit in self.retriever.retrieve(query, k=kwargs.get("k", self.k))]


def answer_runnable(answerer: Answerer) -> RunnableLambda:
    """question (str) -> {"answer", "abstained", "groundedness", "citations": [...], ...} (Answer.to_json())."""
    return RunnableLambda(lambda question: answerer.answer(question).to_json(), name="groundwork_answer")
