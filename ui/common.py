"""What every page shares: the workspace (`rag.workspace`) built once per process, and text
helpers that keep document and model text inert (shown as text, never as HTML)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from rag import offline

offline.apply()  # before streamlit and the models are imported: the same environment as the CLI

import streamlit as st  # noqa: E402

from rag.settings import Settings  # noqa: E402
from rag.workspace import Workspace  # noqa: E402

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<:$])")


@st.cache_resource
def workspace() -> Workspace:
    """One per app process, shared by every session: the store, the embedder, the indexes, one model."""
    return Workspace(Settings())


def settings() -> Settings:
    return workspace().settings


def store():
    return workspace().store


def generator(model_path: str, sha256: str):
    """The generation model for the chosen file, loaded once per process."""
    from pathlib import Path

    from rag.generation.model_files import ActiveModel

    return workspace().generator(ActiveModel(Path(model_path).name, Path(model_path), sha256))


def collections() -> list:
    return workspace().collections()


def inert(text: str) -> str:
    """Document or model text for st.markdown: Markdown syntax escaped, so it shows as typed and runs nothing."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text or "")


def start_job(jobs: dict, job: dict, result: str, work: Callable[[], object]) -> None:
    """Runs `work` in a thread; the job dict (shown by a page's progress fragment) gets state running, then
    done with the value under `result`, or failed with the error."""
    job["state"] = "running"
    jobs[len(jobs) + 1] = job

    def run():
        try:
            job[result] = work()
            job["state"] = "done"
        except Exception as exc:  # noqa: BLE001 - the reason is shown on the page
            job["state"], job["error"] = "failed", str(exc)

    threading.Thread(target=run, daemon=True).start()
