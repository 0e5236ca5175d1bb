"""The application layer: one `Workspace` per entry point, built from the Settings, offering the workflows the
CLI, the Streamlit app, the evaluation harness and the HTTP API share (ingest, list and delete documents,
retrieve, answer, one chat turn, feedback). The store, the embedder, the indexes and the model open on first use
and are shared by every caller in the process; one generation model is loaded once.

Ingestion lives in the `ingest` package, which builds on this one: it is reached through the entry-point group
`groundwork.ingest` (a function `(workspace, paths, collection, progress) -> summary`), so `rag` never imports it.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path

from rag.answer.contract import Answer, Answerer
from rag.embedder import Embedder, build_embedder
from rag.errors import ConfigError, RagError
from rag.settings import Settings
from rag.store import Store

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ChatTurn:
    session_id: int
    question: str
    standalone: str  # the question retrieval actually ran with
    answer: Answer


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    name: str
    documents: int
    chunks: int
    embedding_model: str | None

    def to_json(self) -> dict:
        return {"name": self.name, "documents": self.documents, "chunks": self.chunks, "model": self.embedding_model}


def safe_name(name: str) -> str:
    """A file name with no directory part and only plain characters (never '..', never empty)."""
    base = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip("._") or "upload"
    return base[:120]


class Workspace:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None):
        self.settings = settings
        if embedder is not None:  # shared with another workspace of this process (benchmarks)
            self.embedder = embedder
        self._lock = threading.RLock()
        self._retrievers: dict[str, tuple[tuple, object]] = {}
        self._embedders: dict[str, Embedder] = {}  # tuned embedders by model id
        self._generators: dict[tuple[str, str], object] = {}
        self._writing = threading.Lock()  # one ingest at a time per process; a second one waits its turn

    # -- resources -----------------------------------------------------------------------------
    @cached_property
    def store(self) -> Store:
        with self._lock:
            return Store.open(self.settings.resolved_database_url)

    @cached_property
    def embedder(self) -> Embedder:
        with self._lock:
            return build_embedder(self.settings.embedding, self.settings.models_dir)

    def embedder_for(self, collection: str | None = None) -> Embedder:
        """The embedder whose vectors the collection's index holds: a model `rag tune` adopted for it, else the
        configured one."""
        from rag.tuned_models import is_tuned, load_tuned_embedder

        with self.store.session() as session:
            model_id = self.store.collection_model(session, self.collection_name(collection))
            row = self.store.tuned_by_model_id(session, model_id) if is_tuned(model_id) else None
            if row is not None:
                session.expunge(row)
        if row is None:
            return self.embedder
        with self._lock:
            if row.model_id not in self._embedders:
                self._embedders[row.model_id] = load_tuned_embedder(self.settings, row)
            return self._embedders[row.model_id]

    def collection_name(self, collection: str | None) -> str:
        return collection or self.settings.default_collection

    def collections(self) -> list[CollectionInfo]:
        with self.store.session() as session:
            return [CollectionInfo(r["id"], r["name"], r["documents"], r["chunks"], r["model"])
                    for r in self.store.collection_listing(session)]

    def collection_names(self) -> list[str]:
        with self.store.session() as session:
            return self.store.collection_names(session)

    def index_generation(self, collection: str) -> int:
        with self.store.session() as session:
            coll = self.store.collection(session, collection)
            manifest = self.store.current_manifest(session, coll.id)
            return manifest.generation if manifest is not None else 0

    def _adopted_reranker(self, collection: str) -> int | None:
        with self.store.session() as session:
            coll = self.store.collection(session, collection)
            row = self.store.adopted_model(session, coll.id, "reranker")
            return row.id if row is not None else None

    def retriever(self, collection: str | None = None):
        """The collection's retriever, reopened when an ingest (here or in another process) saved a newer index."""
        from rag.retrieval.hybrid import HybridRetriever

        name = self.collection_name(collection)
        generation = (self.index_generation(name), self._adopted_reranker(name))
        with self._lock:
            cached = self._retrievers.get(name)
            if cached is None or cached[0] != generation:
                cached = (generation, HybridRetriever.open(self.store, self.settings, self.embedder_for(name), name))
                self._retrievers[name] = cached
            return cached[1]

    def active_model(self):
        from rag.generation.model_files import active_model

        return active_model(self.settings)

    def generator(self, model=None, *, adapter: Path | None = None, adapter_name: str = ""):
        """The generation model (the active one unless given; with a LoRA adapter when given), loaded once per
        process; None: none installed."""
        from rag.answer.choice import model_generator

        model = model or self.active_model()
        if model is None:
            return None
        key = (str(model.path), model.sha256, str(adapter or ""))
        with self._lock:
            if key not in self._generators:
                self._generators[key] = model_generator(self.settings, model, adapter, adapter_name)
            return self._generators[key]

    def generator_for(self, collection: str | None = None):
        """The active model with the LoRA adapter `rag tune generator` adopted for the collection (when it was
        trained from this very model file and RAG_GENERATOR__LORA_PATH sets none), else the plain model."""
        from rag.tuned_models import adopted_adapter, check_files, weights_file

        model = self.active_model()
        if model is None or self.settings.generator.lora_path:
            return self.generator(model)
        row = adopted_adapter(self.store, self.collection_name(collection), model.sha256)
        if row is None:
            return self.generator(model)
        folder = self.settings.data_dir / row.path / "model"
        key = (str(model.path), model.sha256, str(folder / weights_file(row.kind)))
        if key not in self._generators:  # checked once per process, when first loaded
            folder = check_files(self.settings, row)
        return self.generator(model, adapter=folder / weights_file(row.kind), adapter_name=row.model_id)

    def answerer(self, collection: str | None = None, *, mode: str | None = None, extractive: bool = False,
                 generator=None) -> Answerer:
        """The active model's answerer (or `generator`'s), else the extractive one (also when `extractive`)."""
        from rag.answer.choice import build_answerer

        answer = self.settings.answer
        if mode is not None:
            if mode not in ("flag", "strip", "abstain"):
                raise ConfigError(f"answer mode {mode!r}: use flag, strip or abstain")
            answer = answer.model_copy(update={"mode": mode})
        settings = self.settings
        generator = None if extractive else generator or self.generator_for(collection)
        if generator is None:  # the extractive answerer, chosen or the only one there is
            settings = settings.model_copy(update={"generator": settings.generator.model_copy(
                update={"model": "extractive"})})
        return build_answerer(settings, self.retriever(collection), self.embedder, answer, generator)

    # -- answering -----------------------------------------------------------------------------
    def ask(self, question: str, collection: str | None = None, *, k: int | None = None, mode: str | None = None,
            extractive: bool = False, on_text: Callable[[str], None] | None = None) -> Answer:
        return self.answerer(collection, mode=mode, extractive=extractive).answer(question, k=k, on_text=on_text)

    def chat_turn(self, question: str, collection: str | None = None, session_id: int | None = None, *,
                  k: int | None = None, mode: str | None = None, extractive: bool = False, generator=None,
                  on_text: Callable[[str], None] | None = None,
                  on_standalone: Callable[[str], None] | None = None) -> ChatTurn:
        """One turn of a stored chat: the follow-up made standalone, answered, and both recorded."""
        from rag.conversation import last_standalone, record_turn, start_session

        answerer = self.answerer(collection, mode=mode, extractive=extractive, generator=generator)
        if session_id is None:
            session_id = start_session(self.store, answerer.retriever.collection.id, question)
        standalone = self.standalone(answerer, question, last_standalone(self.store, session_id))
        if on_standalone is not None and standalone != question:
            on_standalone(standalone)
        answer = answerer.answer(standalone, k=k, on_text=on_text)
        record_turn(self.store, session_id, question, standalone, answer)
        return ChatTurn(session_id, question, standalone, answer)

    @staticmethod
    def standalone(answerer: Answerer, question: str, previous: str | None) -> str:
        from rag.conversation import rewrite_with_model, standalone_question

        generator = getattr(answerer, "generator", None)
        return (rewrite_with_model(generator, question, previous) if generator is not None
                else standalone_question(question, previous))

    def feedback(self, message_id: int, helpful: bool, comment: str = "") -> None:
        from rag.conversation import record_feedback

        record_feedback(self.store, message_id, helpful, comment)

    # -- reports -------------------------------------------------------------------------------
    def doctor_report(self) -> dict:
        from rag.doctor import report

        return report(self.settings)

    def eval_runs(self, limit: int = 100) -> list[dict]:
        """The newest evaluation runs with their metrics (not their per-item rows)."""
        with self.store.session() as session:
            return self.store.run_summaries(session, limit)

    # -- tuned models --------------------------------------------------------------------------
    def tuned_models(self, collection: str | None = None) -> list[dict]:
        """`rag tune` runs, newest first, each with its card; a run marked training that no process is training
        is shown as interrupted."""
        from rag.tuned_models import describe, is_running

        with self.store.session() as session:
            names = self.store.collection_names_by_id(session)
            coll_id = self.store.collection(session, collection).id if collection else None
            return [describe(row, names.get(row.collection_id, ""),
                             running=row.status == "training" and is_running(self.settings, row))
                    for row in self.store.tuned_models(session, coll_id)]

    def tuned_model(self, tuned_id: int) -> dict:
        found = [row for row in self.tuned_models() if row["id"] == tuned_id]
        if not found:
            raise ConfigError(f"no tuned model {tuned_id}; `rag tune list` shows them")
        return found[0]

    def use_tuned(self, tuned_id: int, *, force: bool = False, progress=None) -> str:
        """Makes the tuned model's collection use it; returns the collection's name. A model the gate rejected
        needs `force`."""
        from rag.tuned_models import check_files, load_tuned_embedder, switch_embedding_model

        with self.store.session() as session:
            row = self.store.tuned_model(session, tuned_id)
            if row is None:
                raise ConfigError(f"no tuned model {tuned_id}; `rag tune list` shows them")
            session.expunge(row)
            coll = self.store.collection_by_id(session, row.collection_id)
            session.expunge(coll)
        if row.status in ("training", "failed"):
            raise ConfigError(f"tuned model {tuned_id} did not finish training ({row.status}); rerun its "
                              "`rag tune` command to resume it")
        if row.status == "rejected" and not force:
            raise ConfigError(f"tuned model {tuned_id} was rejected by its gate "
                              f"({(row.card or {}).get('gate', {}).get('reason', '')}); add --force to use it anyway")
        if row.kind == "generator":
            model = self.active_model()
            if model is None or model.sha256 != row.base_sha256:
                raise ConfigError(f"tuned generator {tuned_id} was trained from {row.base_model} (SHA-256 "
                                  f"{row.base_sha256[:12]}...), not the model in use; `rag models use "
                                  f"{row.base_model}` first")
        if row.kind in ("reranker", "generator"):
            check_files(self.settings, row)
            with self.store.session() as session:
                self.store.set_adopted(session, coll.id, row.kind, row.id)
            return coll.name
        with self._writing:
            switch_embedding_model(self.store, self.settings, coll, load_tuned_embedder(self.settings, row), row,
                                   progress)
        return coll.name

    def revert_tuned(self, collection: str | None = None, kind: str = "embedder", progress=None) -> None:
        """The collection back on the configured (base) embedder, or without its tuned reranker or generator."""
        from rag.tuned_models import is_tuned, switch_embedding_model

        with self.store.session() as session:
            coll = self.store.collection(session, self.collection_name(collection))
            session.expunge(coll)
            if kind in ("reranker", "generator"):
                if self.store.adopted_model(session, coll.id, kind) is None:
                    raise ConfigError(f"collection {coll.name!r} uses no tuned {kind}")
                self.store.set_adopted(session, coll.id, kind, None)
                return
        if kind != "embedder":
            raise ConfigError(f"kind {kind!r}: use embedder, reranker or generator")
        if not is_tuned(coll.embedding_model):
            raise ConfigError(f"collection {coll.name!r} already uses its base embedder {coll.embedding_model!r}")
        with self._writing:
            switch_embedding_model(self.store, self.settings, coll, self.embedder, None, progress)

    # -- the library ---------------------------------------------------------------------------
    def documents(self, collection: str | None = None) -> list[dict]:
        """Typed listing rows (never the text) with the pages to check (`rag.library.flagged_pages`)."""
        from rag.library import flagged_pages

        with self.store.session() as session:
            coll = self.store.collection(session, self.collection_name(collection))
            records = self.store.document_listing(session, coll.id)
        for record in records:
            record["flagged_pages"] = flagged_pages(record.pop("page_stats"), self.settings.ingest)
        return records

    def delete_documents(self, collection: str | None, document_ids: list[int]) -> int:
        """Removes the documents and their chunks from the store and the index; the chunks removed."""
        from rag.library import delete_documents

        with self.store.session() as session:
            coll = self.store.collection(session, self.collection_name(collection))
            known = self.store.document_ids_in(session, coll.id, document_ids)
        missing = sorted(set(document_ids) - known)
        if missing:
            raise RagError(f"collection {coll.name!r} has no document with id {', '.join(map(str, missing))}")
        return delete_documents(self.store, self.settings, coll, document_ids)

    def save_upload(self, name: str, data: bytes) -> Path:
        """Stored under DATA_DIR/uploads/<content hash>/<safe name>: no name can escape the folder, and a
        different file with the same name never overwrites another."""
        folder = (self.settings.data_dir / "uploads").resolve()
        target = (folder / hashlib.sha256(data).hexdigest()[:16] / safe_name(name)).resolve()
        if not target.is_relative_to(folder):
            raise RagError(f"{name}: refused (the path leaves the upload folder)")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def ingest(self, paths: list[Path], collection: str | None = None,
               progress: Callable[[str, dict], None] | None = None, **options):
        """Parses, chunks, embeds and indexes the files (through the installed ingest package); `options` are
        the pipeline's (sync, dry_run, workers). Returns its summary."""
        found = list(entry_points(group="groundwork.ingest"))
        if not found:
            raise ConfigError("ingestion is not installed (the `ingest` package of groundwork-rag): reinstall "
                              "with `make install`")
        run = found[0].load()
        with self._writing:
            return run(self, [Path(p) for p in paths], self.collection_name(collection), progress, **options)

