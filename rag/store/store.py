"""Store: opens the database (pragmas, migrations) and answers the queries the rest of Groundwork needs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased, sessionmaker

from rag.errors import StoreError
from rag.store.chats import ChatQueries
from rag.store.ingest_writes import IngestWrites
from rag.store.runs import RunQueries
from rag.store.tables import ApiKey, Chunk, Collection, Document, Embedding, IndexGeneration, utcnow
from rag.store.tuning import TuningQueries

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that match nearly every chunk: they add almost nothing to BM25 but make an OR query scan the whole
# table. (PostgreSQL's 'english' configuration drops the same kind of words itself.)
STOPWORDS = frozenset(
    "a an and are as at be been but by can did do does for from had has have how i if in into is it its of "
    "on or that the their there these they this to was were what when where which who why will with".split()
)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def shown_url(url: str) -> str:
    """The database URL with its password hidden (for reports)."""
    return make_url(url).render_as_string(hide_password=True)


class Store(ChatQueries, IngestWrites, RunQueries, TuningQueries):
    """The SQL store. Cheap to construct; `open()` also brings the schema up to date."""

    def __init__(self, url: str):
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000} if self.dialect == "sqlite" else {}
        self.engine: Engine = create_engine(url, connect_args=connect_args)
        self._df_cache: dict[str, int] = {}
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        store = cls(url)
        store.migrate()
        return store

    def migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as exc:
            raise StoreError(
                f"cannot open the database at {self.url}: {exc.orig}. "
                "Check RAG_DATABASE_URL (or RAG_DATA_DIR) and that the server is running."
            ) from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def statement_seconds(self, while_: Callable[[], bool] = lambda: True) -> Iterator[list[tuple[float, str]]]:
        """Collects how long each SQL statement on this store takes, with its SQL (while `while_()` holds), for
        benchmarks: wall time from the driver call to its return, so a wait for a lock counts."""
        timed: list[tuple[float, str]] = []

        def before(_conn, _cursor, _statement, _parameters, context, _many):
            context._started_at = time.perf_counter()

        def after(_conn, _cursor, statement, _parameters, context, _many):
            if while_():
                timed.append((time.perf_counter() - context._started_at, statement))

        event.listen(self.engine, "before_cursor_execute", before)
        event.listen(self.engine, "after_cursor_execute", after)
        try:
            yield timed
        finally:
            event.remove(self.engine, "before_cursor_execute", before)
            event.remove(self.engine, "after_cursor_execute", after)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    # -- collections ---------------------------------------------------------------------------
    def collection_model(self, session: Session, name: str) -> str | None:
        """The embedding model a collection's vectors come from (None: no such collection or none yet)."""
        return session.scalar(select(Collection.embedding_model).where(Collection.name == name))

    def collection(self, session: Session, name: str, *, create: bool = False) -> Collection:
        found = session.scalar(select(Collection).where(Collection.name == name))
        if found is not None:
            return found
        if not create:
            known = ", ".join(session.scalars(select(Collection.name))) or "none yet"
            raise StoreError(f"no collection named {name!r} (collections: {known})")
        collection = Collection(name=name)
        session.add(collection)
        session.flush()
        return collection

    # -- lexical search ------------------------------------------------------------------------
    def lexical_search(self, collection_id: int, query: str, k: int, frequent_share: float = 0.0
                       ) -> list[tuple[int, float]]:
        """Best-matching chunk ids by BM25 (SQLite FTS5) or ts_rank_cd (PostgreSQL); higher is better.

        frequent_share > 0 (for large collections, SQLite): words found in more than that share of all chunks
        still add to the score but bring no candidates of their own. Scoring BM25 for every chunk that holds
        any query word is what makes FTS5 slow at 100k chunks; the rarer words find nearly the same top hits.
        """
        words = list(dict.fromkeys(_WORD.findall(query.lower())))
        words = [w for w in words if w not in STOPWORDS] or words
        if not words:
            return []
        if self.dialect == "postgresql":
            sql = text(
                "SELECT c.id, ts_rank_cd(c.tsv, q) AS score FROM chunks c "
                "JOIN documents d ON d.id = c.document_id, to_tsquery('english', :q) q "
                "WHERE d.collection_id = :cid AND c.tsv @@ q ORDER BY score DESC LIMIT :k"
            )
            params = {"q": " | ".join(words), "cid": collection_id, "k": k}
        else:
            sql = text(
                "SELECT c.id, -bm25(chunks_fts) AS score FROM chunks_fts "
                "JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id "
                "WHERE chunks_fts MATCH :q AND d.collection_id = :cid ORDER BY bm25(chunks_fts) LIMIT :k"
            )
            params = {"q": self._fts_query(words, frequent_share), "cid": collection_id, "k": k}
            if not params["q"]:
                return []
        with self.engine.connect() as connection:
            return [(int(row[0]), float(row[1])) for row in connection.execute(sql, params)]

    def _fts_query(self, words: list[str], frequent_share: float) -> str:
        def any_of(ws: list[str]) -> str:
            return " OR ".join(f'"{w}"' for w in ws)

        if not frequent_share:
            return any_of(words)
        total, df = self._document_frequencies(words)
        present = [w for w in words if df[w]]
        rare = [w for w in present if df[w] <= frequent_share * total] or sorted(present, key=df.get)[:2]
        if len(rare) == len(present):
            return any_of(present)
        return f"({any_of(rare)}) AND ({any_of(present)})"

    def _document_frequencies(self, words: list[str]) -> tuple[int, dict[str, int]]:
        """Chunks in the full-text index, and how many hold each word (cached until the index changes)."""
        with self.engine.connect() as connection:
            total = connection.scalar(text("SELECT count(*) FROM chunks")) or 0
            if self._df_cache.get("_total") != total:
                self._df_cache = {"_total": total}
            for word in words:
                if word not in self._df_cache:
                    self._df_cache[word] = connection.scalar(
                        text("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH :q"), {"q": f'"{word}"'})
        return total, {w: self._df_cache[w] for w in words}

    # -- embeddings and the index's view of the database ---------------------------------------
    def collection_vectors(
        self, session: Session, collection_id: int, model: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids int64, vectors float32) of every chunk in the collection, for an index rebuild."""
        rows = session.execute(
            select(Chunk.id, Embedding.vector, Embedding.dim)
            .join(Document, Document.id == Chunk.document_id)
            .join(
                Embedding,
                (Embedding.content_hash == Chunk.content_hash) & (Embedding.model == model),
            )
            .where(Document.collection_id == collection_id)
            .order_by(Chunk.id)
        ).all()
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
        return ids, vectors.astype(np.float32, copy=False)

    def collection_chunk_ids(self, session: Session, collection_id: int) -> np.ndarray:
        ids = session.scalars(
            select(Chunk.id)
            .join(Document, Document.id == Chunk.document_id)
            .where(Document.collection_id == collection_id)
        ).all()
        return np.asarray(ids, dtype=np.int64)

    def known_embeddings(self, session: Session, model: str, hashes: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(hashes), 500):
            part = hashes[start : start + 500]
            found.update(
                session.scalars(
                    select(Embedding.content_hash).where(
                        Embedding.model == model, Embedding.content_hash.in_(part)
                    )
                )
            )
        return found

    def vectors_for(self, session: Session, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            rows = session.execute(
                select(Embedding.content_hash, Embedding.vector).where(
                    Embedding.model == model, Embedding.content_hash.in_(hashes[start : start + 500])
                )
            )
            for content_hash, blob in rows:
                out[content_hash] = np.frombuffer(blob, dtype="<f4")
        return out

    def add_embeddings(self, session: Session, model: str, vectors: dict[str, np.ndarray]) -> None:
        session.add_all(
            Embedding(
                model=model,
                content_hash=h,
                dim=int(v.shape[0]),
                vector=np.asarray(v, dtype="<f4").tobytes(),
            )
            for h, v in vectors.items()
        )

    def current_manifest(self, session: Session, collection_id: int) -> IndexGeneration | None:
        return session.scalar(
            select(IndexGeneration)
            .where(IndexGeneration.collection_id == collection_id)
            .order_by(IndexGeneration.generation.desc())
            .limit(1)
        )

    def add_manifest(self, session: Session, manifest: IndexGeneration) -> None:
        session.add(manifest)
        session.flush()

    def delete_document_chunks(self, session: Session, document_id: int) -> list[int]:
        ids = list(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)))
        if ids:
            session.execute(delete(Chunk).where(Chunk.document_id == document_id))
        return ids

    def chunks_with_documents(self, session: Session, chunk_ids: list[int]) -> list[tuple[Chunk, Document]]:
        """The chunks with their documents (the documents' text is deferred: not loaded)."""
        return list(session.execute(select(Chunk, Document).join(Document, Document.id == Chunk.document_id)
                                    .where(Chunk.id.in_(chunk_ids))).tuples())

    def neighbour_contexts(self, session: Session, chunk_ids: list[int], neighbours: int) -> dict[int, str]:
        """chunk id -> the document text from the start of the chunk `neighbours` before it to the end of the
        one `neighbours` after it; one query for all, the text cut out by the database."""
        if not chunk_ids:
            return {}
        hit, around = aliased(Chunk), aliased(Chunk)
        spans = (select(hit.id.label("chunk_id"), hit.document_id.label("document_id"),
                        func.min(around.char_start).label("start"), func.max(around.char_end).label("end"))
                 .join(around, (around.document_id == hit.document_id)
                       & around.ordinal.between(hit.ordinal - neighbours, hit.ordinal + neighbours))
                 .where(hit.id.in_(chunk_ids)).group_by(hit.id, hit.document_id).subquery())
        rows = session.execute(select(spans.c.chunk_id, func.substr(Document.text, spans.c.start + 1,
                                                                    spans.c.end - spans.c.start))
                               .join(Document, Document.id == spans.c.document_id))
        return {chunk_id: text or "" for chunk_id, text in rows}

    def insert_rows(self, session: Session, table: type, rows: list[dict]) -> None:
        """Bulk insert (benchmarks build large synthetic collections this way)."""
        if rows:
            session.execute(insert(table), rows)

    def first_document_id(self, session: Session, collection_id: int) -> int | None:
        return session.scalar(select(func.min(Document.id)).where(Document.collection_id == collection_id))

    def document_texts(self, session: Session, collection_id: int) -> list[str]:
        """Every document's whole text (for making synthetic pairs; never for listings)."""
        return [t for t in session.scalars(select(Document.text).where(Document.collection_id == collection_id))
                if t]

    def total_pages(self, session: Session) -> int:
        return session.scalar(select(func.sum(func.coalesce(Document.page_count, 1)))) or 0

    def chunk_texts(self, session: Session) -> list[tuple[str, list[str] | None]]:
        """(text, section path) of every chunk in id order."""
        return list(session.execute(select(Chunk.text, Chunk.section_path).order_by(Chunk.id)).tuples())

    def document_chunks(self, session: Session, document_id: int) -> list[Chunk]:
        return list(session.scalars(select(Chunk).where(Chunk.document_id == document_id).order_by(Chunk.ordinal)))

    def document_ids_in(self, session: Session, collection_id: int, document_ids: list[int]) -> set[int]:
        """Which of these ids are documents of the collection (without listing the collection)."""
        return set(session.scalars(select(Document.id).where(Document.collection_id == collection_id,
                                                             Document.id.in_(document_ids))))

    def find_documents(self, session: Session, collection_id: int, pattern: str) -> list[Document]:
        """Documents whose id equals pattern, or whose source contains it."""
        query = select(Document).where(Document.collection_id == collection_id)
        if pattern.isdigit():
            return list(session.scalars(query.where(Document.id == int(pattern))))
        return list(session.scalars(query.where(Document.source.contains(pattern))))

    def delete_document(self, session: Session, collection_id: int, document_id: int) -> list[int] | None:
        """Deletes the document and its chunks; the chunk ids removed, or None when it is not in the collection."""
        document = session.get(Document, document_id)
        if document is None or document.collection_id != collection_id:
            return None
        removed = self.delete_document_chunks(session, document_id)
        session.delete(document)
        return removed

    def delete_collection(self, session: Session, collection: Collection) -> None:
        session.delete(collection)

    def document_listing(self, session: Session, collection_id: int) -> list[dict]:
        """One row per document with what a listing shows (never the text), chunks counted in a subquery:
        joining chunks and grouping would make the database carry each document's columns once per chunk."""
        chunks = (select(func.count(Chunk.id)).where(Chunk.document_id == Document.id)
                  .correlate(Document).scalar_subquery())
        rows = session.execute(
            select(Document.id, Document.source, Document.status, Document.filetype.label("type"),
                   Document.page_count.label("pages"), Document.title, Document.error, chunks.label("chunks"),
                   Document.notes, Document.page_stats)
            .where(Document.collection_id == collection_id).order_by(Document.source))
        return [dict(row._mapping) for row in rows]

    def count_chunks(self, session: Session, collection_id: int) -> int:
        return session.scalar(
            select(func.count(Chunk.id))
            .join(Document, Document.id == Chunk.document_id)
            .where(Document.collection_id == collection_id)
        ) or 0

    def collection_names(self, session: Session) -> list[str]:
        return list(session.scalars(select(Collection.name).order_by(Collection.name)))

    def collection_listing(self, session: Session) -> list[dict]:
        """Every collection with its document and chunk counts and embedding model."""
        documents = (select(func.count(Document.id)).where(Document.collection_id == Collection.id)
                     .correlate(Collection).scalar_subquery())
        rows = session.execute(select(Collection.id, Collection.name, Collection.embedding_model.label("model"),
                                      documents.label("documents")).order_by(Collection.name))
        return [{"id": r.id, "name": r.name, "documents": r.documents,
                 "chunks": self.count_chunks(session, r.id), "model": r.model} for r in rows]

    # -- API keys ------------------------------------------------------------------------------
    def add_api_key(self, session: Session, **fields) -> ApiKey:
        key = ApiKey(**fields)
        session.add(key)
        session.flush()
        return key

    def api_key_by_prefix(self, session: Session, prefix: str) -> ApiKey | None:
        return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)))

    def touch_api_key(self, session: Session, key_id: int) -> None:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))

    def api_keys(self, session: Session) -> list[ApiKey]:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))

    def revoke_api_key(self, session: Session, key: str) -> int:
        """Revokes the key with this id, prefix or name; how many were revoked."""
        condition = (ApiKey.prefix == key) | (ApiKey.name == key)
        if key.isdigit():
            condition |= ApiKey.id == int(key)
        found = list(session.scalars(select(ApiKey).where(condition, ApiKey.revoked_at.is_(None))))
        for row in found:
            row.revoked_at = utcnow()
        return len(found)
