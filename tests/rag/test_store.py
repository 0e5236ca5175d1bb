"""The store against SQLite and a real PostgreSQL server: schema, full-text search, embeddings."""

import numpy as np
import pytest
from sqlalchemy import inspect

from rag.errors import StoreError
from rag.store import Chunk, Document, Store


def _document(session, store, name="docs", source="/a.txt", texts=("alpha",)):
    coll = store.collection(session, name, create=True)
    doc = Document(collection_id=coll.id, source=source, sha256="0" * 64, size=1, mtime_ns=1, status="ingested")
    session.add(doc)
    session.flush()
    for i, t in enumerate(texts):
        session.add(Chunk(document_id=doc.id, ordinal=i, text=t, char_start=0, char_end=len(t), token_count=1,
                          content_hash=f"h{source}{i}"))
    session.flush()
    return coll, doc


def test_migrations_create_the_schema_and_are_idempotent(database_url):
    store = Store.open(database_url)
    store.migrate()  # a second upgrade is a no-op
    tables = set(inspect(store.engine).get_table_names())
    assert {"collections", "documents", "chunks", "embeddings", "ingest_runs", "index_generations"} <= tables


def test_lexical_search_ranks_matching_chunks_and_follows_deletes(database_url):
    store = Store.open(database_url)
    with store.session() as session:
        coll, doc = _document(session, store, texts=(
            "The Fresnel lens focuses lighthouse beams.", "Bees perform a waggle dance.", "Rain falls from clouds."))
    hits = store.lexical_search(coll.id, "waggle dance of bees", k=5)
    assert hits and hits[0][1] > 0
    with store.session() as session:
        top = session.get(Chunk, hits[0][0])
        assert "waggle" in top.text
        store.delete_document_chunks(session, doc.id)
    assert store.lexical_search(coll.id, "waggle dance", k=5) == []


def test_lexical_search_is_scoped_to_the_collection_and_tolerates_punctuation(database_url):
    store = Store.open(database_url)
    with store.session() as session:
        first, _ = _document(session, store, "one", "/1.txt", ("tidal range at Brest",))
        second, _ = _document(session, store, "two", "/2.txt", ("tidal range at Vigo",))
    assert len(store.lexical_search(first.id, 'tidal "range" (Brest) OR AND NOT*', k=5)) == 1
    assert store.lexical_search(second.id, "Brest", k=5) == []
    assert store.lexical_search(second.id, "?!", k=5) == []


def test_embeddings_round_trip_exactly_without_pickle(database_url):
    store = Store.open(database_url)
    vector = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    with store.session() as session:
        coll, _ = _document(session, store, texts=("x",))
        store.add_embeddings(session, "m", {"h/a.txt0": vector})
    with store.session() as session:
        ids, vectors = store.collection_vectors(session, coll.id, "m")
        assert store.known_embeddings(session, "m", ["h/a.txt0", "nope"]) == {"h/a.txt0"}
    assert len(ids) == 1 and np.array_equal(vectors[0], vector)


def test_unknown_collection_error_lists_the_known_ones(database_url):
    store = Store.open(database_url)
    with store.session() as session:
        store.collection(session, "papers", create=True)
    with pytest.raises(StoreError, match="papers"), store.session() as session:
        store.collection(session, "missing")


def test_unreachable_database_gives_a_clear_error():
    with pytest.raises(StoreError, match="RAG_DATABASE_URL"):
        Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_frequent_words_score_but_find_no_candidates_alone(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    texts = tuple(f"lighthouse keeper log entry {i}" for i in range(40)) + (
        "The Fresnel lens of the lighthouse.", "A Fresnel lens in a museum.")
    with store.session() as session:
        coll, _ = _document(session, store, texts=texts)
    exact = store.lexical_search(coll.id, "fresnel lighthouse", k=50)
    pruned = store.lexical_search(coll.id, "fresnel lighthouse", k=50, frequent_share=0.5)
    assert len(exact) == 42 and len(pruned) == 2  # "lighthouse" is in 41 of 42 chunks: it no longer finds alone
    assert [i for i, _ in pruned] == [i for i, _ in exact[:2]]  # same top hits, same order
    with store.session() as session:
        assert "lighthouse" in session.get(Chunk, pruned[0][0]).text  # the frequent word still scores
    # only frequent words: the two rarest still find candidates (here: exact search)
    assert store.lexical_search(coll.id, "lighthouse keeper", k=50, frequent_share=0.5) == \
        store.lexical_search(coll.id, "lighthouse keeper", k=50)


def test_neighbour_contexts_are_cut_from_the_document_text_in_one_query(database_url):
    """What retrieval's neighbour expansion shows: the exact text from the chunk before to the chunk after
    (including what lies between chunks), counted in characters, not bytes; one statement for every hit."""
    from sqlalchemy import event

    store = Store.open(database_url)
    text = "Première phrase — café. Second sentence here.\n\nThird one, über alles. Fourth and last."
    pieces = ["Première phrase — café.", "Second sentence here.", "Third one, über alles.", "Fourth and last."]
    with store.session() as session:
        coll = store.collection(session, "docs", create=True)
        doc = Document(collection_id=coll.id, source="/n.txt", sha256="0" * 64, size=1, mtime_ns=1,
                       status="ingested", text=text)
        session.add(doc)
        session.flush()
        chunks = []
        for i, piece in enumerate(pieces):
            start = text.index(piece)
            chunks.append(Chunk(document_id=doc.id, ordinal=i, text=piece, char_start=start,
                                char_end=start + len(piece), token_count=1, content_hash=f"n{i}"))
        session.add_all(chunks)
        session.flush()
        ids = [c.id for c in chunks]
    statements = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with store.session() as session:
        contexts = store.neighbour_contexts(session, ids, 1)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert contexts[ids[0]] == "Première phrase — café. Second sentence here."
    assert contexts[ids[2]] == "Second sentence here.\n\nThird one, über alles. Fourth and last."
    assert contexts[ids[3]] == "Third one, über alles. Fourth and last."
