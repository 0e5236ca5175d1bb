"""What every page shares: the Settings built once per process, the store, the embedder, answerers, and text
helpers that keep document and model text inert (shown as text, never as HTML)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from rag.cli import OFFLINE_DEFAULTS  # noqa: E402 - the same offline environment as the CLI

for _key, _value in OFFLINE_DEFAULTS.items():
    os.environ.setdefault(_key, _value)

import streamlit as st  # noqa: E402

from rag.settings import Settings  # noqa: E402
from rag.store import Store  # noqa: E402

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<:$])")


@st.cache_resource
def settings() -> Settings:
    return Settings()


@st.cache_resource
def store() -> Store:
    return Store.open(settings().resolved_database_url)


@st.cache_resource(show_spinner="Loading the embedding model...")
def embedder():
    from rag.embedder import build_embedder

    return build_embedder(settings().embedding)


def index_generation(collection_id: int) -> int:
    """The collection's index generation: cached retrievers are rebuilt when the CLI has ingested meanwhile."""
    with store().session() as session:
        manifest = store().current_manifest(session, collection_id)
        return manifest.generation if manifest is not None else 0


@st.cache_resource(show_spinner="Opening the index...", max_entries=8)
def retriever(collection: str, generation: int):
    from rag.retrieval import HybridRetriever

    return HybridRetriever.open(store(), settings(), embedder(), collection)


@st.cache_resource(show_spinner="Loading the model...", max_entries=2)
def generator(model_path: str, sha256: str):
    from pathlib import Path

    from rag.generation import LlamaCppGenerator

    return LlamaCppGenerator(Path(model_path), settings().generator, sha256=sha256)


def collections() -> list:
    from sqlalchemy import select

    from rag.store import Collection

    with store().session() as session:
        found = list(session.scalars(select(Collection).order_by(Collection.name)))
        for c in found:
            session.expunge(c)
        return found


def inert(text: str) -> str:
    """Document or model text for st.markdown: Markdown syntax escaped, so it shows as typed and runs nothing."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text or "")


def safe_name(name: str) -> str:
    """The file name alone (no folders, no '..'), with anything unusual replaced."""
    base = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip("._") or "upload"
    return base[:120]


def save_upload(name: str, data: bytes, folder: Path) -> Path:
    """Stored under uploads/<content hash>/<safe name>: no path can escape the folder, and a different file
    with the same name never overwrites another."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    target = (folder / digest / safe_name(name)).resolve()
    if folder.resolve() not in target.parents:
        raise ValueError(f"{name}: refused (the path leaves the upload folder)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target
