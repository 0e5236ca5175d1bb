"""The fake and the real embedder meet the same contract; the real one is fast and faithful in int8 or bf16."""

import importlib.util

import numpy as np
import pytest

from rag import embedding_int8
from rag.embedder import FakeEmbedder, SentenceTransformerEmbedder, _normalise, build_embedder, resolve_model
from rag.errors import ConfigError
from rag.settings import DEFAULT_MODELS_DIR, EmbeddingSettings


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


def test_the_chosen_precision_matches_fp32(real_embedder):
    texts = [f"Sentence number {i} about lighthouses and lenses." for i in range(8)] + [
        "Patients received 40 mg daily for 12 weeks.", "SELECT id FROM orders WHERE total > 100;",
        "Die Bibliothek ist montags geschlossen.", "tide"]
    full = real_embedder._encode(texts, "fp32")
    chosen = real_embedder.embed(texts)
    assert np.min(np.sum(full * chosen, axis=1)) >= 0.98


def test_int8_through_openvino_is_the_default_on_cpu_where_installed(real_embedder):
    # `make install` installs OpenVINO and NNCF, and never their telemetry package
    assert embedding_int8.missing_packages() == []
    assert importlib.util.find_spec("openvino_telemetry") is None
    assert real_embedder.precision == "int8"
    kept = list((DEFAULT_MODELS_DIR.expanduser() / "embedders").glob("all-MiniLM-L6-v2-*/model.xml"))
    assert kept, "the int8 copy is kept once per machine"


def test_the_int8_copy_is_made_once_and_then_loaded(tmp_path, monkeypatch):
    settings = EmbeddingSettings(precision="int8")
    first = SentenceTransformerEmbedder(settings, models_dir=tmp_path)
    first.warm_up()
    made = list((tmp_path / "embedders").glob("*/model.xml"))
    assert len(made) == 1 and first.precision == "int8"

    def quantize_again(*args):
        raise AssertionError("quantized a second time")

    monkeypatch.setattr(embedding_int8, "_quantize", quantize_again)
    again = SentenceTransformerEmbedder(settings, models_dir=tmp_path)
    texts = ["The Fresnel lens bends light into a beam.", "Bees dance to show the way to nectar."]
    assert np.allclose(again.embed(texts), first.embed(texts), atol=1e-6)
    assert list((tmp_path / "embedders").glob("*/model.xml")) == made


def test_a_model_the_int8_copy_cannot_reproduce_stays_on_torch(tmp_path):
    from sentence_transformers import SentenceTransformer, models

    path, _ = resolve_model("default")
    cls_pooled = SentenceTransformer(modules=[models.Transformer(path), models.Pooling(384, pooling_mode="cls")])
    assert embedding_int8.convertible(SentenceTransformer(path, local_files_only=True))
    assert not embedding_int8.convertible(cls_pooled)

    embedder = SentenceTransformerEmbedder(EmbeddingSettings(precision="int8"), models_dir=tmp_path)
    embedder._model = cls_pooled
    with pytest.raises(ConfigError, match="RAG_EMBEDDING__PRECISION=int8: the model is not a transformer"):
        embedder._choose_precision("cpu")
    embedder.settings = EmbeddingSettings(precision="auto")
    assert embedder._choose_precision("cpu") in ("bf16", "fp32")
    assert not (tmp_path / "embedders").exists()


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
