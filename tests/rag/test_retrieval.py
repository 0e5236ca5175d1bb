"""Hybrid retrieval over a real store and FAISS index (fake embedder): fusion, filters, limits, MMR, context."""

from datetime import datetime, timedelta

import pytest

from rag.embedder import FakeEmbedder
from rag.retrieval.hybrid import Filters, HybridRetriever, fuse, fuse_zscore
from rag.settings import RetrievalSettings
from rag.store import Store
from tests.conftest import make_settings


@pytest.fixture
def setup(tmp_path, sample_copy):
    built = 0

    def build(embedder=None, **retrieval):
        nonlocal built
        embedder = embedder or FakeEmbedder()
        built += 1
        settings = make_settings(sample_copy(tmp_path / f".rag-{built}", embedder),
                                 retrieval=RetrievalSettings(**retrieval))
        return HybridRetriever.open(Store.open(settings.resolved_database_url), settings, embedder, "sample")
    return build


def test_fusion_rewards_agreement_and_respects_weights():
    scores = fuse([([1, 2, 3], 1.0), ([3, 1], 1.0)], rrf_k=60)
    assert max(scores, key=scores.get) == 1 and scores[3] > scores[2]
    lexical_only = fuse([([1, 2], 0.0), ([2, 1], 1.0)], rrf_k=60)
    assert max(lexical_only, key=lexical_only.get) == 2


def test_zscore_fusion_by_hand():
    dense = [(1, 0.9), (2, 0.5), (3, 0.1)]  # z: 1.2247, 0, -1.2247
    lexical = [(3, 10.0), (4, 2.0)]  # z: 1, -1
    scores = fuse_zscore([(dense, 1.0), (lexical, 1.0)], depth=50)
    assert sorted(scores, key=lambda i: -scores[i]) == [1, 3, 2, 4]
    assert scores[1] == pytest.approx(0.5 * 1.224745 - 0.5)  # missing from lexical: its lowest z
    assert scores[4] == pytest.approx(-0.5 * 1.224745 - 0.5)
    dense_only = fuse_zscore([(dense, 1.0), (lexical, 0.0)], depth=50)
    assert sorted(dense_only, key=lambda i: -dense_only[i])[:3] == [1, 2, 3]
    assert fuse_zscore([(dense, 1.0), ([], 1.0)], depth=50)[1] == pytest.approx(1.224745)


def test_each_method_finds_the_passage(setup, real_embedder):
    retriever = setup(real_embedder)
    for method in ("hybrid", "dense", "lexical"):
        hits = retriever.retrieve("Fresnel lens lighthouse", k=3, method=method)
        assert hits and "Fresnel" in hits[0].text, method
    top = retriever.retrieve("annual leave days", k=3)[0]
    assert "27 days" in top.text and top.source.endswith("northwind-handbook.docx")
    assert top.section_path[-1] == "Leave" and top.dense_rank and top.lexical_rank


def test_filters_by_file_type_document_and_date(setup):
    retriever = setup()
    hits = retriever.retrieve("tide", k=10, filters=Filters(filetypes={"csv"}))
    assert hits and all(h.source.endswith(".csv") for h in hits)
    doc_id = hits[0].document_id
    only = retriever.retrieve("lighthouse bees moon", k=10, filters=Filters(document_ids={doc_id}))
    assert {h.document_id for h in only} <= {doc_id}
    future = datetime.now() + timedelta(days=1)
    assert retriever.retrieve("lighthouse", filters=Filters(updated_after=future)) == []


def test_per_document_limit_and_mmr_diversify(setup):
    limited = setup(max_chunks_per_document=1).retrieve("Northwind revenue leave expenses hiking maps", k=5)
    assert len({h.document_id for h in limited}) == len(limited)


def test_mmr_changes_the_order_without_losing_the_best_hit(tmp_path, setup):
    plain = setup().retrieve("Northwind", k=4)
    diverse = setup(mmr_lambda=0.3).retrieve("Northwind", k=4)
    assert diverse[0].chunk_id == plain[0].chunk_id and len(diverse) == 4


def test_neighbours_widen_the_context_with_the_exact_document_text(setup):
    hit = setup(neighbors=1).retrieve("Every employee receives paid annual leave", k=1)[0]
    assert hit.text in hit.context and len(hit.context) > len(hit.text)
    assert "Working hours" in hit.context or "Expenses" in hit.context
