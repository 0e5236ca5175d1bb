"""Models `rag tune` trained on a collection: where their files lie, which one a collection uses, and switching
a collection's embedding model.

A switch is crash-safe like ingestion: the vectors of the new model are added beside the old ones (committed in
batches, so a killed switch resumes where it stopped), then one transaction makes the collection use the new
model, then the index is rebuilt from the stored vectors. Until that transaction the old model serves; after
it, an index still holding the old model's vectors is detected on open (its manifest names the model).

The process training a run holds its lock file (`<data dir>/tuned/<kind>-<id>.lock`); the operating system lets
go of it when that process dies, so a run still marked training whose lock is free was interrupted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from rag.embedder import Embedder, SentenceTransformerEmbedder
from rag.errors import ConfigError
from rag.hashing import sha256_file
from rag.settings import Settings
from rag.store import Collection, Store
from rag.store.tables import TunedModel
from rag.text import embed_text

log = logging.getLogger(__name__)
TUNED_PREFIX = "tuned-"  # model ids of tuned models: tuned-<kind>-<row id>
WEIGHTS = "model.safetensors"
ADAPTER = "adapter.gguf"  # a tuned generator: a GGUF LoRA adapter for the model file it was trained from


def weights_file(kind: str) -> str:
    return ADAPTER if kind == "generator" else WEIGHTS


def is_tuned(model_id: str | None) -> bool:
    return bool(model_id) and model_id.startswith(TUNED_PREFIX)


def tuned_model_id(kind: str, row_id: int) -> str:
    return f"{TUNED_PREFIX}{kind}-{row_id}"


def run_lock(settings: Settings, row: TunedModel) -> FileLock:
    """The lock its training process holds (filelock, not a hand-written flock: it also works on Windows)."""
    return FileLock(settings.data_dir / f"{row.path}.lock", timeout=0)


def is_running(settings: Settings, row: TunedModel) -> bool:
    """Whether a process is training this run now (its lock is held)."""
    lock = run_lock(settings, row)
    if not Path(lock.lock_file).is_file():
        return False
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


INTERRUPTED = "interrupted"  # shown for a run marked training that no process is training: rerun its command


def describe(row: TunedModel, collection: str, running: bool = False) -> dict:
    status = INTERRUPTED if row.status == "training" and not running else row.status
    return {"id": row.id, "kind": row.kind, "collection": collection, "model_id": row.model_id,
            "status": status, "base_model": row.base_model, "base_sha256": row.base_sha256, "path": row.path,
            "created": row.created_at.isoformat() if row.created_at else "",
            "adopted": row.adopted_at.isoformat() if row.adopted_at else None, "card": row.card}


def model_dir(settings: Settings, row: TunedModel) -> Path:
    """The model itself; its run folder (`row.path`) also holds the examples, checkpoint and card."""
    return settings.data_dir / row.path / "model"


def check_files(settings: Settings, row: TunedModel) -> Path:
    """The tuned model's directory, after checking its weights are the ones its card records."""
    folder = model_dir(settings, row)
    weights = folder / weights_file(row.kind)
    fix = f"`rag tune revert -c <collection> --kind {row.kind}` goes back to the base model"
    if not weights.is_file():
        raise ConfigError(f"tuned model {row.model_id} is missing its weights ({weights}); {fix}")
    expected = (row.card or {}).get("weights_sha256")
    if expected and sha256_file(weights) != expected:
        raise ConfigError(f"tuned model {row.model_id}: {weights} changed since training (SHA-256); {fix}")
    return folder


def load_tuned_embedder(settings: Settings, row: TunedModel) -> Embedder:
    folder = check_files(settings, row)
    return SentenceTransformerEmbedder(settings.embedding.model_copy(update={"model": str(folder)}), row.model_id,
                                       settings.models_dir)


def embed_missing(store: Store, embedder: Embedder, collection: Collection,
                  progress: Callable[[int], None] | None = None, batch: int = 256) -> int:
    """Stores `embedder`'s vector for every chunk of the collection that has none yet; returns how many."""
    done = 0
    with store.session() as reading:
        for rows in store.chunks_to_embed(reading, collection.id, embedder.model_id, batch):
            vectors = embedder.embed([embed_text(section_path, text) for _, section_path, text in rows])
            with store.session() as writing:
                store.add_embeddings(writing, embedder.model_id, {h: v for (h, _, _), v in zip(rows, vectors)})
            done += len(rows)
            if progress is not None:
                progress(len(rows))
    return done


def switch_embedding_model(store: Store, settings: Settings, collection: Collection, embedder: Embedder,
                           tuned: TunedModel | None, progress: Callable[[int], None] | None = None) -> None:
    """Makes the collection use `embedder` (the tuned model `tuned`, or the base model when None)."""
    from rag.index.collection_index import CollectionIndex

    embed_missing(store, embedder, collection, progress)
    with store.session() as session:
        store.set_embedding_model(session, collection, embedder.model_id, embedder.dim)
        store.set_adopted(session, collection.id, "embedder", tuned.id if tuned is not None else None)
    embed_missing(store, embedder, collection, progress)  # chunks an ingest committed meanwhile
    CollectionIndex.rebuild(store, settings, collection)
    log.info("collection %s now uses %s", collection.name, embedder.model_id)


def adopted_adapter(store: Store, collection: str, model_sha256: str) -> TunedModel | None:
    """The LoRA adapter `rag tune generator` adopted for the collection, when it was trained from the model
    file whose SHA-256 is given (an adapter fits only the weights it was trained on); None otherwise."""
    with store.session() as session:
        coll = store.collection(session, collection)
        row = store.adopted_model(session, coll.id, "generator")
        if row is None:
            return None
        session.expunge(row)
    if row.base_sha256 != model_sha256:
        log.warning("collection %r: its tuned generator %s was trained from another model file (SHA-256 %s...); "
                    "answering without it. `rag tune generator` tunes the model in use.", collection,
                    row.model_id, row.base_sha256[:12])
        return None
    return row
