"""UI tests run the real app scripts (streamlit.testing AppTest) on a temp data directory."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, SAMPLE

APP = str(ROOT / "ui" / "app.py")


@pytest.fixture(scope="session")
def ingested_sample(tmp_path_factory):
    """The sample corpus ingested once (real parsers and embedder, ~12 s); each test gets a copy of it."""
    from ingest.pipeline import Ingester
    from rag.embedder import build_embedder
    from rag.settings import EmbeddingSettings, Settings
    from rag.store import Store

    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("ui-sample") / ".rag",
                        embedding=EmbeddingSettings(model="default"))
    store = Store.open(settings.resolved_database_url)
    Ingester(settings, store, build_embedder(settings.embedding)).run([SAMPLE], "sample")
    store.close()  # the database's write-ahead log is folded back, so a copy of the folder is whole
    return settings.data_dir


@pytest.fixture
def ui_env(tmp_path, monkeypatch, ingested_sample):
    """A data directory of its own with the sample corpus ingested into collection 'sample'."""
    import shutil

    import streamlit as st

    from rag.settings import Settings

    monkeypatch.syspath_prepend(str(ROOT / "ui"))
    for key, value in {"RAG_DATA_DIR": str(tmp_path / ".rag"), "RAG_DEFAULT_COLLECTION": "sample",
                       "RAG_EMBEDDING__MODEL": "default", "RAG_GENERATOR__MODEL": "extractive"}.items():
        monkeypatch.setenv(key, value)
    shutil.copytree(ingested_sample, tmp_path / ".rag")
    st.cache_resource.clear()
    yield Settings(_env_file=None)
    st.cache_resource.clear()
