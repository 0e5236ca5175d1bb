"""UI tests run the real app scripts (streamlit.testing AppTest) on a temp data directory."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

APP = str(ROOT / "ui" / "app.py")


@pytest.fixture
def ui_env(tmp_path, monkeypatch, sample_copy, real_embedder):
    """A data directory of its own with the sample corpus ingested into collection 'sample'."""
    import streamlit as st

    from rag.settings import Settings

    monkeypatch.syspath_prepend(str(ROOT / "ui"))
    for key, value in {"RAG_DATA_DIR": str(tmp_path / ".rag"), "RAG_DEFAULT_COLLECTION": "sample",
                       "RAG_EMBEDDING__MODEL": "default", "RAG_GENERATOR__MODEL": "extractive"}.items():
        monkeypatch.setenv(key, value)
    sample_copy(tmp_path / ".rag", real_embedder)
    st.cache_resource.clear()
    yield Settings(_env_file=None)
    st.cache_resource.clear()
