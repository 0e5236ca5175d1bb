"""The fake and the real embedder meet the same contract; the real one is fast and faithful in bf16."""

import numpy as np
import pytest

from rag.embedder import FakeEmbedder, SentenceTransformerEmbedder, _normalise, build_embedder
from rag.errors import ConfigError
from rag.settings import EmbeddingSettings


@pytest.fixture(params=["fake", "real"])
def embedder(request):
    return FakeEmbedder() if request.param == "fake" else request.getfixturevalue("real_embedder")


def test_contract_normalised_deterministic_and_similarity_aware(embedder):
    texts = ["The tide rises twice a day at Brest.", "At Brest the tide rises two times daily.",
             "Honeybees dance to show where nectar is."]
    first, again = embedder.embed(texts), embedder.embed(texts)
    assert first.shape == (3, embedder.dim) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.allclose(first, again, atol=1e-5)
    assert first[0] @ first[1] > first[0] @ first[2]
    assert embedder.count_tokens("one two three") >= 3


def test_token_counts_are_not_capped_at_the_model_input_length(real_embedder):
    assert real_embedder.count_tokens("tide " * 1000) == 1000
    assert real_embedder.count_tokens("The Fresnel lens") == len(
        real_embedder.tokenizer.tokenize("The Fresnel lens"))


def test_real_model_is_the_packaged_minilm_loaded_offline(real_embedder):
    assert real_embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert real_embedder.dim == 384 and real_embedder.max_tokens == 256


def test_bf16_is_used_only_where_it_matches_fp32(real_embedder):
    texts = [f"Sentence number {i} about lighthouses and lenses." for i in range(8)]
    full = real_embedder._encode(texts, "fp32")
    chosen = real_embedder.embed(texts)
    assert np.min(np.sum(full * chosen, axis=1)) >= 0.99


def test_a_missing_model_directory_is_a_clear_config_error(tmp_path):
    embedder = SentenceTransformerEmbedder(EmbeddingSettings(model=str(tmp_path / "no-such-model")))
    with pytest.raises(ConfigError, match="RAG_EMBEDDING__MODEL"):
        embedder.warm_up()


def test_build_embedder_and_normalise_edge_cases():
    assert isinstance(build_embedder(EmbeddingSettings(model="fake")), FakeEmbedder)
    assert np.allclose(_normalise(np.zeros((1, 4))), 0.0)


def test_embedding_before_any_other_call_loads_the_model():
    embedder = SentenceTransformerEmbedder(EmbeddingSettings())
    assert embedder.embed(["first call"]).shape == (1, 384)
