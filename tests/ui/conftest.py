"""UI tests run the real app scripts (streamlit.testing AppTest) on a temp data directory."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, SAMPLE

APP = str(ROOT / "ui" / "app.py")


@pytest.fixture
def ui_env(tmp_path, monkeypatch):
    """A data directory with the sample corpus ingested into collection 'sample' (real embedder)."""
    import streamlit as st

    from ingest.pipeline import Ingester
    from rag.embedder import build_embedder
    from rag.settings import Settings
    from rag.store import Store

    monkeypatch.syspath_prepend(str(ROOT / "ui"))
    for key, value in {"RAG_DATA_DIR": str(tmp_path / ".rag"), "RAG_DEFAULT_COLLECTION": "sample",
                       "RAG_EMBEDDING__MODEL": "default", "RAG_GENERATOR__MODEL": "extractive"}.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    settings = Settings(_env_file=None)
    store = Store.open(settings.resolved_database_url)
    Ingester(settings, store, build_embedder(settings.embedding)).run([SAMPLE], "sample")
    yield settings
    st.cache_resource.clear()
