"""Documents: upload files (ingested in the background), see what was indexed and why something failed."""

from __future__ import annotations

from pathlib import Path

import common
import streamlit as st

from rag.sources import source_file


@st.cache_resource
def jobs() -> dict:
    """Background ingestions of this process: id -> {"files", "state", "summary" | "error"}."""
    return {}


def ingest_in_background(paths: list[Path], collection: str) -> None:
    job = {"files": [p.name for p in paths], "collection": collection}
    common.start_job(jobs(), job, "summary", lambda: common.workspace().ingest(paths, collection))


@st.fragment(run_every=2)
def progress() -> None:
    for number, job in sorted(jobs().items(), reverse=True)[:5]:
        files = ", ".join(job["files"][:5])
        if job["state"] == "running":
            st.info(f"Ingesting {files} into {job['collection']}...")
        elif job["state"] == "failed":
            st.error(f"Ingestion of {files} failed: {job['error']}")
        else:
            summary = job["summary"]
            st.success(f"{job['collection']}: {summary.ingested} ingested, {summary.skipped} unchanged, "
                       f"{len(summary.failed)} failed ({summary.chunks_added} chunks added).")
            for failure in summary.failed:
                st.warning(f"{Path(failure['path']).name}: {failure['reason']}")


def upload(collection: str) -> None:
    limit = common.settings().ui.upload_max_mb
    files = st.file_uploader(f"Add documents (up to {limit:g} MB each)", accept_multiple_files=True)
    if files and st.button("Ingest", type="primary"):
        saved = []
        for file in files:
            data = file.getvalue()
            if len(data) > limit * 1e6:
                st.error(f"{file.name}: {len(data) / 1e6:.1f} MB is over the {limit:g} MB upload limit "
                         "(RAG_UI__UPLOAD_MAX_MB).")
                continue
            saved.append(common.workspace().save_upload(file.name, data))
        if saved:
            ingest_in_background(saved, collection)


def documents_table(collection: str) -> None:
    coll = next((c for c in common.collections() if c.name == collection), None)
    if coll is None:
        st.caption("Nothing ingested into this collection yet.")
        return
    rows = common.workspace().documents(collection)
    table = [{"id": r["id"], "document": source_file(r["source"]).name, "title": r["title"] or "",
              "status": r["status"], "pages": r["pages"], "chunks": r["chunks"],
              "pages to check": _flagged(r["flagged_pages"]), "error": r["error"] or "",
              "notes": "; ".join(r["notes"] or [])}
             for r in rows]
    st.dataframe(table, hide_index=True, use_container_width=True)
    chosen = st.multiselect("Select documents", [f"{r['id']}: {r['document']}" for r in table])
    ids = [int(c.split(":")[0]) for c in chosen]
    left, right = st.columns(2)
    if left.button("Delete selected", disabled=not ids):
        removed = common.workspace().delete_documents(collection, ids)
        st.success(f"Deleted {len(ids)} document(s), {removed} chunks.")
        st.rerun()
    if right.button("Re-ingest selected", disabled=not ids):
        paths = [source_file(r["source"]) for r in rows if r["id"] in ids]
        ingest_in_background([p for p in paths if p.exists()], collection)


def _flagged(flagged: dict[str, str]) -> str:
    """Pages below the parse-quality thresholds: little text, or an OCR the engine itself doubts."""
    shown = [f"p.{page} ({why})" for page, why in list(flagged.items())[:6]]
    return "; ".join(shown) + (f"; +{len(flagged) - 6} more" if len(flagged) > 6 else "") if flagged else "none"


def main() -> None:
    st.title("Documents")
    names = [c.name for c in common.collections()]
    default = common.settings().default_collection
    options = names + ([default] if default not in names else [])
    collection = st.selectbox("Collection", options, index=options.index(default))
    new = st.text_input("Or a new collection", placeholder="name")
    collection = new.strip() or collection
    upload(collection)
    progress()
    documents_table(collection)


main()
