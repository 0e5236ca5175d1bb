"""What Groundwork will use on this machine, and whether it is healthy: versions, paths, the embedding model,
FAISS and its GPUs, the parsers' system programs, and who owns the import packages (`rag doctor`, the app's
System page)."""

from __future__ import annotations

import importlib.util
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version

from rag import system_packages
from rag.distribution import ownership_problems
from rag.embedder import resolve_model
from rag.machine import cpu_has_bf16, machine_note
from rag.store.store import shown_url

PACKAGES = ("groundwork-rag", "torch", "sentence-transformers", "transformers", "faiss-cpu", "faiss-gpu",
            "unstructured", "sqlalchemy", "alembic", "llama-cpp-python", "langchain-text-splitters")


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _faiss() -> dict:
    import faiss

    return {"version": faiss.__version__, "gpus": faiss.get_num_gpus(),
            "build": "gpu" if hasattr(faiss, "StandardGpuResources") else "cpu"}


def _converters(settings) -> dict:
    """The system programs ingestion uses for legacy Office files and OCR, and what to install when missing."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    found = {"libreoffice": soffice or f"missing: .doc/.ppt/.xls are refused; install with "
             f"`{system_packages.LIBREOFFICE}`"}
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        found["tesseract"] = f"missing: scans and images are refused; install with `{system_packages.TESSERACT}`"
        return found
    listed = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True, timeout=30)
    languages = [line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()]
    missing = [lang for lang in settings.ingest.ocr_languages if lang not in languages]
    found["tesseract"] = f"{tesseract}, languages {', '.join(languages)}" + (
        f"; missing OCR language(s) {', '.join(missing)}: `{system_packages.ocr_languages(missing)}`"
        if missing else "")
    return found


def report(settings) -> dict:
    model_path, model_id = resolve_model(settings.embedding.model) if settings.embedding.model != "fake" \
        else ("-", "fake")
    spacy_model = importlib.util.find_spec("en_core_web_sm") is not None
    return {
        "python": platform.python_version(),
        "machine": machine_note(),
        "versions": {name: _version(name) for name in PACKAGES if _version(name)},
        "data_dir": str(settings.data_dir.resolve()),
        "database_url": shown_url(settings.resolved_database_url),
        "embedding_model": {"id": model_id, "path": model_path, "precision": settings.embedding.precision,
                            "cpu_bf16": cpu_has_bf16()},
        "faiss": _faiss(),
        "unstructured_nlp": "spaCy en_core_web_sm (installed)" if spacy_model
        else "built-in offline pipeline (spaCy blank 'en' + sentencizer + rule-based verb tagger)",
        "converters": _converters(settings),
        "package_problems": ownership_problems(),
    }
