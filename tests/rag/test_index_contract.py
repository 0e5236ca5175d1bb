"""Every VectorIndex (FAISS Flat, FAISS IVF and the numpy fake) meets the same contract."""

import numpy as np
import pytest

from rag.index.faiss_index import FaissIndex, NumpyIndex, choose_factory, needs_reshape

DIM = 32


def _vectors(n, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _build(kind, ids, vectors):
    if kind == "numpy":
        index = NumpyIndex(DIM)
        index.add(ids, vectors)
        return index
    factory = {"flat": "IDMap2,Flat", "fp16": "IDMap2,SQfp16", "ivf": "IDMap2,IVF8,Flat"}[kind]
    return FaissIndex.build(DIM, ids, vectors, factory, train_on=_vectors(400, seed=9), nprobe=8, use_gpu=False)


@pytest.fixture(params=["numpy", "flat", "fp16", "ivf"])
def kind(request):
    return request.param


def test_search_returns_the_nearest_ids_with_cosine_scores(kind):
    vectors = _vectors(200)
    ids = np.arange(1000, 1200, dtype=np.int64)
    index = _build(kind, ids, vectors)
    scores, found = index.search(vectors[[5, 17]], 3)
    assert found[:, 0].tolist() == [1005, 1017]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-4)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_remove_deletes_exactly_the_given_ids(kind):
    vectors = _vectors(100)
    ids = np.arange(100, dtype=np.int64) * 7
    index = _build(kind, ids, vectors)
    assert index.remove(np.array([7, 14, 999])) == 2
    assert len(index) == 98
    assert set(index.ids().tolist()) == set(ids.tolist()) - {7, 14}
    _, found = index.search(vectors[1:2], 5)
    assert 7 not in found[0]


def test_more_k_than_vectors_pads_with_minus_one(kind):
    index = _build(kind, np.array([1, 2], dtype=np.int64), _vectors(2))
    _, found = index.search(_vectors(1, seed=3), 5)
    assert sorted(found[0][:2].tolist()) == [1, 2] and (found[0][2:] == -1).all()


def test_wrong_dimension_is_refused(kind):
    index = _build(kind, np.array([1], dtype=np.int64), _vectors(1))
    with pytest.raises(ValueError, match="dimension"):
        index.add(np.array([2]), np.ones((1, DIM + 1), dtype=np.float32))


def test_faiss_round_trips_through_bytes_with_ids():
    vectors = _vectors(50)
    ids = np.arange(50, dtype=np.int64) + 10**12  # 64-bit ids survive
    index = _build("flat", ids, vectors)
    restored = FaissIndex.from_bytes(index.to_bytes(), index.factory, use_gpu=False)
    assert np.array_equal(np.sort(restored.ids()), ids)
    assert restored.search(vectors[:1], 1)[1][0, 0] == ids[0]


def test_shape_follows_collection_size():
    assert choose_factory(10, 100) == "IDMap2,SQfp16" and choose_factory(10, 100, "fp32") == "IDMap2,Flat"
    assert choose_factory(1_000_000, 100_000) == "IDMap2,IVF4096,Flat"
    assert needs_reshape("IDMap2,Flat", 200_000, 100_000)
    assert needs_reshape("IDMap2,Flat", 500, 100_000) and not needs_reshape("IDMap2,Flat", 500, 100_000, "fp32")
    assert not needs_reshape("IDMap2,IVF2048,Flat", 300_000, 100_000)
    assert needs_reshape("IDMap2,IVF1024,Flat", 5_000_000, 100_000)
