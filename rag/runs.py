"""Evaluation runs kept in the database with what it takes to reproduce them.

Every `rag eval` command saves one: the metrics, the per-item rows (questions or pairs) that reports and
comparisons need, the full settings, package versions, seed, the dataset's SHA-256 and the checksum of the
collection's index manifest.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from rag.settings import Settings
from rag.store import EvalRun, Store

PACKAGES = ("groundwork-rag", "torch", "sentence-transformers", "faiss-cpu", "faiss-gpu", "llama-cpp-python",
            "unstructured", "sqlalchemy")


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def dataset_sha256(path: Path) -> str | None:
    if path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()
    if path.is_dir():  # a BEIR folder: its files, in name order
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(path)).encode())
            digest.update(bytes.fromhex(dataset_sha256(file)))
        return digest.hexdigest()
    return None


def index_checksum(store: Store, collection: str | None) -> str | None:
    if not collection:
        return None
    with store.session() as session:
        try:
            coll = store.collection(session, collection)
        except Exception:  # noqa: BLE001 - a run without a collection has no index to record
            return None
        manifest = store.current_manifest(session, coll.id)
        return manifest.checksum if manifest is not None else None


def save_run(store: Store, settings: Settings, kind: str, dataset: Path, metrics: dict, items: list[dict],
             seconds: float, collection: str | None = None, seed: int = 0) -> int:
    fields = dict(kind=kind, dataset=str(dataset), dataset_sha256=dataset_sha256(dataset), collection=collection,
                  index_checksum=index_checksum(store, collection), settings=settings.model_dump(mode="json"),
                  versions=versions(), seed=seed, metrics=metrics, items=items, seconds=round(seconds, 2))
    with store.session() as session:
        return store.add_run(session, **fields)


def load_run(store: Store, run_id: int) -> EvalRun:
    with store.session() as session:
        run = store.run(session, run_id)
    if run is None:
        raise LookupError(f"no evaluation run {run_id}; `rag eval runs` lists them")
    return run


def list_runs(store: Store) -> list[EvalRun]:
    with store.session() as session:
        return store.runs(session)


def flat_metrics(result: dict) -> dict:
    """A nested benchmark result as flat metric names (e.g. sizes.100000.hybrid.p95_ms) for a run."""
    def flatten(value, prefix=""):
        if isinstance(value, dict):
            for key, inner in value.items():
                yield from flatten(inner, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield prefix.rstrip("."), value

    return {"machine": result.get("machine", ""), **dict(flatten({k: v for k, v in result.items()
                                                                     if k != "machine"}))}
