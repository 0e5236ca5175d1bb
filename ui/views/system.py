"""System: what `rag doctor` reports, the active answerer, and each collection's index manifest."""

from __future__ import annotations

import common
import streamlit as st

from rag.generation.model_files import active_model


def main() -> None:
    st.title("System")
    settings = common.settings()
    try:
        model = active_model(settings)
        shown = f"{model.describe()} ({model.path}, SHA-256 {model.sha256[:12]}…)" if model else None
    except Exception as exc:  # noqa: BLE001 - shown as it is
        shown = f"error: {exc}"
    st.markdown(f"**Answerer:** {common.inert(shown) if shown else 'extractive (no generation model installed)'}")
    with common.store().session() as session:
        rows = []
        for coll in common.collections():
            manifest = common.store().current_manifest(session, coll.id)
            rows.append({"collection": coll.name, "embedding model": coll.embedding_model,
                         "generation": manifest.generation if manifest else None,
                         "factory": manifest.factory if manifest else None,
                         "vectors": manifest.vector_count if manifest else None,
                         "checksum": (manifest.checksum or "")[:12] if manifest else None})
    st.dataframe(rows, hide_index=True)
    st.json(common.workspace().doctor_report())


main()
